"""Two-factor authentication: whether an account has it, and the gate the
project-management pages sit behind. (TOTP, WebAuthn and recovery codes
themselves: see the rest of this module.)"""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect


def user_has_two_factor(user) -> bool:
    """True when the account has a second factor: an authenticator app or a
    security key (recovery codes alone are not one)."""
    return bool(user.totp_secret) or user.webauthn_credentials.exists()


def two_factor_required(view):
    """Sign-in, and with REQUIRE_2FA_TO_MANAGE (the default) 2FA on the
    account, before ``view`` runs; otherwise off to the 2FA settings."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if settings.REQUIRE_2FA_TO_MANAGE and not user_has_two_factor(request.user):
            messages.info(
                request,
                "Managing projects needs two-factor authentication. "
                "Add an authenticator app or a security key first.",
            )
            return redirect("two-factor")
        return view(request, *args, **kwargs)

    return wrapped
