"""Two-factor authentication: whether an account has it, the gate the
project-management pages sit behind, and the factors themselves: TOTP
authenticator apps, WebAuthn security keys and one-time recovery codes.

Views call these services; each raises TwoFactorError with a message for the
person, and records an account event for every change, by the ``actor`` it is
given (the ``request`` they take besides holds the session's enrolment state)."""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from functools import wraps

import pyotp
import segno
import webauthn
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.crypto import salted_hmac
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import PublicKeyCredentialDescriptor

from .events import Actor, record_event
from .models import RecoveryCode, User, WebAuthnCredential


def user_has_two_factor(user) -> bool:
    """True when the account has a second factor: an authenticator app or a
    security key (recovery codes alone are not one)."""
    return bool(user.totp_secret) or user.webauthn_credentials.exists()


def lacks_required_two_factor(user) -> bool:
    """Whether REQUIRE_2FA_TO_MANAGE (the default) keeps ``user`` out of the
    management pages and the admin until the account has 2FA."""
    return settings.REQUIRE_2FA_TO_MANAGE and not user_has_two_factor(user)


def send_to_add_two_factor(request, what: str):
    """Off to the 2FA settings, saying that ``what`` needs a second factor."""
    messages.info(
        request,
        f"{what} needs two-factor authentication. "
        "Add an authenticator app or a security key first.",
    )
    return redirect("two-factor")


def two_factor_required(view):
    """Sign-in, and with REQUIRE_2FA_TO_MANAGE (the default) 2FA on the
    account, before ``view`` runs; otherwise off to the 2FA settings."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if lacks_required_two_factor(request.user):
            return send_to_add_two_factor(request, "Managing projects")
        return view(request, *args, **kwargs)

    return wrapped


class TwoFactorError(Exception):
    """A refused 2FA action; ``message`` is for the person."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _first_factor_codes(user: User, actor: Actor) -> list[str] | None:
    """New recovery codes when ``user`` is about to get their first factor."""
    if user_has_two_factor(user):
        return None
    return recovery_codes_generate(user=user, actor=actor)


def _after_last_factor_removed(user: User) -> None:
    # Recovery codes stand in for a factor; with none left they would be a
    # way round a check that no longer exists, so they go too.
    if not user_has_two_factor(user):
        user.recovery_codes.all().delete()


# --- TOTP (RFC 6238): 30-second steps, 6 digits, one step either side ---------

TOTP_PERIOD = 30
TOTP_DIGITS = 6
TOTP_PENDING_SESSION_KEY = "two_factor_totp_pending"


def totp_pending_secret(request: HttpRequest) -> str:
    """The secret being enrolled in this session (made on first call): it only
    reaches the account once a code from it has been entered."""
    secret = request.session.get(TOTP_PENDING_SESSION_KEY)
    if not secret:
        secret = pyotp.random_base32()
        request.session[TOTP_PENDING_SESSION_KEY] = secret
    return secret


def totp_provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).provisioning_uri(
        name=user.username, issuer_name=settings.SITE_NAME
    )


def totp_qr_svg(uri: str) -> str:
    """The URI as an SVG QR code, drawn here so the secret never leaves the site."""
    return segno.make(uri, error="m").svg_inline(scale=5, title="QR code for your authenticator")


def totp_match_step(secret: str, code: str, *, after: int | None, now: float) -> int | None:
    """The time step (around ``now``) whose code is ``code`` and that is later
    than ``after``, or None."""
    code = "".join(code.split())
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD)
    current = int(now // TOTP_PERIOD)
    for step in (current - 1, current, current + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def totp_enable(*, user: User, actor: Actor, request: HttpRequest, code: str) -> list[str] | None:
    """Store the session's pending secret once ``code`` proves the
    authenticator has it. Returns new recovery codes if this is the first factor."""
    if user.has_totp:
        raise TwoFactorError("An authenticator app is already set up.")
    secret = request.session.get(TOTP_PENDING_SESSION_KEY)
    if not secret:
        raise TwoFactorError("The set-up expired; scan the new code and try again.")
    step = totp_match_step(secret, code, after=None, now=time.time())
    if step is None:
        raise TwoFactorError("That code is not right. Check the clock of your device.")
    with transaction.atomic():
        codes = _first_factor_codes(user, actor)
        user.totp_secret, user.totp_last_step = secret, step
        user.save(update_fields=["totp_secret", "totp_last_step"])
        record_event("account:two-factor:totp-added", actor=actor, user=user)
    del request.session[TOTP_PENDING_SESSION_KEY]
    return codes


def totp_verify(*, user: User, code: str) -> bool:
    """Accept a code of ``user``'s authenticator once: its time step must be
    later than the last accepted one."""
    if not user.has_totp:
        return False
    step = totp_match_step(user.totp_secret, code, after=user.totp_last_step, now=time.time())
    if step is None:
        return False
    # Conditional UPDATE: of two requests carrying the same code at once,
    # only one finds the old step still below this one.
    accepted = (
        User.objects.filter(pk=user.pk)
        .filter(Q(totp_last_step__isnull=True) | Q(totp_last_step__lt=step))
        .update(totp_last_step=step)
    )
    user.totp_last_step = step
    return accepted == 1


def totp_disable(*, user: User, actor: Actor) -> None:
    with transaction.atomic():
        user.totp_secret, user.totp_last_step = "", None
        user.save(update_fields=["totp_secret", "totp_last_step"])
        _after_last_factor_removed(user)
        record_event("account:two-factor:totp-removed", actor=actor, user=user)


# --- Recovery codes ------------------------------------------------------------

RECOVERY_CODE_COUNT = 8
NEW_RECOVERY_CODES_SESSION_KEY = "two_factor_new_recovery_codes"


def _recovery_digest(code: str) -> str:
    normalized = "".join(ch for ch in code.lower() if ch in "0123456789abcdef")
    return hashlib.sha256(normalized.encode()).hexdigest()


def recovery_codes_generate(*, user: User, actor: Actor) -> list[str]:
    """Replace ``user``'s recovery codes with new ones and return them, for
    showing once: only their SHA-256 is kept."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = secrets.token_hex(8)
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    with transaction.atomic():
        user.recovery_codes.all().delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user=user, code_digest=_recovery_digest(code)) for code in codes
        )
        record_event("account:two-factor:recovery-codes-generated", actor=actor, user=user)
    return codes


def recovery_code_use(*, user: User, code: str, actor: Actor) -> bool:
    """Spend one of ``user``'s recovery codes; False if it is unknown or spent."""
    # Conditional UPDATE: of two concurrent uses of one code only one
    # finds it still unused.
    spent = RecoveryCode.objects.filter(
        user=user, code_digest=_recovery_digest(code), used_at__isnull=True
    ).update(used_at=timezone.now())
    if spent:
        record_event("account:two-factor:recovery-code-used", actor=actor, user=user)
    return spent == 1


def recovery_codes_remaining(user: User) -> int:
    return user.recovery_codes.filter(used_at__isnull=True).count()


# --- WebAuthn security keys ----------------------------------------------------

WEBAUTHN_CHALLENGE_SESSION_KEY = "two_factor_webauthn_challenge"


def webauthn_rp_id(request: HttpRequest) -> str:
    if settings.WEBAUTHN_RP_ID:
        return settings.WEBAUTHN_RP_ID
    domain, _port = split_domain_port(request.get_host())
    return domain


def webauthn_origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _user_handle(user: User) -> bytes:
    # Stable per account and meaningless outside this site (WebAuthn asks for
    # no personal data in the user handle).
    return salted_hmac("accounts.webauthn.user-handle", str(user.pk)).digest()[:32]


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(key.credential_id))
        for key in user.webauthn_credentials.all()
    ]


def _take_challenge(request: HttpRequest) -> bytes:
    """The session's challenge, usable once."""
    challenge = request.session.pop(WEBAUTHN_CHALLENGE_SESSION_KEY, None)
    if not challenge:
        raise TwoFactorError("The security key request expired; try again.")
    return webauthn.base64url_to_bytes(challenge)


def webauthn_registration_options(*, user: User, request: HttpRequest) -> str:
    """Options for navigator.credentials.create(), as JSON; the challenge is
    kept in the session."""
    options = webauthn.generate_registration_options(
        rp_id=webauthn_rp_id(request),
        rp_name=settings.SITE_NAME,
        user_name=user.username,
        user_id=_user_handle(user),
        exclude_credentials=_descriptors(user),
    )
    request.session[WEBAUTHN_CHALLENGE_SESSION_KEY] = bytes_to_base64url(options.challenge)
    return webauthn.options_to_json(options)


def webauthn_register(
    *, user: User, actor: Actor, request: HttpRequest, label: str, credential: dict
) -> tuple[WebAuthnCredential, list[str] | None]:
    """Verify the browser's answer to the registration options and store the
    key under ``label``. Returns it and, for a first factor, new recovery codes."""
    label = label.strip()
    if not label or len(label) > 64:
        raise TwoFactorError("Give the key a name of 1 to 64 characters.")
    if user.webauthn_credentials.filter(label=label).exists():
        raise TwoFactorError("You already have a key with that name.")
    challenge = _take_challenge(request)
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=webauthn_rp_id(request),
            expected_origin=webauthn_origin(request),
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise TwoFactorError(f"The security key could not be verified: {exc}") from exc
    credential_id = bytes_to_base64url(verified.credential_id)
    if WebAuthnCredential.objects.filter(credential_id=credential_id).exists():
        raise TwoFactorError("This security key is already registered.")
    transports = credential.get("response", {}).get("transports")
    with transaction.atomic():
        codes = _first_factor_codes(user, actor)
        key = WebAuthnCredential.objects.create(
            user=user,
            label=label,
            credential_id=credential_id,
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count,
            transports=[t for t in transports if isinstance(t, str)]
            if isinstance(transports, list)
            else [],
        )
        record_event("account:two-factor:webauthn-added", actor=actor, user=user, label=label)
    return key, codes


def webauthn_authentication_options(*, user: User, request: HttpRequest) -> str:
    """Options for navigator.credentials.get() with ``user``'s keys, as JSON."""
    options = webauthn.generate_authentication_options(
        rp_id=webauthn_rp_id(request), allow_credentials=_descriptors(user)
    )
    request.session[WEBAUTHN_CHALLENGE_SESSION_KEY] = bytes_to_base64url(options.challenge)
    return webauthn.options_to_json(options)


def webauthn_authenticate(*, user: User, request: HttpRequest, credential: dict) -> None:
    """Verify an assertion by one of ``user``'s keys (TwoFactorError if not)."""
    challenge = _take_challenge(request)
    key = user.webauthn_credentials.filter(credential_id=str(credential.get("id", ""))).first()
    if key is None:
        raise TwoFactorError("This security key is not registered to the account.")
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=webauthn_rp_id(request),
            expected_origin=webauthn_origin(request),
            credential_public_key=webauthn.base64url_to_bytes(key.public_key),
            credential_current_sign_count=key.sign_count,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise TwoFactorError(f"The security key could not be verified: {exc}") from exc
    WebAuthnCredential.objects.filter(pk=key.pk).update(
        sign_count=verified.new_sign_count, last_used_at=timezone.now()
    )


def webauthn_remove(*, key: WebAuthnCredential, actor: Actor) -> None:
    user = key.user
    with transaction.atomic():
        key.delete()
        _after_last_factor_removed(user)
        record_event("account:two-factor:webauthn-removed", actor=actor, user=user, label=key.label)


# --- The second step of signing in -----------------------------------------------

LOGIN_PENDING_SESSION_KEY = "two_factor_login"


@dataclass(frozen=True)
class PendingLogin:
    user: User
    backend: str
    next_url: str


def login_pending_start(*, request: HttpRequest, user: User, next_url: str) -> None:
    """Remember that ``user`` gave the right password: the session signs in
    only after a second factor, within TWO_FACTOR_LOGIN_MAX_AGE seconds."""
    request.session[LOGIN_PENDING_SESSION_KEY] = {
        "user": user.pk,
        "backend": user.backend,
        "at": time.time(),
        "next": next_url,
    }


def login_pending(request: HttpRequest) -> PendingLogin | None:
    """The sign-in waiting for its second factor, or None (expired ones are dropped)."""
    state = request.session.get(LOGIN_PENDING_SESSION_KEY)
    if not state:
        return None
    user = User.objects.filter(pk=state["user"], is_active=True).first()
    if user is None or time.time() - state["at"] > settings.TWO_FACTOR_LOGIN_MAX_AGE:
        del request.session[LOGIN_PENDING_SESSION_KEY]
        return None
    return PendingLogin(user=user, backend=state["backend"], next_url=state["next"])


def login_pending_clear(request: HttpRequest) -> None:
    request.session.pop(LOGIN_PENDING_SESSION_KEY, None)
    request.session.pop(WEBAUTHN_CHALLENGE_SESSION_KEY, None)
