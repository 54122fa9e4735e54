"""The organization management pages (accounts.views.organizations): who sees
what, every form's answers, and the e-mailed invitation link from the mail to
the new member."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import organizations as orgs
from accounts.events import Actor
from accounts.models import (
    Email,
    Event,
    Organization,
    OrganizationInvitation,
    OrganizationRole,
    Team,
    TeamMember,
)
from packages.models import Project, TeamRole
from tests.conftest import give_two_factor, verified_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _two_factor(settings):
    settings.REQUIRE_2FA_TO_MANAGE = True


def person(name: str):
    return give_two_factor(verified_user(name))


@pytest.fixture
def alice(db):
    return person("alice")


@pytest.fixture
def mark(db):
    return person("mark")


@pytest.fixture
def mia(db):
    return person("mia")


@pytest.fixture
def sam(db):
    return person("sam")


@pytest.fixture
def org(alice, mark, mia):
    organization = orgs.organization_create(name="Acme", actor=Actor(alice))
    OrganizationRole.objects.create(organization=organization, user=mark, role_name="Manager")
    OrganizationRole.objects.create(organization=organization, user=mia, role_name="Member")
    team = Team.objects.create(organization=organization, name="core", normalized_name="core")
    TeamMember.objects.create(team=team, user=mia)
    return organization


@pytest.fixture
def core(org):
    return org.teams.get()


@pytest.fixture
def invitation(org, alice, sam):
    return OrganizationInvitation.objects.create(
        organization=org,
        user=sam,
        role_name="Manager",
        invited_by=alice,
        expires_at=timezone.now() + timedelta(days=1),
    )


def signed_in(client, user):
    client.force_login(user)
    return client


def url(view_name, /, **kwargs):
    return reverse(view_name, kwargs=kwargs)


def flashes(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


def last_event() -> Event:
    return Event.objects.latest("id")


ORG_PAGES = [
    "manage-organization",
    "manage-organization-teams",
    "manage-organization-settings",
    "manage-organization-history",
]


# --- Access ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/manage/organizations/", "/manage/organization/acme/"])
def test_anonymous_people_are_sent_to_sign_in(client, org, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_without_2fa_people_are_sent_to_add_it(client, org, alice):
    alice.totp_secret = ""
    alice.save()
    response = signed_in(client, alice).get("/manage/organizations/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two-factor"))


@pytest.mark.parametrize(
    ("who", "statuses"),
    [
        ("alice", [200, 200, 200, 200]),
        ("mark", [200, 200, 403, 403]),
        ("mia", [200, 200, 403, 403]),
        ("sam", [404, 404, 404, 404]),
    ],
)
def test_who_sees_which_page(client, org, sam, who, statuses):
    from accounts.models import User

    signed_in(client, User.objects.get(username=who))
    answers = [client.get(url(page, name="acme")) for page in ORG_PAGES]
    assert [answer.status_code for answer in answers] == statuses
    for answer in answers:
        assert (
            answer["Cache-Control"].startswith("max-age=0") or "no-cache" in answer["Cache-Control"]
        )


def test_a_deactivated_or_unknown_organization_is_404(client, org, alice):
    signed_in(client, alice)
    assert client.get(url("manage-organization", name="nothing")).status_code == 404
    Organization.objects.update(is_active=False)
    assert client.get(url("manage-organization", name="acme")).status_code == 404


def test_odd_spellings_redirect_to_the_normalized_url(client, org, core, mia):
    signed_in(client, mia)
    response = client.get("/manage/organization/ACME/teams/")
    assert (response.status_code, response["Location"]) == (301, "/manage/organization/acme/teams/")
    response = client.get("/manage/organization/acme/team/CORE/")
    assert (response.status_code, response["Location"]) == (
        302,
        "/manage/organization/acme/team/core/",
    )


def test_odd_spellings_do_not_reveal_an_organization(client, org, sam):
    assert signed_in(client, sam).get("/manage/organization/ACME/").status_code == 404


def test_a_name_no_organization_could_have_does_not_route(client, alice):
    assert signed_in(client, alice).get("/manage/organization/-acme/").status_code == 404


# --- Your organizations and creating one ----------------------------------------------------


def test_the_list_shows_organizations_roles_and_invitations(client, org, invitation, sam, mia):
    orgs.organization_create(name="Beta", display_name="Beta Labs", actor=Actor(sam))
    content = signed_in(client, sam).get("/manage/organizations/").content.decode()
    assert "Beta Labs" in content
    assert "alice invited you as Manager" in content
    assert url("manage-organization-invitation-answer", pk=invitation.pk) in content
    content = signed_in(client, mia).get("/manage/organizations/").content.decode()
    assert url("manage-organization", name="acme") in content
    assert "Pending invitations" not in content


def test_the_list_counts_members(client, org, alice, django_assert_max_num_queries):
    signed_in(client, alice)
    with django_assert_max_num_queries(12):
        response = client.get("/manage/organizations/")
    (role,) = response.context["roles"]
    assert role.members == 3


def test_creating_an_organization(client, sam):
    response = signed_in(client, sam).post(
        "/manage/organizations/", {"name": "Beta_Labs", "display_name": "Beta"}
    )
    assert response.status_code == 302
    assert response["Location"] == url("manage-organization", name="beta-labs")
    assert flashes(response) == ["The organization Beta_Labs is created; you are its Owner."]
    organization = Organization.objects.get()
    assert orgs.organization_role(sam, organization) == "Owner"
    assert last_event().ip_address == "127.0.0.1"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"name": "a b"}, "An organization name is made of ASCII letters"),
        ({"name": "Acme"}, "The name Acme is already taken by another organization"),
        ({"name": "x" * 101}, "at most 100 characters"),
    ],
)
def test_a_refused_name_says_why(client, org, sam, data, message):
    response = signed_in(client, sam).post("/manage/organizations/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Organization.objects.count() == 1


def test_creating_too_many_organizations_is_limited(client, sam, settings):
    settings.RATELIMITS = {**settings.RATELIMITS, "organization-create": (1, 3600)}
    signed_in(client, sam)
    assert client.post("/manage/organizations/", {"name": "bad name"}).status_code == 400
    assert client.post("/manage/organizations/", {"name": "one"}).status_code == 302
    response = client.post("/manage/organizations/", {"name": "two"})
    assert response.status_code == 429
    assert "You created too many organizations lately. Try again in" in response.content.decode()
    assert int(response["Retry-After"]) > 0
    assert Organization.objects.count() == 1


# --- Invitations ----------------------------------------------------------------------


def test_the_invitation_link_from_the_mail_makes_a_member(
    client, org, alice, sam, django_capture_on_commit_callbacks
):
    signed_in(client, alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("manage-organization-invite", name="acme"),
            {"who": "sam@example.com", "role_name": "Manager"},
        )
    assert response.status_code == 302
    assert flashes(response) == [
        "sam is invited as Manager; they have been sent an e-mail to accept."
    ]
    (message,) = mail.outbox
    link = re.search(r"http://testserver(\S+)", message.body).group(1)
    html = message.alternatives[0][0]
    assert link.replace("&", "&amp;") in html
    client.logout()
    # The link asks the invitee to sign in first, then shows the invitation.
    assert client.get(link)["Location"].startswith(reverse("login"))
    signed_in(client, sam)
    page = client.get(link)
    assert page.status_code == 200
    assert "invited you to be <strong>Manager</strong>" in page.content.decode()
    token = link.split("token=", 1)[1]
    response = client.post(
        url("manage-organization-invitation"), {"token": token, "action": "accept"}
    )
    assert response["Location"] == url("manage-organization", name="acme")
    assert flashes(response) == ["You are now Manager of Acme."]
    assert orgs.organization_role(sam, org) == "Manager"
    # Used up: the same link now says so.
    page = client.get(link)
    assert page.status_code == 410
    assert "no longer valid" in page.content.decode()


def test_declining_from_the_link(client, org, invitation, sam):
    token = orgs.invitation_token(invitation)
    response = signed_in(client, sam).post(
        url("manage-organization-invitation"), {"token": token, "action": "decline"}
    )
    assert response["Location"] == url("manage-organizations")
    assert flashes(response) == ["You declined the invitation to Acme."]
    assert not OrganizationInvitation.objects.exists()


def test_a_link_answer_must_be_accept_or_decline(client, org, invitation, sam):
    token = orgs.invitation_token(invitation)
    response = signed_in(client, sam).post(
        url("manage-organization-invitation"), {"token": token, "action": "maybe"}
    )
    assert response.status_code == 400
    assert b"Choose accept or decline." in response.content
    assert OrganizationInvitation.objects.exists()


@pytest.mark.parametrize(("token", "status"), [("", 400), ("nonsense", 400)])
def test_a_broken_link_says_so(client, sam, token, status):
    response = signed_in(client, sam).get(url("manage-organization-invitation"), {"token": token})
    assert response.status_code == status
    assert "This invitation link is not valid." in response.content.decode()


def test_a_link_for_someone_else_is_refused(client, org, invitation, mia):
    response = signed_in(client, mia).get(
        url("manage-organization-invitation"), {"token": orgs.invitation_token(invitation)}
    )
    assert response.status_code == 403


def test_answering_from_the_list(client, org, invitation, sam):
    response = signed_in(client, sam).post(
        url("manage-organization-invitation-answer", pk=invitation.pk), {"action": "accept"}
    )
    assert response.status_code == 302
    assert orgs.organization_role(sam, org) == "Manager"


def test_an_expired_invitation_answered_from_the_list_says_so(client, org, invitation, sam):
    OrganizationInvitation.objects.update(expires_at=timezone.now())
    response = signed_in(client, sam).post(
        url("manage-organization-invitation-answer", pk=invitation.pk), {"action": "accept"}
    )
    assert response["Location"] == url("manage-organizations")
    assert flashes(response) == ["This invitation has expired."]


def test_another_persons_invitation_is_404_from_the_list(client, org, invitation, mia):
    response = signed_in(client, mia).post(
        url("manage-organization-invitation-answer", pk=invitation.pk), {"action": "accept"}
    )
    assert response.status_code == 404


def test_the_people_page_shows_members_invitations_and_the_owners_tools(
    client, org, invitation, alice, mia
):
    content = signed_in(client, alice).get(url("manage-organization", name="acme")).content
    content = content.decode()
    assert "Leave this organization" in content
    assert 'aria-label="Remove mia"' in content
    assert url("manage-organization-invite", name="acme") in content
    assert url("manage-organization-revoke", name="acme") in content
    assert "<strong>sam</strong> as Manager, invited by alice; expires" in content
    # The organization's public page, and its projects (packages' pages).
    assert 'href="/org/acme/">Acme</a>' in content
    assert 'href="/manage/organization/acme/projects/">Projects</a>' in content
    content = signed_in(client, mia).get(url("manage-organization", name="acme")).content
    content = content.decode()
    assert url("manage-organization-invite", name="acme") not in content
    assert url("manage-organization-role", name="acme") not in content
    assert 'aria-label="Remove' not in content
    assert "Leave this organization" in content


def test_an_expired_invitation_is_marked(client, org, invitation, alice):
    OrganizationInvitation.objects.update(expires_at=timezone.now() - timedelta(hours=1))
    content = signed_in(client, alice).get(url("manage-organization", name="acme")).content
    assert b"alice; expired" in content


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"who": "", "role_name": "Member"}, "This field is required."),
        ({"who": "sam", "role_name": "Admin"}, "Select a valid choice."),
        ({"who": "ghost", "role_name": "Member"}, "There is no user named &#x27;ghost&#x27;."),
        ({"who": "mia", "role_name": "Member"}, "mia is already a member of Acme."),
    ],
)
def test_a_refused_invitation_says_why(client, org, alice, sam, data, message):
    response = signed_in(client, alice).post(url("manage-organization-invite", name="acme"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not OrganizationInvitation.objects.exists()


def test_sending_too_many_invitations_is_limited(client, org, alice, sam, settings):
    settings.RATELIMITS = {**settings.RATELIMITS, "organization-invite": (1, 3600)}
    signed_in(client, alice)
    invite = url("manage-organization-invite", name="acme")
    assert client.post(invite, {"who": "sam", "role_name": "Member"}).status_code == 302
    response = client.post(invite, {"who": "mark", "role_name": "Member"})
    assert response.status_code == 429
    assert b"You sent too many invitations lately." in response.content


def test_a_manager_may_not_invite(client, org, mark, sam):
    response = signed_in(client, mark).post(
        url("manage-organization-invite", name="acme"), {"who": "sam", "role_name": "Member"}
    )
    assert response.status_code == 403
    assert not OrganizationInvitation.objects.exists()


def test_revoking_an_invitation(client, org, invitation, alice):
    response = signed_in(client, alice).post(
        url("manage-organization-revoke", name="acme"), {"invitation": invitation.pk}
    )
    assert response["Location"] == url("manage-organization", name="acme")
    assert flashes(response) == ["The invitation of sam is revoked."]
    assert not OrganizationInvitation.objects.exists()


@pytest.mark.parametrize("value", ["", "abc", "1\x00", "99999"])
def test_revoking_an_unknown_invitation_is_404(client, org, alice, value):
    response = signed_in(client, alice).post(
        url("manage-organization-revoke", name="acme"), {"invitation": value}
    )
    assert response.status_code == 404


def test_an_invitation_answered_while_revoking(client, org, invitation, alice, monkeypatch):
    real = orgs.invitation_revoke

    def concurrent(*, invitation, **kwargs):
        OrganizationInvitation.objects.filter(pk=invitation.pk).delete()
        return real(invitation=invitation, **kwargs)

    monkeypatch.setattr(orgs, "invitation_revoke", concurrent)
    response = signed_in(client, alice).post(
        url("manage-organization-revoke", name="acme"), {"invitation": invitation.pk}
    )
    assert flashes(response) == ["This invitation was already accepted, declined or revoked."]


# --- Members ------------------------------------------------------------------------


def test_an_owner_changes_a_role(client, org, alice, mia):
    response = signed_in(client, alice).post(
        url("manage-organization-role", name="acme"), {"username": "mia", "role_name": "Owner"}
    )
    assert flashes(response) == ["mia is now Owner."]
    assert orgs.organization_role(mia, org) == "Owner"


def test_a_refused_role_change_says_why(client, org, alice):
    response = signed_in(client, alice).post(
        url("manage-organization-role", name="acme"), {"username": "alice", "role_name": "Member"}
    )
    assert flashes(response) == [
        "alice is the last Owner of Acme; make someone else an Owner first."
    ]


@pytest.mark.parametrize("username", ["", "sam", "x\x00"])
def test_a_role_change_of_a_non_member_is_404(client, org, alice, sam, username):
    response = signed_in(client, alice).post(
        url("manage-organization-role", name="acme"), {"username": username, "role_name": "Owner"}
    )
    assert response.status_code == 404


def test_a_manager_may_not_change_roles(client, org, mark):
    response = signed_in(client, mark).post(
        url("manage-organization-role", name="acme"), {"username": "mia", "role_name": "Owner"}
    )
    assert response.status_code == 403


def test_an_owner_removes_a_member(client, org, alice, mia):
    response = signed_in(client, alice).post(
        url("manage-organization-remove", name="acme"), {"username": "mia"}
    )
    assert response["Location"] == url("manage-organization", name="acme")
    assert flashes(response) == ["mia is no longer a member of Acme."]
    assert orgs.organization_role(mia, org) is None


def test_a_member_leaves(client, org, mia):
    response = signed_in(client, mia).post(
        url("manage-organization-remove", name="acme"), {"username": "mia"}
    )
    assert response["Location"] == url("manage-organizations")
    assert flashes(response) == ["You left Acme."]


def test_a_member_may_not_remove_another(client, org, mia):
    response = signed_in(client, mia).post(
        url("manage-organization-remove", name="acme"), {"username": "mark"}
    )
    assert response.status_code == 403


def test_the_last_owner_cannot_leave(client, org, alice):
    response = signed_in(client, alice).post(
        url("manage-organization-remove", name="acme"), {"username": "alice"}
    )
    assert response["Location"] == url("manage-organization", name="acme")
    assert "last Owner of Acme and cannot leave" in flashes(response)[0]


# --- Teams ------------------------------------------------------------------------------


def test_the_teams_page_counts_members_and_projects(client, org, core, mia):
    project = Project.objects.create(name="anvil", normalized_name="anvil", organization=org)
    TeamRole.objects.create(team=core, project=project, role_name="Owner")
    response = signed_in(client, mia).get(url("manage-organization-teams", name="acme"))
    (team,) = response.context["teams"]
    assert (team.member_count, team.project_count) == (1, 1)
    assert "Create a team" not in response.content.decode()


def test_no_teams_yet(client, org, core, alice):
    core.delete()
    content = signed_in(client, alice).get(url("manage-organization-teams", name="acme")).content
    assert b"No teams yet." in content
    assert b"Create a team" in content


def test_a_manager_creates_a_team(client, org, mark):
    response = signed_in(client, mark).post(
        url("manage-organization-teams", name="acme"), {"name": "Web_Devs"}
    )
    assert response["Location"] == url("manage-organization-team", name="acme", team="web-devs")
    assert flashes(response) == ["The team Web_Devs is created."]


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "This field is required."), ("core", "Acme already has a team named core.")],
)
def test_a_refused_team_name_says_why(client, org, core, mark, name, message):
    response = signed_in(client, mark).post(
        url("manage-organization-teams", name="acme"), {"name": name}
    )
    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_member_may_not_create_a_team(client, org, mia):
    response = signed_in(client, mia).post(
        url("manage-organization-teams", name="acme"), {"name": "web"}
    )
    assert response.status_code == 403
    assert org.teams.count() == 1


def test_the_team_page(client, org, core, mark, mia, alice):
    page = signed_in(client, mark).get(url("manage-organization-team", name="acme", team="core"))
    content = page.content.decode()
    assert 'aria-label="Remove mia from the team"' in content
    assert [role.user.username for role in page.context["candidates"]] == ["alice", "mark"]
    content = (
        signed_in(client, mia)
        .get(url("manage-organization-team", name="acme", team="core"))
        .content.decode()
    )
    assert "Remove mia from the team" not in content
    assert "Rename the team" not in content


def test_an_empty_team_says_so(client, org, core, alice):
    TeamMember.objects.all().delete()
    content = (
        signed_in(client, alice)
        .get(url("manage-organization-team", name="acme", team="core"))
        .content
    )
    assert b"Nobody is in this team yet." in content


def test_an_unknown_team_is_404(client, org, alice):
    response = signed_in(client, alice).get(
        url("manage-organization-team", name="acme", team="nothing")
    )
    assert response.status_code == 404


def test_renaming_a_team(client, org, core, mark):
    response = signed_in(client, mark).post(
        url("manage-organization-team-rename", name="acme", team="core"), {"name": "Kernel"}
    )
    assert response["Location"] == url("manage-organization-team", name="acme", team="kernel")
    assert flashes(response) == ["The team is now named Kernel."]


@pytest.mark.parametrize(
    ("name", "message"), [("", "This field is required."), ("core", "already is named core")]
)
def test_a_refused_rename_says_why(client, org, core, mark, name, message):
    response = signed_in(client, mark).post(
        url("manage-organization-team-rename", name="acme", team="core"), {"name": name}
    )
    assert response.status_code == 400
    assert message in response.content.decode()


def test_deleting_a_team_needs_its_name(client, org, core, mark):
    signed_in(client, mark)
    delete = url("manage-organization-team-delete", name="acme", team="core")
    response = client.post(delete, {"confirm": "cor"})
    assert flashes(response) == ["Type the team name core to confirm the deletion."]
    assert Team.objects.exists()
    response = client.post(delete, {"confirm": "core"})
    assert response["Location"] == url("manage-organization-teams", name="acme")
    assert flashes(response)[-1] == "The team core is deleted."
    assert not Team.objects.exists()


def test_a_team_holding_a_project_is_not_deleted(client, org, core, mark):
    project = Project.objects.create(name="anvil", normalized_name="anvil", organization=org)
    TeamRole.objects.create(team=core, project=project, role_name="Owner")
    response = signed_in(client, mark).post(
        url("manage-organization-team-delete", name="acme", team="core"), {"confirm": "core"}
    )
    assert response["Location"] == url("manage-organization-team", name="acme", team="core")
    assert "holds a role on 1 project" in flashes(response)[0]


def test_adding_and_removing_team_members(client, org, core, mark, alice):
    signed_in(client, mark)
    response = client.post(
        url("manage-organization-team-add", name="acme", team="core"), {"username": "alice"}
    )
    assert flashes(response) == ["alice is in the team core."]
    assert set(core.members.values_list("username", flat=True)) == {"alice", "mia"}
    response = client.post(
        url("manage-organization-team-remove", name="acme", team="core"), {"username": "alice"}
    )
    assert flashes(response)[-1] == "alice is no longer in the team core."
    response = client.post(
        url("manage-organization-team-remove", name="acme", team="core"), {"username": "alice"}
    )
    assert flashes(response)[-1] == "alice is not in the team core."


@pytest.mark.parametrize(
    ("username", "message"),
    [("", "This field is required."), ("sam", "only members join its teams")],
)
def test_a_refused_team_member_says_why(client, org, core, mark, sam, username, message):
    response = signed_in(client, mark).post(
        url("manage-organization-team-add", name="acme", team="core"), {"username": username}
    )
    assert response.status_code == 400
    assert message in response.content.decode()


# --- Settings and history -----------------------------------------------------------------


def test_an_owner_edits_the_profile(client, org, alice):
    signed_in(client, alice)
    page = client.get(url("manage-organization-settings", name="acme"))
    assert page.context["form"]["display_name"].value() == ""
    response = client.post(
        url("manage-organization-settings", name="acme"),
        {"display_name": "Acme Inc.", "link_url": "acme.example", "description": "Anvils."},
    )
    assert response["Location"] == url("manage-organization-settings", name="acme")
    assert flashes(response) == ["The organization's profile is saved."]
    org.refresh_from_db()
    assert (org.display_name, org.link_url, org.description) == (
        "Acme Inc.",
        "https://acme.example",
        "Anvils.",
    )
    page = client.get(url("manage-organization-settings", name="acme"))
    assert 'value="Acme Inc."' in page.content.decode()


def test_a_refused_profile_says_why(client, org, alice):
    response = signed_in(client, alice).post(
        url("manage-organization-settings", name="acme"),
        {"display_name": "x", "link_url": "javascript:alert(1)", "description": ""},
    )
    assert response.status_code == 400
    assert "Enter a valid URL." in response.content.decode()
    org.refresh_from_db()
    assert org.display_name == ""


def test_an_organization_deactivated_while_saving(client, org, alice, monkeypatch):
    real = orgs.organization_update

    def concurrent(*, organization, **kwargs):
        Organization.objects.update(is_active=False)
        return real(organization=organization, **kwargs)

    monkeypatch.setattr(orgs, "organization_update", concurrent)
    response = signed_in(client, alice).post(
        url("manage-organization-settings", name="acme"),
        {"display_name": "x", "link_url": "", "description": ""},
    )
    assert response.status_code == 400
    assert "no longer active" in response.content.decode()


def test_the_history_shows_the_organizations_events(client, org, alice, mia):
    orgs.member_change_role(organization=org, user=mia, role_name="Manager", actor=Actor(alice))
    signed_in(client, alice)
    content = client.get(url("manage-organization-history", name="acme")).content.decode()
    assert "Member&#x27;s role changed" in content
    # jsonb keeps its own key order: each detail, in either order.
    assert "old_role: Member" in content and "role: Manager" in content
    assert "Organization created" in content


def test_an_empty_history_says_so(client, org, alice):
    Event.objects.all().delete()
    content = signed_in(client, alice).get(url("manage-organization-history", name="acme")).content
    assert b"No events recorded for this organization yet." in content


def test_the_nav_links_to_organizations(client, alice):
    content = signed_in(client, alice).get("/manage/organizations/").content.decode()
    assert f'href="{url("manage-organizations")}">Organizations</a>' in content
    assert "You are not a member of any organization yet." in content


def test_an_unverified_account_is_told_to_verify_before_creating(client, sam):
    Email.objects.filter(user=sam).update(verified=False)
    response = signed_in(client, sam).post("/manage/organizations/", {"name": "beta"})
    assert response.status_code == 400
    assert "Verify your primary e-mail address" in response.content.decode()


def test_the_team_page_lists_the_projects_it_holds(client, org, core, mia):
    for name, role_name in (("zeta", "Owner"), ("anvil", "Maintainer")):
        project = Project.objects.create(name=name, normalized_name=name, organization=org)
        TeamRole.objects.create(team=core, project=project, role_name=role_name)
    response = signed_in(client, mia).get(url("manage-organization-team", name="acme", team="core"))
    holdings = [(h.project.name, h.role_name) for h in response.context["holdings"]]
    assert holdings == [("anvil", "Maintainer"), ("zeta", "Owner")]
    assert 'href="/project/anvil/"' in response.content.decode()


def test_a_team_without_projects_says_so(client, org, core, mia):
    content = (
        signed_in(client, mia)
        .get(url("manage-organization-team", name="acme", team="core"))
        .content
    )
    assert b"No project yet" in content


@pytest.mark.parametrize("page", ["manage-organization", "manage-organization-teams"])
def test_organization_pages_query_count_is_constant(
    client, org, core, alice, page, django_assert_max_num_queries
):
    for number in range(20):
        user = verified_user(f"user{number}")
        OrganizationRole.objects.create(organization=org, user=user, role_name="Member")
        OrganizationInvitation.objects.create(
            organization=org,
            user=verified_user(f"guest{number}"),
            role_name="Member",
            invited_by=alice,
            expires_at=timezone.now() + timedelta(days=1),
        )
        team = Team.objects.create(
            organization=org, name=f"team{number}", normalized_name=f"team{number}"
        )
        team.members.add(user)
    signed_in(client, alice)
    with django_assert_max_num_queries(12):
        assert client.get(url(page, name="acme")).status_code == 200


def test_a_post_without_the_csrf_token_is_refused(org, alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(url("manage-organization-teams", name="acme"), {"name": "web"})
    assert response.status_code == 403
    assert not org.teams.filter(name="web").exists()
