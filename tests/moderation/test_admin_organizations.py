"""Organizations in the moderators' admin: the list, the search, one
organization with its people, teams and invitations, and the actions that
deactivate and reactivate it with a reason (moderation.organizations)."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts import organizations as orgs
from accounts.events import Actor
from accounts.models import Event, Organization, OrganizationInvitation, OrganizationRole, Team
from moderation.models import ModerationAction
from moderation.organizations import organization_deactivate, organization_reactivate
from moderation.services import ModerationError

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:accounts_organization_changelist"


@pytest.fixture
def acme(owner, maintainer, outsider):
    organization = orgs.organization_create(name="Acme_Corp", actor=Actor(owner))
    OrganizationRole.objects.create(organization=organization, user=maintainer, role_name="Member")
    team = Team.objects.create(organization=organization, name="core", normalized_name="core")
    team.members.add(maintainer)
    Team.objects.create(organization=organization, name="empty", normalized_name="empty")
    OrganizationInvitation.objects.create(
        organization=organization,
        user=outsider,
        role_name="Manager",
        invited_by=owner,
        expires_at=timezone.now() + timedelta(days=1),
    )
    return organization


@pytest.fixture
def beta(outsider):
    return orgs.organization_create(name="beta", actor=Actor(outsider))


def change_url(organization) -> str:
    return reverse("admin:accounts_organization_change", args=[organization.pk])


def act(client, action, organizations, **form):
    ids = [organization.pk for organization in organizations]
    first = client.post(
        reverse(CHANGELIST), {"action": action, "index": 0, ACTION_CHECKBOX_NAME: ids}
    )
    assert b'name="reason"' in first.content
    return client.post(
        reverse(CHANGELIST), {"action": action, ACTION_CHECKBOX_NAME: ids, "confirm": "yes", **form}
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_moderators_list_organizations_with_their_member_counts(mod_client, acme, beta):
    response = mod_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    rows = {org.name: org.members for org in response.context["cl"].result_list}
    assert rows == {"Acme_Corp": 2, "beta": 1}


@pytest.mark.parametrize(
    ("term", "found"), [("ACME.c", ["Acme_Corp"]), ("", ["Acme_Corp", "beta"]), ("corp", [])]
)
def test_the_search_takes_the_start_of_the_name_in_any_spelling(
    mod_client, acme, beta, term, found
):
    response = mod_client.get(reverse(CHANGELIST), {"q": term})
    assert [org.name for org in response.context["cl"].result_list] == found


def test_one_organization_shows_its_people_teams_and_invitations(mod_client, acme):
    response = mod_client.get(change_url(acme))
    assert response.status_code == 200
    content = response.content.decode()
    for text in ["olivia", "max", "Member", "core", "empty", "oscar", "Manager"]:
        assert text in content
    (teams,) = [
        formset
        for formset in response.context["inline_admin_formsets"]
        if formset.opts.model is Team
    ]
    shown = {team.name: teams.opts.members_list(team) for team in acme.teams.all()}
    assert shown == {"core": "max", "empty": "-"}
    assert f"organization__id__exact={acme.pk}" in content
    # Read-only: no save button, no inline forms to add rows.
    assert 'name="_save"' not in content


def test_moderators_cannot_add_edit_or_delete_organizations(mod_client, acme):
    assert mod_client.get(reverse("admin:accounts_organization_add")).status_code == 403
    assert mod_client.post(change_url(acme), {"name": "x"}).status_code == 403
    delete = reverse("admin:accounts_organization_delete", args=[acme.pk])
    assert mod_client.post(delete, {"post": "yes"}).status_code == 403
    assert Organization.objects.get(pk=acme.pk).name == "Acme_Corp"


def test_staff_without_the_group_is_refused(client, staff, acme):
    client.force_login(staff)
    assert client.get(reverse(CHANGELIST)).status_code == 403


def test_deactivating_and_reactivating_with_a_reason(mod_client, moderator, acme, owner):
    response = act(mod_client, "deactivate", [acme], reason="impersonates Acme")
    assert messages_of(response) == ["Deactivate organization: done for 1."]
    acme.refresh_from_db()
    assert not acme.is_active
    assert orgs.organization_role(owner, acme) is None
    action = ModerationAction.objects.latest("id")
    assert (action.action, action.moderator, action.reason, action.details) == (
        "deactivate organization",
        moderator,
        "impersonates Acme",
        {"organization": "Acme_Corp"},
    )
    event = Event.objects.filter(organization=acme).latest("id")
    assert (event.tag, event.actor, event.details) == (
        "organization:deactivated",
        moderator,
        {"reason": "impersonates Acme"},
    )
    act(mod_client, "reactivate", [acme], reason="cleared")
    acme.refresh_from_db()
    assert acme.is_active
    assert orgs.organization_role(owner, acme) == "Owner"
    assert Event.objects.filter(organization=acme).latest("id").tag == "organization:reactivated"


def test_a_deactivated_organizations_pages_are_gone(client, acme, owner, moderator, settings):
    settings.REQUIRE_2FA_TO_MANAGE = False
    organization_deactivate(organization=acme, actor=Actor(moderator), reason="spam")
    client.force_login(owner)
    assert client.get("/manage/organization/acme-corp/").status_code == 404


def test_deactivating_purges_the_pages_of_its_projects(acme, moderator, settings):
    from packages.models import EdgePurge, Project

    settings.EDGE_PURGE_URLS = ["http://127.0.0.1:9/"]  # queued, never reached here
    Project.objects.create(name="acme-tool", normalized_name="acme-tool", organization=acme)
    Project.objects.create(name="elsewhere", normalized_name="elsewhere")
    organization_deactivate(organization=acme, actor=Actor(moderator), reason="spam")
    keys = " ".join(EdgePurge.objects.values_list("keys", flat=True)).split()
    assert "project-acme-tool" in keys
    assert "project-elsewhere" not in keys


@pytest.mark.parametrize(
    ("service", "active", "message"),
    [
        (organization_deactivate, False, "The organization Acme_Corp is already deactivated."),
        (organization_reactivate, True, "The organization Acme_Corp is already active."),
    ],
)
def test_acting_twice_is_refused(mod_client, acme, service, active, message):
    Organization.objects.filter(pk=acme.pk).update(is_active=active)
    with pytest.raises(ModerationError, match=message):
        service(organization=acme, actor=Actor(), reason="again")
    action = "deactivate" if service is organization_deactivate else "reactivate"
    response = act(mod_client, action, [acme], reason="again")
    assert messages_of(response) == [f"Acme_Corp: {message}"]
    assert not ModerationAction.objects.exists()


def test_a_reason_is_required(acme):
    with pytest.raises(ModerationError, match="A reason is required"):
        organization_deactivate(organization=acme, actor=Actor(), reason="  ")
    acme.refresh_from_db()
    assert acme.is_active


def test_the_event_list_filters_organization_events(mod_client, acme):
    response = mod_client.get("/admin/accounts/event/", {"kind": "organization:"})
    listed = [(event.tag, event.organization) for event in response.context["cl"].result_list]
    assert listed == [("organization:created", acme)]
    response = mod_client.get("/admin/accounts/event/", {"organization__id__exact": acme.pk})
    assert response.status_code == 200
    assert [event.tag for event in response.context["cl"].result_list] == ["organization:created"]
