"""Moderators' namespace grants (PEP 752): grant a prefix to an organization,
revoke it, make it open or restricted, hidden or shown. The rules (overlaps,
child grants, what a grant does to uploads) are packages.namespaces'; here each
action takes the moderator's ``actor`` and a non-empty ``reason`` and records a
ModerationAction in the same transaction as the change.
"""

from django.db import transaction

from accounts.events import Actor
from accounts.models import Organization
from accounts.organizations import organization_by_name
from packages import namespaces
from packages.models import Namespace

from .services import ModerationError, _reason, _record


def _log(action: str, grant: Namespace, *, actor: Actor, reason: str, **details) -> None:
    details = {
        "namespace": grant.normalized_prefix,
        "organization": grant.organization.name,
        **details,
    }
    # A shell action that names no moderator says so (as kill_switch_set's).
    if actor.user is None:
        details["via"] = actor.via
    _record(action, actor=actor, reason=reason, **details)


def organization_named(name: str) -> Organization:
    organization = organization_by_name(name or "")
    if organization is None:
        raise ModerationError(f"No active organization {name!r}.")
    return organization


def grant_named(prefix: str) -> Namespace:
    """The grant of ``prefix`` however it is spelt, or ModerationError."""
    try:
        normalized = namespaces.normalize_prefix(prefix)
    except namespaces.NamespaceError as exc:
        raise ModerationError(str(exc)) from None
    grant = (
        Namespace.objects.select_related("organization")
        .filter(normalized_prefix=normalized)
        .first()
    )
    if grant is None:
        raise ModerationError(f"No namespace {normalized!r} is granted.")
    return grant


def namespace_grant(
    *,
    prefix: str,
    organization: Organization,
    actor: Actor,
    reason: str,
    is_open: bool = False,
    is_hidden: bool = False,
    parent: Namespace | None = None,
) -> Namespace:
    """Grant ``prefix`` to ``organization``: restricted unless ``is_open``;
    inside ``parent`` (a child grant) when given."""
    reason = _reason(reason)
    try:
        with transaction.atomic():
            grant = namespaces.namespace_create(
                prefix=prefix,
                organization=organization,
                actor=actor,
                parent=parent,
                is_open=is_open,
                is_hidden=is_hidden,
                reason=reason,
            )
            _log(
                "namespace grant",
                grant,
                actor=actor,
                reason=reason,
                open=is_open,
                hidden=is_hidden,
                parent=parent.normalized_prefix if parent is not None else None,
            )
    except namespaces.NamespaceError as exc:
        raise ModerationError(str(exc)) from None
    return grant


def namespace_revoke(*, grant: Namespace, actor: Actor, reason: str) -> list[str]:
    """Revoke ``grant`` and its children; returns the prefixes revoked."""
    reason = _reason(reason)
    with transaction.atomic():
        _log("namespace revoke", grant, actor=actor, reason=reason)
        return namespaces.namespace_delete(grant=grant, actor=actor)


def namespace_change(
    *,
    grant: Namespace,
    actor: Actor,
    reason: str,
    is_open: bool | None = None,
    is_hidden: bool | None = None,
) -> Namespace:
    """Make ``grant`` open or restricted, hidden or shown (None: unchanged)."""
    reason = _reason(reason)
    try:
        with transaction.atomic():
            grant = namespaces.namespace_update(
                grant=grant, actor=actor, is_open=is_open, is_hidden=is_hidden
            )
            _log(
                "namespace change",
                grant,
                actor=actor,
                reason=reason,
                open=grant.is_open,
                hidden=grant.is_hidden,
            )
    except namespaces.NamespaceError as exc:
        raise ModerationError(str(exc)) from None
    return grant
