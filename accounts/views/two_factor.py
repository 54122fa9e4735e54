"""Two-factor pages: the account's 2FA settings (authenticator app, security
keys, recovery codes) and the second step of signing in. The rules are in
accounts.two_factor; the security-key ceremonies run in static/js/webauthn.js,
which talks JSON to the endpoints here."""

import json

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.ratelimit import limit_hit, limit_wait, too_many_requests

from .. import two_factor as tf
from ..events import Actor, record_event
from ..forms import PasswordConfirmForm, RecoveryCodeForm, TotpCodeForm
from ..models import WebAuthnCredential
from .accounts import login_limits, too_many_attempts


def _json_body(request: HttpRequest) -> dict | None:
    try:
        body = json.loads(request.body)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _json_error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _options_response(options_json: str) -> HttpResponse:
    return HttpResponse(options_json, content_type="application/json")


def _new_codes_page(request: HttpRequest, codes: list[str] | None, done: str) -> str:
    """Where to go after a change: the new recovery codes (shown once) if
    there are some, else the 2FA settings."""
    messages.success(request, done)
    if codes is None:
        return reverse("two-factor")
    request.session[tf.NEW_RECOVERY_CODES_SESSION_KEY] = codes
    return reverse("two-factor-recovery-codes")


# --- The account's 2FA settings ------------------------------------------------


@never_cache
@login_required
@require_GET
def two_factor(request):
    user = request.user
    context = {
        "has_two_factor": tf.user_has_two_factor(user),
        "keys": user.webauthn_credentials.all(),
        "recovery_remaining": tf.recovery_codes_remaining(user),
        "recovery_total": user.recovery_codes.count(),
    }
    return render(request, "accounts/two_factor.html", context)


@sensitive_post_parameters("code")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def totp_add(request):
    user = request.user
    if user.has_totp:
        messages.info(request, "An authenticator app is already set up; remove it first.")
        return redirect("two-factor")
    form = TotpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = tf.totp_enable(
                user=user,
                actor=Actor.from_request(request),
                request=request,
                code=form.cleaned_data["code"],
            )
        except tf.TwoFactorError as exc:
            form.add_error("code", exc.message)
        else:
            return redirect(_new_codes_page(request, codes, "Your authenticator app is set up."))
    secret = tf.totp_pending_secret(request)
    uri = tf.totp_provisioning_uri(user, secret)
    context = {"form": form, "secret": secret, "qr_svg": tf.totp_qr_svg(uri)}
    return render(request, "accounts/two_factor_totp_add.html", context)


@sensitive_post_parameters("password")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def totp_remove(request):
    user = request.user
    if not user.has_totp:
        return redirect("two-factor")
    form = PasswordConfirmForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        tf.totp_disable(user=user, actor=Actor.from_request(request))
        messages.success(request, "The authenticator app is removed from your account.")
        return redirect("two-factor")
    context = {
        "form": form,
        "what": "your authenticator app",
        "action": reverse("two-factor-totp-remove"),
    }
    return render(request, "accounts/two_factor_remove.html", context)


@never_cache
@login_required
@require_GET
def webauthn_add(request):
    return render(request, "accounts/two_factor_webauthn_add.html")


@never_cache
@login_required
@require_POST
def webauthn_add_options(request):
    return _options_response(tf.webauthn_registration_options(user=request.user, request=request))


@never_cache
@login_required
@require_POST
def webauthn_add_verify(request):
    body = _json_body(request)
    if body is None or not isinstance(body.get("credential"), dict):
        return _json_error("Send the label and the credential as a JSON object.")
    try:
        key, codes = tf.webauthn_register(
            user=request.user,
            actor=Actor.from_request(request),
            request=request,
            label=str(body.get("label", "")),
            credential=body["credential"],
        )
    except tf.TwoFactorError as exc:
        return _json_error(exc.message)
    done = f"The security key “{key.label}” is added."
    return JsonResponse({"redirect": _new_codes_page(request, codes, done)})


@sensitive_post_parameters("password")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def webauthn_remove(request, pk: int):
    key = get_object_or_404(WebAuthnCredential, pk=pk, user=request.user)
    form = PasswordConfirmForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        tf.webauthn_remove(key=key, actor=Actor.from_request(request))
        messages.success(request, f"The security key “{key.label}” is removed.")
        return redirect("two-factor")
    context = {
        "form": form,
        "what": f"the security key “{key.label}”",
        "action": reverse("two-factor-webauthn-remove", args=[key.pk]),
    }
    return render(request, "accounts/two_factor_remove.html", context)


@sensitive_post_parameters("password")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def recovery_codes(request):
    """New codes are shown here once (after a first factor or a regeneration);
    otherwise the page offers to replace them, password first."""
    user = request.user
    codes = request.session.pop(tf.NEW_RECOVERY_CODES_SESSION_KEY, None)
    if codes:
        return render(request, "accounts/two_factor_recovery_codes.html", {"codes": codes})
    if not tf.user_has_two_factor(user):
        messages.info(request, "Recovery codes come with an authenticator app or a security key.")
        return redirect("two-factor")
    form = PasswordConfirmForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        codes = tf.recovery_codes_generate(user=user, actor=Actor.from_request(request))
        return redirect(_new_codes_page(request, codes, "New recovery codes are made."))
    context = {"form": form, "remaining": tf.recovery_codes_remaining(user)}
    return render(request, "accounts/two_factor_recovery_regenerate.html", context)


# --- The second step of signing in ---------------------------------------------

LOGIN_METHODS = {"totp": TotpCodeForm, "recovery": RecoveryCodeForm}


def _complete_login(request: HttpRequest, pending: tf.PendingLogin) -> str:
    tf.login_pending_clear(request)
    login(request, pending.user, backend=pending.backend)
    return pending.next_url


def _second_factor_failed(request: HttpRequest, pending: tf.PendingLogin, method: str) -> None:
    record_event(
        "account:login:two-factor-failure",
        actor=Actor.from_request(request),
        user=pending.user,
        method=method,
    )
    limit_hit(login_limits(request, pending.user.username))


def _expired(request: HttpRequest) -> HttpResponse:
    messages.error(
        request, "Signing in took too long, or was not started here. Enter your password again."
    )
    return redirect("login")


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_two_factor(request):
    pending = tf.login_pending(request)
    if pending is None:
        return _expired(request)
    forms = {method: form(prefix=method) for method, form in LOGIN_METHODS.items()}
    if request.method == "POST":
        method = request.POST.get("method")
        if method not in LOGIN_METHODS:
            return HttpResponseBadRequest("Unknown second factor.")
        wait = limit_wait(login_limits(request, pending.user.username))
        if wait is not None:
            return too_many_attempts(request, wait)
        form = forms[method] = LOGIN_METHODS[method](request.POST, prefix=method)
        if form.is_valid():
            code = form.cleaned_data["code"]
            if method == "totp":
                accepted = tf.totp_verify(user=pending.user, code=code)
            else:
                accepted = tf.recovery_code_use(
                    user=pending.user, code=code, actor=Actor.from_request(request)
                )
            if accepted:
                return redirect(_complete_login(request, pending))
            form.add_error("code", "That code is not right, or was used already.")
        _second_factor_failed(request, pending, method)
    context = {
        "pending_user": pending.user,
        "totp_form": forms["totp"] if pending.user.has_totp else None,
        "recovery_form": forms["recovery"],
        "has_keys": pending.user.webauthn_credentials.exists(),
    }
    return render(request, "accounts/login_two_factor.html", context)


@never_cache
@require_POST
def login_webauthn_options(request):
    pending = tf.login_pending(request)
    if pending is None:
        return _json_error("Signing in took too long; enter your password again.")
    return _options_response(tf.webauthn_authentication_options(user=pending.user, request=request))


@never_cache
@require_POST
def login_webauthn_verify(request):
    pending = tf.login_pending(request)
    if pending is None:
        return _json_error("Signing in took too long; enter your password again.")
    wait = limit_wait(login_limits(request, pending.user.username))
    if wait is not None:
        return too_many_requests(wait)
    body = _json_body(request)
    try:
        if body is None or not isinstance(body.get("credential"), dict):
            raise tf.TwoFactorError("Send the credential as a JSON object.")
        tf.webauthn_authenticate(user=pending.user, request=request, credential=body["credential"])
    except tf.TwoFactorError as exc:
        _second_factor_failed(request, pending, "webauthn")
        return _json_error(exc.message)
    return JsonResponse({"redirect": _complete_login(request, pending)})
