/*
 * Progressive enhancement only; every page works without this file.
 *
 * - Copy buttons: every element with data-copy-label (install commands,
 *   hashes) gets a "Copy" button after it; the label names what it copies
 *   for screen readers, and a polite live region says whether it worked.
 * - Search suggestions: every input with data-suggest="<url>" gets a
 *   <datalist> filled from that URL's {"suggestions": [{"name", "url"}]},
 *   so the browser offers the names natively (keyboard and screen readers
 *   included). Submitting the form still runs a normal search.
 * - Wide tables in a README scroll inside their box; the sanitized HTML
 *   can't carry a tabindex, so one is added here to those that do scroll,
 *   letting a keyboard scroll them too.
 */
(function () {
  "use strict";

  var SUGGEST_DELAY_MS = 150;
  var SUGGEST_MIN_LENGTH = 2;
  var liveRegion = null;

  function announce(message) {
    if (!liveRegion) {
      liveRegion = document.createElement("div");
      liveRegion.className = "visually-hidden";
      liveRegion.setAttribute("role", "status");
      liveRegion.setAttribute("aria-live", "polite");
      document.body.appendChild(liveRegion);
    }
    liveRegion.textContent = "";
    // A change after a tick is announced even when the text repeats.
    window.setTimeout(function () {
      liveRegion.textContent = message;
    }, 50);
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-HTTP origins (a private index on a LAN) have no clipboard API.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "absolute";
      area.style.left = "-9999px";
      document.body.appendChild(area);
      area.select();
      try {
        if (document.execCommand("copy")) {
          resolve();
        } else {
          reject(new Error("copy refused"));
        }
      } catch (error) {
        reject(error);
      } finally {
        document.body.removeChild(area);
      }
    });
  }

  function addCopyButtons() {
    var sources = document.querySelectorAll("[data-copy-label]");
    Array.prototype.forEach.call(sources, function (source) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn--small cmd__copy";
      button.textContent = "Copy";
      button.setAttribute("aria-label", source.getAttribute("data-copy-label"));
      button.addEventListener("click", function () {
        copyText(source.textContent.trim()).then(
          function () {
            button.textContent = "Copied";
            announce("Copied to the clipboard.");
            window.setTimeout(function () {
              button.textContent = "Copy";
            }, 2000);
          },
          function () {
            announce("Copying failed; select the text and copy it instead.");
          }
        );
      });
      source.insertAdjacentElement("afterend", button);
    });
  }

  function addSuggestions() {
    if (!window.fetch) {
      return;
    }
    var inputs = document.querySelectorAll("input[data-suggest]");
    Array.prototype.forEach.call(inputs, function (input) {
      var url = input.getAttribute("data-suggest");
      var list = document.createElement("datalist");
      var timer = null;
      var controller = null;
      var lastQuery = "";
      list.id = input.id + "-suggestions";
      input.insertAdjacentElement("afterend", list);
      input.setAttribute("list", list.id);

      function show(suggestions) {
        while (list.firstChild) {
          list.removeChild(list.firstChild);
        }
        suggestions.forEach(function (suggestion) {
          var option = document.createElement("option");
          option.value = suggestion.name;
          list.appendChild(option);
        });
      }

      function fetchSuggestions(query) {
        if (controller) {
          controller.abort();
        }
        controller = window.AbortController ? new AbortController() : null;
        fetch(url + "?q=" + encodeURIComponent(query), {
          headers: { Accept: "application/json" },
          signal: controller ? controller.signal : undefined,
        })
          .then(function (response) {
            return response.ok ? response.json() : { suggestions: [] };
          })
          .then(function (data) {
            show(Array.isArray(data.suggestions) ? data.suggestions : []);
          })
          .catch(function () {
            // Aborted by a newer query, or the network: the form still works.
          });
      }

      input.addEventListener("input", function () {
        var query = input.value.trim();
        window.clearTimeout(timer);
        if (query.length < SUGGEST_MIN_LENGTH || query === lastQuery) {
          return;
        }
        timer = window.setTimeout(function () {
          lastQuery = query;
          fetchSuggestions(query);
        }, SUGGEST_DELAY_MS);
      });
    });
  }

  function focusScrollingBoxes() {
    var boxes = document.querySelectorAll(".description table");
    Array.prototype.forEach.call(boxes, function (box) {
      if (box.scrollWidth > box.clientWidth) {
        box.setAttribute("tabindex", "0");
      } else {
        box.removeAttribute("tabindex");
      }
    });
  }

  function init() {
    var resizeTimer = null;
    addCopyButtons();
    addSuggestions();
    focusScrollingBoxes();
    window.addEventListener("resize", function () {
      window.clearTimeout(resizeTimer);
      resizeTimer = window.setTimeout(focusScrollingBoxes, 200);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
