/*
 * Security keys (WebAuthn) for forms marked data-webauthn="register" or
 * data-webauthn="authenticate".
 *
 * On submit: POST (with the form's CSRF token) to data-options-url for the
 * server's options, convert their base64url fields to bytes, ask the browser
 * (navigator.credentials.create or .get), convert the answer back to
 * base64url JSON and POST it to data-verify-url. The server answers
 * {"redirect": url} on success or {"error": message}, which is shown in the
 * form's [data-webauthn-error] element (a role="alert" region).
 */
(function () {
  "use strict";

  function toBytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = window.atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(descriptors) {
    return (descriptors || []).map(function (descriptor) {
      return Object.assign({}, descriptor, { id: toBytes(descriptor.id) });
    });
  }

  function post(url, form, body) {
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.text().then(function (text) {
        var data;
        try {
          data = JSON.parse(text);
        } catch (error) {
          // A 429 or a server error answers in plain text.
          data = { error: text.trim() || response.statusText };
        }
        if (!response.ok && !data.error) {
          data = { error: response.statusText || "The server refused the request." };
        }
        if (data.error) {
          throw new Error(data.error);
        }
        return data;
      });
    });
  }

  function creationOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    options.excludeCredentials = withIds(options.excludeCredentials);
    return { publicKey: options };
  }

  function requestOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.allowCredentials = withIds(options.allowCredentials);
    return { publicKey: options };
  }

  function registrationJSON(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        attestationObject: toBase64url(response.attestationObject),
        transports: response.getTransports ? response.getTransports() : [],
      },
    };
  }

  function assertionJSON(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        authenticatorData: toBase64url(response.authenticatorData),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : undefined,
      },
    };
  }

  function run(form) {
    var mode = form.getAttribute("data-webauthn");
    var label = form.querySelector("input[name=label]");
    if (label && !label.value.trim()) {
      label.focus();
      return Promise.reject(new Error("Give the key a name first."));
    }
    return post(form.getAttribute("data-options-url"), form).then(function (options) {
      if (mode === "register") {
        return navigator.credentials.create(creationOptions(options)).then(function (credential) {
          return post(form.getAttribute("data-verify-url"), form, {
            label: label ? label.value : "",
            credential: registrationJSON(credential),
          });
        });
      }
      return navigator.credentials.get(requestOptions(options)).then(function (credential) {
        return post(form.getAttribute("data-verify-url"), form, {
          credential: assertionJSON(credential),
        });
      });
    });
  }

  function setUp(form) {
    var errorBox = form.querySelector("[data-webauthn-error]");
    var button = form.querySelector("button[type=submit]");
    if (!window.PublicKeyCredential || !navigator.credentials) {
      errorBox.textContent = "This browser cannot use security keys.";
      button.disabled = true;
      return;
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      errorBox.textContent = "";
      button.disabled = true;
      run(form)
        .then(function (result) {
          window.location.assign(result.redirect);
        })
        .catch(function (error) {
          // NotAllowedError: the person cancelled or the key timed out.
          if (error && error.name === "NotAllowedError") {
            errorBox.textContent =
              "The security key was not used (cancelled or timed out). Try again.";
          } else if (error && error.name === "SecurityError") {
            // The browser refuses keys on an IP address or a name that is not this site's.
            errorBox.textContent =
              "Security keys work only on this site's own domain name (not an IP address).";
          } else {
            errorBox.textContent =
              (error && error.message) || "The security key could not be used.";
          }
          button.disabled = false;
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var forms = document.querySelectorAll("form[data-webauthn]");
    for (var i = 0; i < forms.length; i++) {
      setUp(forms[i]);
    }
  });
})();
