"""Moderators deactivate and reactivate organizations (the admin's actions
call these, with a reason). A deactivated organization keeps its name and its
projects, but nobody acts through it: its people hold no role in it
(accounts.organizations.organization_role), its pages answer 404 and its
pending invitations can't be accepted."""

from django.db import transaction

from accounts.events import Actor, record_event
from accounts.models import Organization
from packages.cache import purge_project_on_commit

from .services import ModerationError, _reason, _record


def _set_active(organization: Organization, *, active: bool, actor: Actor, reason: str):
    reason = _reason(reason)
    with transaction.atomic():
        # Under the lock every change of its people takes, so none is half
        # done when it stops (accounts.organizations._lock).
        organization = Organization.objects.select_for_update().get(pk=organization.pk)
        if organization.is_active == active:
            state = "active" if active else "deactivated"
            raise ModerationError(f"The organization {organization.name} is already {state}.")
        organization.is_active = active
        organization.save(update_fields=["is_active"])
        verb = "reactivate" if active else "deactivate"
        _record(f"{verb} organization", actor=actor, reason=reason, organization=organization.name)
        record_event(f"organization:{verb}d", actor=actor, organization=organization, reason=reason)
        # Its projects' pages link to its page (packages/_ownership.html) only
        # while it is active: the copies kept in caches and at the edges go.
        for name in organization.projects.values_list("normalized_name", flat=True):
            purge_project_on_commit(name)
    return organization


def organization_deactivate(*, organization: Organization, actor: Actor, reason: str):
    return _set_active(organization, active=False, actor=actor, reason=reason)


def organization_reactivate(*, organization: Organization, actor: Actor, reason: str):
    return _set_active(organization, active=True, actor=actor, reason=reason)
