"""accounts.organizations: organizations, their members, invitations and teams,
and what each role may do (the permission matrix at the end)."""

import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import RequestFactory
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
    User,
)
from accounts.organizations import (
    InvitationLinkError,
    OrganizationError,
    invitation_accept,
    invitation_create,
    invitation_decline,
    invitation_from_token,
    invitation_revoke,
    invitation_token,
    member_change_role,
    member_remove,
    organization_create,
    organization_update,
    team_create,
    team_delete,
    team_member_add,
    team_member_remove,
    team_rename,
)
from packages.models import Project, TeamRole
from tests.conftest import verified_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(db):
    return verified_user("alice")


@pytest.fixture
def mark(db):
    return verified_user("mark")


@pytest.fixture
def mia(db):
    return verified_user("mia")


@pytest.fixture
def nina(db):
    return verified_user("nina")


@pytest.fixture
def sam(db):
    return verified_user("sam")


@pytest.fixture
def org(alice, mark, mia, nina):
    """Acme: alice Owner, mark Manager, mia and nina Members; mia in the team core."""
    organization = organization_create(name="Acme", actor=Actor(alice))
    OrganizationRole.objects.create(organization=organization, user=mark, role_name="Manager")
    OrganizationRole.objects.create(organization=organization, user=mia, role_name="Member")
    OrganizationRole.objects.create(organization=organization, user=nina, role_name="Member")
    team = Team.objects.create(organization=organization, name="core", normalized_name="core")
    TeamMember.objects.create(team=team, user=mia)
    return organization


@pytest.fixture
def core(org):
    return Team.objects.get(organization=org, name="core")


@pytest.fixture
def invited(org, alice, sam, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return invitation_create(
            organization=org, who="sam", role_name="Member", actor=Actor(alice)
        )


def role_of(user, organization) -> str | None:
    return orgs.organization_role(user, organization)


def last_event() -> Event:
    return Event.objects.latest("id")


# --- Names and roles -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("acme", True),
        ("Acme.Corp_2", True),
        ("a", True),
        ("a" * 100, True),
        ("a" * 101, False),
        ("-acme", False),
        ("acme-", False),
        ("ac me", False),
        ("acme\n", False),
        ("acmé", False),
        ("", False),
    ],
)
def test_organization_names_are_written_like_project_names(name, valid):
    assert orgs.is_valid_organization_name(name) is valid


def test_names_compare_like_project_names():
    assert orgs.normalize_organization_name("Acme_Corp..Labs") == "acme-corp-labs"


def test_an_organization_is_found_by_any_spelling_while_active(org):
    assert orgs.organization_by_name("ACME") == org
    org.is_active = False
    org.save()
    assert orgs.organization_by_name("acme") is None


def test_nobody_acts_through_a_deactivated_organization(org, alice):
    assert role_of(alice, org) == "Owner"
    org.is_active = False
    assert role_of(alice, org) is None


def test_anonymous_and_deactivated_accounts_hold_no_role(org, alice):
    assert role_of(None, org) is None
    alice.is_active = False
    assert role_of(alice, org) is None


def test_the_roles_of_a_user_list_active_organizations_only(org, alice):
    other = organization_create(name="Beta", actor=Actor(alice))
    other.is_active = False
    other.save()
    assert [role.organization for role in orgs.user_organizations(alice)] == [org]


# --- Creating and editing ------------------------------------------------------------


def test_the_creator_becomes_the_first_owner(alice):
    request = RequestFactory().post("/", REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="pytest")
    request.user = alice
    organization = organization_create(
        name=" Acme_Corp ", display_name=" Acme Corporation ", actor=Actor.from_request(request)
    )
    assert (organization.name, organization.normalized_name) == ("Acme_Corp", "acme-corp")
    assert organization.display_name == "Acme Corporation"
    assert role_of(alice, organization) == "Owner"
    event = last_event()
    assert (event.tag, event.organization, event.organization_name) == (
        "organization:created",
        organization,
        "Acme_Corp",
    )
    assert (event.actor, event.user, event.ip_address) == (alice, alice, "198.51.100.7")


def test_an_account_without_a_verified_address_cannot_create_one(alice):
    Email.objects.filter(user=alice).update(verified=False)
    with pytest.raises(OrganizationError, match="Verify your primary e-mail"):
        organization_create(name="acme", actor=Actor(alice))
    assert not Organization.objects.exists()


@pytest.mark.parametrize("actor", [Actor(None), "inactive"])
def test_nobody_signed_in_cannot_create_one(alice, actor):
    if actor == "inactive":
        alice.is_active = False
        actor = Actor(alice)
    with pytest.raises(PermissionDenied):
        organization_create(name="acme", actor=actor)


def test_an_invalid_name_is_refused_with_the_rule(alice):
    with pytest.raises(OrganizationError, match="ASCII letters, digits") as caught:
        organization_create(name="ac me", actor=Actor(alice))
    assert caught.value.field == "name"


def test_a_name_another_organization_has_in_any_spelling_is_refused(org, sam):
    with pytest.raises(OrganizationError, match="already taken by another organization") as c:
        organization_create(name="ACME", actor=Actor(sam))
    assert c.value.field == "name"
    assert Organization.objects.count() == 1
    assert not OrganizationRole.objects.filter(user=sam).exists()


def test_a_name_that_reads_as_another_users_username_is_refused(alice):
    verified_user("Bob.Smith")
    with pytest.raises(OrganizationError, match="is a user's name"):
        organization_create(name="bob_smith", actor=Actor(alice))


def test_a_user_may_name_an_organization_after_themselves(alice):
    organization = organization_create(name="Alice", actor=Actor(alice))
    assert organization.normalized_name == "alice"


def test_usernames_with_regex_characters_do_not_match_by_accident(alice):
    verified_user("a+b")
    verified_user("axc")
    assert organization_create(name="a.c", actor=Actor(alice)).normalized_name == "a-c"


def test_an_owner_edits_the_profile_and_the_change_is_recorded(org, alice):
    organization_update(
        organization=org,
        display_name=" Acme Inc. ",
        link_url="https://acme.example/",
        description="We make anvils.",
        actor=Actor(alice),
    )
    org.refresh_from_db()
    assert (org.display_name, org.link_url, org.description) == (
        "Acme Inc.",
        "https://acme.example/",
        "We make anvils.",
    )
    event = last_event()
    assert event.tag == "organization:updated"
    assert event.details == {"fields": ["description", "display_name", "link_url"]}


def test_an_edit_that_changes_nothing_records_nothing(org, alice):
    before = Event.objects.count()
    organization_update(
        organization=org, display_name="", link_url="", description="", actor=Actor(alice)
    )
    assert Event.objects.count() == before


def test_a_deactivated_organization_cannot_be_changed(org, alice):
    Organization.objects.filter(pk=org.pk).update(is_active=False)
    with pytest.raises(OrganizationError, match="no longer active"):
        organization_update(
            organization=org, display_name="x", link_url="", description="", actor=Actor(alice)
        )


# --- Invitations --------------------------------------------------------------------


def test_an_invitation_expires_and_is_mailed_with_its_link(invited, org, alice, sam, settings):
    assert invited.user == sam
    assert (invited.role_name, invited.invited_by) == ("Member", alice)
    expected = timezone.now() + timedelta(seconds=settings.ROLE_INVITATION_MAX_AGE)
    assert abs((invited.expires_at - expected).total_seconds()) < 60
    (message,) = mail.outbox
    assert message.to == ["sam@example.com"]
    assert "Acme" in message.subject and "Member" in message.subject
    assert "/manage/organizations/invitation/?token=" in message.body
    assert "alice invited you to be Member of the organization Acme" in message.body
    event = last_event()
    assert (event.tag, event.user, event.organization) == (
        "organization:member:invited",
        sam,
        org,
    )
    assert event.details == {"role": "Member"}


def test_the_mailed_link_is_absolute_with_a_request(
    org, alice, sam, django_capture_on_commit_callbacks
):
    request = RequestFactory().post("/")
    with django_capture_on_commit_callbacks(execute=True):
        invitation_create(
            organization=org, who="sam", role_name="Owner", actor=Actor(alice), request=request
        )
    assert "http://testserver/manage/organizations/invitation/?token=" in mail.outbox[0].body


def test_someone_is_invited_by_a_verified_address_in_any_case(org, alice, sam):
    Email.objects.create(user=sam, email="Sam.Work@Example.com", verified=True)
    invitation = invitation_create(
        organization=org, who=" sam.work@example.COM ", role_name="Manager", actor=Actor(alice)
    )
    assert invitation.user == sam


def test_an_unverified_address_finds_nobody(org, alice, sam):
    Email.objects.create(user=sam, email="sam.work@example.com", verified=False)
    with pytest.raises(OrganizationError, match="No account has the verified address") as c:
        invitation_create(
            organization=org, who="sam.work@example.com", role_name="Member", actor=Actor(alice)
        )
    assert c.value.field == "who"


def test_an_unknown_username_is_refused(org, alice):
    with pytest.raises(OrganizationError, match="There is no user named 'ghost'"):
        invitation_create(organization=org, who="ghost", role_name="Member", actor=Actor(alice))


def test_an_unknown_role_is_refused(org, alice, sam):
    with pytest.raises(OrganizationError, match="Choose Owner, Manager or Member") as c:
        invitation_create(organization=org, who="sam", role_name="Admin", actor=Actor(alice))
    assert c.value.field == "role_name"


def test_a_member_is_not_invited_again(org, alice):
    with pytest.raises(OrganizationError, match="mia is already a member of Acme"):
        invitation_create(organization=org, who="mia", role_name="Owner", actor=Actor(alice))


def test_a_pending_invitation_is_not_duplicated(invited, org, alice):
    with pytest.raises(OrganizationError, match="already been invited"):
        invitation_create(organization=org, who="sam", role_name="Owner", actor=Actor(alice))


def test_an_expired_invitation_is_replaced(invited, org, alice):
    OrganizationInvitation.objects.update(expires_at=timezone.now())
    new = invitation_create(organization=org, who="sam", role_name="Owner", actor=Actor(alice))
    assert list(OrganizationInvitation.objects.all()) == [new]


def test_someone_without_a_verified_primary_address_cannot_be_invited(org, alice, sam):
    Email.objects.filter(user=sam).update(verified=False)
    with pytest.raises(OrganizationError, match="no verified e-mail address"):
        invitation_create(organization=org, who="sam", role_name="Member", actor=Actor(alice))
    assert not OrganizationInvitation.objects.exists()


def test_the_link_finds_its_invitation(invited, sam):
    assert invitation_from_token(invitation_token(invited), sam) == invited


@pytest.mark.parametrize(
    ("spoil", "status", "message"),
    [
        ("signature", 400, "not valid"),
        ("other-user", 403, "another account"),
        ("old-signature", 410, "expired"),
        ("past-expiry", 410, "expired"),
        ("answered", 410, "no longer valid"),
        ("deactivated", 410, "no longer valid"),
    ],
)
def test_a_link_that_cannot_be_used_says_why(invited, sam, mia, settings, spoil, status, message):
    token, user = invitation_token(invited), sam
    if spoil == "signature":
        token += "x"
    elif spoil == "other-user":
        user = mia
    elif spoil == "old-signature":
        settings.ROLE_INVITATION_MAX_AGE = -1
    elif spoil == "past-expiry":
        OrganizationInvitation.objects.update(expires_at=timezone.now())
    elif spoil == "answered":
        invited.delete()
    else:
        Organization.objects.update(is_active=False)
    with pytest.raises(InvitationLinkError, match=message) as caught:
        invitation_from_token(token, user)
    assert caught.value.status == status


def test_accepting_gives_the_role_and_uses_the_invitation_up(invited, org, sam):
    role = invitation_accept(invitation=invited, actor=Actor(sam))
    assert (role.user, role.role_name) == (sam, "Member")
    assert not OrganizationInvitation.objects.exists()
    event = last_event()
    assert (event.tag, event.user, event.actor) == ("organization:member:added", sam, sam)
    assert event.details == {"role": "Member", "invited_by": "alice"}


def test_an_invitation_whose_inviter_is_gone_still_works(invited, org, sam, alice):
    OrganizationInvitation.objects.update(invited_by=None)
    invited.refresh_from_db()
    invitation_accept(invitation=invited, actor=Actor(sam))
    assert last_event().details["invited_by"] is None


def test_accepting_when_already_a_member_uses_it_up_and_says_so(invited, org, sam):
    OrganizationRole.objects.create(organization=org, user=sam, role_name="Manager")
    with pytest.raises(OrganizationError, match="already are a member"):
        invitation_accept(invitation=invited, actor=Actor(sam))
    assert not OrganizationInvitation.objects.exists()
    assert role_of(sam, org) == "Manager"


@pytest.mark.parametrize("answer", [invitation_accept, invitation_decline])
def test_only_the_invitee_answers(invited, alice, answer):
    with pytest.raises(PermissionDenied):
        answer(invitation=invited, actor=Actor(alice))
    with pytest.raises(PermissionDenied):
        answer(invitation=invited, actor=Actor(None))


@pytest.mark.parametrize("answer", [invitation_accept, invitation_decline])
def test_an_expired_invitation_cannot_be_answered(invited, sam, answer):
    OrganizationInvitation.objects.update(expires_at=timezone.now())
    with pytest.raises(OrganizationError, match="expired"):
        answer(invitation=invited, actor=Actor(sam))


@pytest.mark.parametrize("answer", [invitation_accept, invitation_decline])
def test_a_revoked_invitation_cannot_be_answered(invited, sam, alice, answer):
    invitation_revoke(invitation=invited, actor=Actor(alice))
    with pytest.raises(OrganizationError, match="no longer valid"):
        answer(invitation=invited, actor=Actor(sam))
    assert role_of(sam, invited.organization) is None


def test_declining_deletes_the_invitation(invited, org, sam):
    invitation_decline(invitation=invited, actor=Actor(sam))
    assert not OrganizationInvitation.objects.exists()
    assert role_of(sam, org) is None
    assert (last_event().tag, last_event().user) == ("organization:member:declined", sam)


def test_revoking_twice_is_refused(invited, alice, sam):
    invitation_revoke(invitation=invited, actor=Actor(alice))
    event = last_event()
    assert (event.tag, event.user, event.actor) == (
        "organization:member:invitation-revoked",
        sam,
        alice,
    )
    with pytest.raises(OrganizationError, match="already accepted, declined or revoked"):
        invitation_revoke(invitation=invited, actor=Actor(alice))


# --- Members ------------------------------------------------------------------------


def test_an_owner_changes_a_role(org, alice, mia):
    role = member_change_role(organization=org, user=mia, role_name="Manager", actor=Actor(alice))
    assert role.role_name == "Manager" == role_of(mia, org)
    event = last_event()
    assert (event.tag, event.user) == ("organization:member:role-changed", mia)
    assert event.details == {"old_role": "Member", "role": "Manager"}


def test_changing_to_the_same_role_is_refused(org, alice, mia):
    with pytest.raises(OrganizationError, match="mia already is Member"):
        member_change_role(organization=org, user=mia, role_name="Member", actor=Actor(alice))


def test_changing_to_an_unknown_role_is_refused(org, alice, mia):
    with pytest.raises(OrganizationError, match="Choose Owner"):
        member_change_role(organization=org, user=mia, role_name="owner", actor=Actor(alice))


def test_the_last_owner_stays_an_owner(org, alice):
    with pytest.raises(OrganizationError, match="last Owner of Acme"):
        member_change_role(organization=org, user=alice, role_name="Member", actor=Actor(alice))
    assert role_of(alice, org) == "Owner"


def test_an_owner_steps_down_once_there_is_another(org, alice, mark):
    member_change_role(organization=org, user=mark, role_name="Owner", actor=Actor(alice))
    member_change_role(organization=org, user=alice, role_name="Member", actor=Actor(alice))
    assert (role_of(alice, org), role_of(mark, org)) == ("Member", "Owner")


def test_the_role_of_a_non_member_cannot_change(org, alice, sam):
    with pytest.raises(OrganizationError, match="sam is not a member of Acme"):
        member_change_role(organization=org, user=sam, role_name="Member", actor=Actor(alice))


def test_removing_a_member_takes_their_teams_too(org, core, alice, mia):
    other_org = organization_create(name="Other", actor=Actor(mia))
    other_team = Team.objects.create(organization=other_org, name="x", normalized_name="x")
    TeamMember.objects.create(team=other_team, user=mia)
    member_remove(organization=org, user=mia, actor=Actor(alice))
    assert role_of(mia, org) is None
    assert not core.members.exists()
    # Their teams elsewhere stay.
    assert list(other_team.members.all()) == [mia]
    event = Event.objects.filter(organization=org).latest("id")
    assert (event.tag, event.user, event.actor) == ("organization:member:removed", mia, alice)
    assert event.details == {"role": "Member", "teams": ["core"]}


def test_anyone_may_leave(org, mia):
    member_remove(organization=org, user=mia, actor=Actor(mia))
    assert role_of(mia, org) is None


def test_the_last_owner_can_neither_leave_nor_be_removed(org, alice):
    with pytest.raises(OrganizationError, match="last Owner of Acme and cannot leave"):
        member_remove(organization=org, user=alice, actor=Actor(alice))
    assert role_of(alice, org) == "Owner"


def test_an_owner_removes_another_owner(org, alice, mark):
    member_change_role(organization=org, user=mark, role_name="Owner", actor=Actor(alice))
    member_remove(organization=org, user=alice, actor=Actor(mark))
    assert role_of(alice, org) is None


def test_removing_a_non_member_is_refused(org, alice, sam):
    with pytest.raises(OrganizationError, match="sam is not a member"):
        member_remove(organization=org, user=sam, actor=Actor(alice))


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    "postgresql" not in __import__("os").environ.get("DATABASE_URL", ""),
    reason="row locks need a database server with concurrent connections",
)
def test_two_owners_leaving_at_once_leave_one_owner(monkeypatch):
    """Both would see two Owners if they counted before either committed; the
    lock on the organization's row makes the second wait and count again."""
    alice, bob = verified_user("alice"), verified_user("bob")
    organization = organization_create(name="race", actor=Actor(alice))
    OrganizationRole.objects.create(organization=organization, user=bob, role_name="Owner")
    count = orgs._owners_left_without

    def slow_count(role):
        result = count(role)
        time.sleep(0.5)  # both would have counted by now, were they not serialized
        return result

    monkeypatch.setattr(orgs, "_owners_left_without", slow_count)
    outcomes = []

    def leave(user):
        try:
            member_remove(organization=organization, user=user, actor=Actor(user))
            outcomes.append("left")
        except OrganizationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=leave, args=(user,)) for user in (alice, bob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["left", "refused"]
    assert (
        OrganizationRole.objects.filter(organization=organization, role_name="Owner").count() == 1
    )
    Event.objects.all().delete()
    Organization.objects.all().delete()
    User.objects.all().delete()


# --- Teams --------------------------------------------------------------------------


def test_a_manager_creates_a_team(org, mark):
    team = team_create(organization=org, name=" Web_Devs ", actor=Actor(mark))
    assert (team.name, team.normalized_name, team.organization) == ("Web_Devs", "web-devs", org)
    assert orgs.team_by_name(org, "WEB.devs") == team
    event = last_event()
    assert (event.tag, event.organization, event.details) == (
        "organization:team:created",
        org,
        {"team": "Web_Devs"},
    )


def test_team_names_are_unique_in_an_organization_in_any_spelling(org, alice, mark):
    with pytest.raises(OrganizationError, match="already has a team named CORE") as c:
        team_create(organization=org, name="CORE", actor=Actor(mark))
    assert c.value.field == "name"
    # Another organization may have its own "core".
    other = organization_create(name="Other", actor=Actor(alice))
    assert team_create(organization=other, name="core", actor=Actor(alice)).organization == other


@pytest.mark.parametrize("name", ["", "a b", "x" * 51, "-core"])
def test_an_invalid_team_name_is_refused(org, alice, name):
    with pytest.raises(OrganizationError, match="A team name is made of") as c:
        team_create(organization=org, name=name, actor=Actor(alice))
    assert c.value.field == "name"


def test_a_team_is_renamed(org, core, mark):
    team = team_rename(team=core, name="Core-Devs", actor=Actor(mark))
    core.refresh_from_db()
    assert (
        (core.name, core.normalized_name)
        == ("Core-Devs", "core-devs")
        == (
            team.name,
            team.normalized_name,
        )
    )
    assert last_event().details == {"team": "Core-Devs", "old_name": "core"}


def test_a_team_keeps_its_name_in_another_spelling(org, core, mark):
    assert team_rename(team=core, name="CORE", actor=Actor(mark)).name == "CORE"


def test_renaming_to_the_same_name_or_a_taken_one_is_refused(org, core, mark):
    with pytest.raises(OrganizationError, match="already is named core"):
        team_rename(team=core, name="core", actor=Actor(mark))
    team_create(organization=org, name="web", actor=Actor(mark))
    with pytest.raises(OrganizationError, match="already has a team named Web"):
        team_rename(team=core, name="Web", actor=Actor(mark))


def test_a_deleted_team_cannot_be_renamed(org, core, mark):
    Team.objects.filter(pk=core.pk).delete()
    with pytest.raises(OrganizationError, match="no longer exists"):
        team_rename(team=core, name="other", actor=Actor(mark))


def test_a_team_is_deleted_with_its_memberships(org, core, mark, mia):
    team_delete(team=core, actor=Actor(mark))
    assert not Team.objects.exists()
    assert not TeamMember.objects.exists()
    assert role_of(mia, org) == "Member"
    event = last_event()
    assert (event.tag, event.details) == (
        "organization:team:deleted",
        {"team": "core", "members": ["mia"]},
    )


@pytest.mark.parametrize(("projects", "word"), [(1, "project;"), (2, "projects;")])
def test_a_team_holding_projects_is_not_deleted(org, core, mark, projects, word):
    for number in range(projects):
        project = Project.objects.create(
            name=f"p{number}", normalized_name=f"p{number}", organization=org
        )
        TeamRole.objects.create(team=core, project=project, role_name="Maintainer")
    with pytest.raises(OrganizationError, match=f"holds a role on {projects} {word}"):
        team_delete(team=core, actor=Actor(mark))
    assert Team.objects.filter(pk=core.pk).exists()


def test_a_member_of_the_organization_joins_a_team(org, core, mark, nina):
    membership = team_member_add(team=core, username=" nina ", actor=Actor(mark))
    assert (membership.team, membership.user) == (core, nina)
    event = last_event()
    assert (event.tag, event.user, event.details) == (
        "organization:team:member-added",
        nina,
        {"team": "core"},
    )


@pytest.mark.parametrize("username", ["sam", "ghost"])
def test_only_members_of_the_organization_join_its_teams(org, core, mark, sam, username):
    with pytest.raises(OrganizationError, match="only members join its teams") as c:
        team_member_add(team=core, username=username, actor=Actor(mark))
    assert c.value.field == "username"


def test_a_team_member_is_not_added_twice(org, core, mark):
    with pytest.raises(OrganizationError, match="mia already is in the team core"):
        team_member_add(team=core, username="mia", actor=Actor(mark))


def test_a_team_member_is_removed(org, core, mark, mia):
    team_member_remove(team=core, user=mia, actor=Actor(mark))
    assert not core.members.exists()
    assert role_of(mia, org) == "Member"
    assert (last_event().tag, last_event().user) == ("organization:team:member-removed", mia)
    with pytest.raises(OrganizationError, match="mia is not in the team core"):
        team_member_remove(team=core, user=mia, actor=Actor(mark))


# --- The permission matrix ------------------------------------------------------------

OWNER_ONLY = {"owner"}
TEAMS = {"owner", "manager"}


def _edit(org, core, actor):
    organization_update(
        organization=org, display_name="New", link_url="", description="", actor=actor
    )


def _invite(org, core, actor):
    invitation_create(organization=org, who="sam", role_name="Member", actor=actor)


def _revoke(org, core, actor):
    invitation = invitation_create(
        organization=org,
        who="sam",
        role_name="Member",
        actor=Actor(User.objects.get(username="alice")),
    )
    invitation_revoke(invitation=invitation, actor=actor)


def _change_role(org, core, actor):
    member_change_role(
        organization=org, user=User.objects.get(username="nina"), role_name="Manager", actor=actor
    )


def _remove_other(org, core, actor):
    member_remove(organization=org, user=User.objects.get(username="nina"), actor=actor)


def _team_create(org, core, actor):
    team_create(organization=org, name="web", actor=actor)


def _team_rename(org, core, actor):
    team_rename(team=core, name="kernel", actor=actor)


def _team_delete(org, core, actor):
    team_delete(team=core, actor=actor)


def _team_add(org, core, actor):
    team_member_add(team=core, username="nina", actor=actor)


def _team_remove(org, core, actor):
    team_member_remove(team=core, user=User.objects.get(username="mia"), actor=actor)


MATRIX = [
    (_edit, "organization:updated", OWNER_ONLY),
    (_invite, "organization:member:invited", OWNER_ONLY),
    (_revoke, "organization:member:invitation-revoked", OWNER_ONLY),
    (_change_role, "organization:member:role-changed", OWNER_ONLY),
    (_remove_other, "organization:member:removed", OWNER_ONLY),
    (_team_create, "organization:team:created", TEAMS),
    (_team_rename, "organization:team:renamed", TEAMS),
    (_team_delete, "organization:team:deleted", TEAMS),
    (_team_add, "organization:team:member-added", TEAMS),
    (_team_remove, "organization:team:member-removed", TEAMS),
]
WHO = {"owner": "alice", "manager": "mark", "member": "mia", "stranger": "sam"}


@pytest.mark.parametrize("who", ["owner", "manager", "member", "stranger", "anonymous"])
@pytest.mark.parametrize(
    ("action", "tag", "allowed"), MATRIX, ids=lambda x: getattr(x, "__name__", None)
)
def test_permission_matrix(org, core, sam, who, action, tag, allowed):
    actor = Actor(User.objects.get(username=WHO[who]) if who in WHO else None)
    if who in allowed:
        action(org, core, actor)
        assert Event.objects.filter(organization=org, tag=tag, actor=actor.user).exists()
    else:
        before = Event.objects.filter(tag=tag).count()
        with pytest.raises(PermissionDenied):
            action(org, core, actor)
        assert Event.objects.filter(tag=tag).count() == before


@pytest.mark.parametrize(
    ("role", "actions"),
    [
        ("Owner", set(orgs.OrganizationAction)),
        ("Manager", {"view", "manage-teams"}),
        ("Member", {"view"}),
        (None, set()),
    ],
)
def test_what_each_role_may_do(role, actions):
    assert {action for action in orgs.OrganizationAction if orgs.may(role, action)} == actions


def test_require_answers_the_role_or_refuses(org, alice, mia):
    assert orgs.require(alice, org, orgs.OrganizationAction.HISTORY) == "Owner"
    with pytest.raises(PermissionDenied):
        orgs.require(mia, org, orgs.OrganizationAction.HISTORY)


# --- Account deletion keeps every organization an Owner ----------------------------------


def test_the_only_owner_of_organizations_cannot_delete_the_account(org, alice):
    from accounts.services import AccountError, user_delete

    with pytest.raises(AccountError, match=r"only Owner of the organization Acme\. Make another"):
        user_delete(user=alice)
    other = organization_create(name="Beta", actor=Actor(alice))
    # A deactivated organization counts too: it may be reactivated.
    Organization.objects.filter(pk=other.pk).update(is_active=False)
    with pytest.raises(AccountError, match=r"only Owner of the organizations Acme, Beta\. Make"):
        user_delete(user=alice)
    assert User.objects.filter(pk=alice.pk).exists()


def test_an_owner_with_a_co_owner_may_delete_the_account(org, alice, mark):
    from accounts.services import user_delete

    assert orgs.sole_owner_organizations(alice) == ["Acme"]
    member_change_role(organization=org, user=mark, role_name="Owner", actor=Actor(alice))
    assert orgs.sole_owner_organizations(alice) == []
    user_delete(user=alice)
    assert list(org.roles.filter(role_name="Owner").values_list("user__username", flat=True)) == [
        "mark"
    ]
