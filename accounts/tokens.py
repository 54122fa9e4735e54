"""API tokens: minted, matched and revoked here, for the command, the web UI and
the upload endpoint alike. Which token may upload where, and in which state, is
the upload's rule (packages.policy)."""

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from .events import SYSTEM, Actor, record_event
from .models import ApiToken, User

TOKEN_PREFIX = "pypi-"  # noqa: S105 (a prefix, not a secret)
# Username twine and uv send with a token, as on the public index.
TOKEN_USERNAME = "__token__"  # noqa: S105 (a username, not a secret)
_LOOKUP_BYTES = 8  # 16 hex characters
_SECRET_BYTES = 32
_LOOKUP_ID = re.compile(f"[0-9a-f]{{{2 * _LOOKUP_BYTES}}}")


class TokenError(Exception):
    """The credential is not a usable token; the message says why."""


@dataclass(frozen=True)
class MintedToken:
    token: ApiToken
    secret: str  # the whole token string, shown once and never stored


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_create(
    *,
    user: User,
    description: str = "",
    projects: Iterable = (),
    expires_at: datetime | None = None,
    actor: Actor = SYSTEM,
    trusted_publisher=None,
) -> MintedToken:
    lookup_id = secrets.token_hex(_LOOKUP_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    projects = list(projects)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            description=description,
            lookup_id=lookup_id,
            secret_digest=_digest(secret),
            expires_at=expires_at,
            scoped=bool(projects),
            trusted_publisher=trusted_publisher,
        )
        token.projects.set(projects)
        record_event(
            "account:token:created",
            actor=actor,
            user=user,
            token=token_display_prefix(token),
            description=description,
            scope=sorted(project.name for project in projects) if projects else "user",
            expires_at=expires_at.isoformat() if expires_at else None,
        )
    return MintedToken(token=token, secret=f"{TOKEN_PREFIX}{lookup_id}_{secret}")


def token_display_prefix(token: ApiToken) -> str:
    """What may be shown of a token after its creation: the prefix and lookup id."""
    return f"{TOKEN_PREFIX}{token.lookup_id}"


def _split(raw: str) -> tuple[str, str]:
    raw = raw.strip()
    if not raw.startswith(TOKEN_PREFIX):
        raise TokenError("Invalid API token: it does not start with 'pypi-'.")
    lookup_id, sep, secret = raw[len(TOKEN_PREFIX) :].partition("_")
    # The lookup id is what goes into a query: only what api_token_create makes
    # (lowercase hex) gets that far, so a NUL can't reach PostgreSQL.
    if not sep or _LOOKUP_ID.fullmatch(lookup_id) is None:
        raise TokenError("Invalid API token: malformed.")
    return lookup_id, secret


def _match(lookup_id: str, secret: str) -> ApiToken | None:
    token = ApiToken.objects.select_related("user").filter(lookup_id=lookup_id).first()
    # Compare even when no row matched, so timing tells nothing about ids.
    expected = token.secret_digest if token else _digest("")
    if not hmac.compare_digest(expected, _digest(secret)) or token is None:
        return None
    return token


def api_token_find(raw: str) -> ApiToken | None:
    """The token whose whole secret is ``raw``, whatever its state (revoked,
    expired), or None. For leak reports: a right lookup id with a wrong secret
    is not a match, so nobody can revoke others' tokens by guessing ids."""
    try:
        lookup_id, secret = _split(raw)
    except TokenError:
        return None
    return _match(lookup_id, secret)


def api_token_match(raw: str) -> ApiToken:
    """The token whose whole secret is ``raw``, whatever its state, or
    TokenError when ``raw`` is malformed or no token's."""
    token = _match(*_split(raw))
    if token is None:
        raise TokenError("Invalid or non-existent authentication information.")
    return token


# How stale "last used" may be. The tokens page shows it to the minute; a
# twine upload of many files writes it once, not once per file (a write, and
# on PostgreSQL a commit, on each request).
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_token_record_use(token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def api_token_revoke(
    token: ApiToken,
    *,
    actor: Actor = SYSTEM,
    leak: dict[str, str] | None = None,
) -> bool:
    """Revoke the token; True when this call did it, False when it already was.

    The conditional UPDATE lets two revocations racing (the owner's click and a
    leak report, or a code host's retried report) agree on one winner, so only
    one event is written and one e-mail sent. ``leak`` (url, source) marks a
    revocation by secret scanning: the event is account:token:leaked.
    """
    now = timezone.now()
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if not revoked:
            token.refresh_from_db(fields=["revoked_at"])
            return False
        token.revoked_at = now
        record_event(
            "account:token:leaked" if leak is not None else "account:token:revoked",
            actor=actor,
            user=token.user,
            token=token_display_prefix(token),
            description=token.description,
            **(leak or {}),
        )
    return True


_LOOKUP_ID_START = re.compile(f"[0-9a-f]{{1,{2 * _LOOKUP_BYTES}}}")


def api_tokens_matching(text: str) -> list[ApiToken]:
    """The tokens ``text`` names, revoked and expired ones included, for an
    operator (manage.py revoke_api_token): a whole token, its secret checked,
    names that one token or none; the start of one, as the token pages show it
    ("pypi-1a2b3c…"), names every token whose lookup id begins so. TokenError
    when ``text`` is neither."""
    text = text.strip().removesuffix("…").removesuffix("...")
    if "_" in text:  # only a whole token has the separator before its secret
        token = api_token_find(text)
        return [token] if token is not None else []
    start = text.removeprefix(TOKEN_PREFIX).lower()
    if _LOOKUP_ID_START.fullmatch(start) is None:
        raise TokenError(
            f"{text!r} is neither an API token nor its start: give the whole token, or "
            "'pypi-' and the first characters after it as the token pages show them."
        )
    return list(
        ApiToken.objects.select_related("user")
        .filter(lookup_id__startswith=start)
        .order_by("lookup_id")
    )
