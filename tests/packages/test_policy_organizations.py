"""packages.policy for an organization's projects: a person's role on a project
is the strongest of their own, Owner for the organization's Owners, and their
teams' roles. The matrix: every Action against each way of (not) belonging."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from accounts import services as account_services
from accounts.models import OrganizationRole, TeamMember
from accounts.tokens import api_token_create
from packages import policy, roles
from packages.models import Project, Role, TeamRole
from packages.policy import Action, UploadError
from tests.packages import organization_cast
from tests.packages.organization_cast import make_organization, make_team

pytestmark = pytest.mark.django_db

EVERY = set(Action)
MAINTAINER = {Action.VIEW, Action.UPLOAD}
NOTHING: set = set()
ORGANIZATION_PEOPLE = ["org_owner", "org_manager", "org_member", "team_owner", "team_maintainer"]


@pytest.fixture
def cast(project, owner, maintainer, outsider):
    return organization_cast.build(project, owner, maintainer, outsider)


def _deactivate(organization):
    organization.is_active = False
    organization.save(update_fields=["is_active"])


@pytest.mark.parametrize(
    ("who", "role", "allowed"),
    [
        ("org_owner", "Owner", EVERY),
        ("org_manager", None, NOTHING),
        ("org_member", None, NOTHING),
        ("team_owner", "Owner", EVERY),
        ("team_maintainer", "Maintainer", MAINTAINER),
        ("outsider", None, NOTHING),
        # The project's own people keep their roles in the organization.
        ("owner", "Owner", EVERY),
        ("maintainer", "Maintainer", MAINTAINER),
        ("nobody", None, NOTHING),
    ],
)
@pytest.mark.parametrize("action", list(Action))
def test_permission_matrix(cast, who, role, allowed, action):
    user = cast.person(who)
    assert policy.user_role(user, cast.project) == role
    assert policy.may(user, cast.project, action) is (action in allowed)


@pytest.mark.parametrize("who", ORGANIZATION_PEOPLE)
@pytest.mark.parametrize("action", list(Action))
def test_nobody_acts_through_a_deactivated_organization(cast, who, action):
    _deactivate(cast.acme)
    project = Project.objects.get(pk=cast.project.pk)
    assert policy.user_role(cast.person(who), project) is None
    assert policy.may(cast.person(who), project, action) is False


@pytest.mark.parametrize("action", list(Action))
def test_personal_roles_hold_in_a_deactivated_organization(cast, action):
    _deactivate(cast.acme)
    assert policy.may(cast.owner, Project.objects.get(pk=cast.project.pk), action) is True


@pytest.mark.parametrize("action", list(Action))
def test_anonymous_may_not_act(cast, action):
    assert policy.may(AnonymousUser(), cast.project, action) is False


@pytest.mark.parametrize("who", ["org_owner", "team_owner", "team_maintainer"])
def test_a_deactivated_account_acts_through_nothing(cast, who):
    user = cast.person(who)
    user.is_active = False
    user.save()
    assert policy.user_role(user, cast.project) is None


def test_a_team_member_who_left_the_organization_acts_through_no_team(cast):
    # A team membership left behind (the organization's own removal takes it
    # away too; the rule does not depend on it).
    OrganizationRole.objects.filter(user=cast.team_owner).delete()
    assert policy.user_role(cast.team_owner, cast.project) is None
    assert cast.project not in roles.projects_with_role(cast.team_owner)


def test_the_strongest_role_wins(cast):
    # A Maintainer in person who is in an Owner team acts as an Owner ...
    OrganizationRole.objects.create(
        organization=cast.acme, user=cast.maintainer, role_name="Member"
    )
    TeamMember.objects.create(team=cast.core, user=cast.maintainer)
    assert policy.user_role(cast.maintainer, cast.project) == "Owner"
    # ... as does a Maintainer in person who owns the organization ...
    Role.objects.create(project=cast.project, user=cast.org_owner, role_name="Maintainer")
    assert policy.user_role(cast.org_owner, cast.project) == "Owner"
    # ... and someone in two teams, Maintainer and Owner.
    TeamMember.objects.create(team=cast.core, user=cast.team_maintainer)
    assert policy.user_role(cast.team_maintainer, cast.project) == "Owner"


def test_a_team_role_counts_only_on_its_organizations_projects(cast):
    # A project of no organization: a team row naming it gives nothing.
    alone = Project.objects.create(name="alone", normalized_name="alone")
    TeamRole.objects.create(team=cast.core, project=alone, role_name="Owner")
    assert policy.user_role(cast.team_owner, alone) is None
    # Another organization's team on Acme's project gives nothing either.
    other = make_organization("Other", members=[cast.outsider])
    make_team(other, "Intruders", members=[cast.outsider], roles={cast.project: "Owner"})
    assert policy.user_role(cast.outsider, cast.project) is None
    assert cast.project not in roles.projects_with_role(cast.outsider)


def test_the_owner_of_another_organization_is_no_owner(cast):
    make_organization("Other", owners=[cast.outsider])
    assert policy.user_role(cast.outsider, cast.project) is None


def test_a_personal_owner_costs_one_query(project, owner, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert policy.user_role(owner, project) == "Owner"


def test_a_team_member_costs_a_fixed_number_of_queries(cast, django_assert_num_queries):
    project = Project.objects.get(pk=cast.project.pk)
    # Their own role, the organization, their role in it, their teams' roles.
    with django_assert_num_queries(4):
        assert policy.user_role(cast.team_maintainer, project) == "Maintainer"


# --- Uploads -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["org_owner", "team_owner", "team_maintainer"])
def test_the_organizations_people_may_upload(cast, who):
    policy.check_user_upload_to(cast.person(who), cast.project.name, cast.project)


@pytest.mark.parametrize("who", ["org_manager", "org_member", "outsider"])
def test_others_may_not_upload(cast, who):
    user = cast.person(who)
    with pytest.raises(UploadError) as refused:
        policy.check_user_upload_to(user, cast.project.name, cast.project)
    assert refused.value.status == 403
    assert f"The user '{user.username}' isn't allowed to upload" in refused.value.message


def test_a_token_scoped_to_a_team_project(cast):
    token = api_token_create(
        user=cast.team_maintainer, description="ci", projects=[cast.project]
    ).token
    policy.check_upload_to(token, cast.project.name, cast.project)
    # The team loses the project: the scope no longer grants anything.
    TeamRole.objects.filter(project=cast.project).delete()
    with pytest.raises(UploadError) as refused:
        policy.check_upload_to(token, cast.project.name, cast.project)
    assert refused.value.status == 403


# --- Projects with a role (accounts asks: token scopes, account deletion) ---------------


def test_projects_with_role_include_the_organizations(cast):
    other = Project.objects.create(name="other", normalized_name="other")
    Role.objects.create(project=other, user=cast.team_maintainer, role_name="Owner")
    assert list(roles.projects_with_role(cast.org_owner)) == [cast.project]
    assert list(roles.projects_with_role(cast.team_owner)) == [cast.project]
    mine = roles.projects_with_role(cast.team_maintainer).order_by("pk")
    assert list(mine) == [cast.project, other]
    assert list(roles.projects_with_role(cast.org_manager)) == []
    assert list(roles.projects_with_role(cast.outsider)) == []


def test_projects_with_role_leave_out_a_deactivated_organizations(cast):
    _deactivate(cast.acme)
    assert list(roles.projects_with_role(cast.org_owner)) == []
    assert list(roles.projects_with_role(cast.team_owner)) == []
    assert list(roles.projects_with_role(cast.owner)) == [cast.project]


# --- Keeping an Owner ------------------------------------------------------------------


def test_the_last_personal_owner_of_an_organizations_project_may_go(cast):
    role = Role.objects.get(project=cast.project, user=cast.owner)
    assert policy.leaves_no_owner(role) is False
    assert roles.sole_owner_projects(cast.owner) == []


def test_without_an_organization_the_last_owner_stays(project, owner):
    role = Role.objects.get(project=project, user=owner)
    assert policy.leaves_no_owner(role) is True
    assert roles.sole_owner_projects(owner) == ["Sample.Project"]


def test_a_deactivated_organization_keeps_no_owner(cast):
    _deactivate(cast.acme)
    role = Role.objects.select_related("project").get(project=cast.project, user=cast.owner)
    assert policy.leaves_no_owner(role) is True
    assert roles.sole_owner_projects(cast.owner) == ["Sample.Project"]


def test_an_organization_without_owners_keeps_none(cast):
    OrganizationRole.objects.filter(organization=cast.acme, role_name="Owner").delete()
    role = Role.objects.get(project=cast.project, user=cast.owner)
    assert policy.leaves_no_owner(role) is True


def test_a_maintainer_role_never_leaves_no_owner(cast):
    assert policy.leaves_no_owner(Role.objects.get(user=cast.maintainer)) is False


def test_the_only_owner_of_the_organization_is_sole_owner_of_its_projects(cast):
    # olivia still owns it in person.
    assert roles.sole_owner_projects(cast.org_owner) == []
    Role.objects.filter(project=cast.project, user=cast.owner).delete()
    assert roles.sole_owner_projects(cast.org_owner) == ["Sample.Project"]
    assert roles.sole_owner_projects(cast.org_owner, lock=True) == ["Sample.Project"]


def test_a_second_organization_owner_keeps_its_projects_owned(cast):
    Role.objects.filter(project=cast.project, user=cast.owner).delete()
    OrganizationRole.objects.create(organization=cast.acme, user=cast.outsider, role_name="Owner")
    assert roles.sole_owner_projects(cast.org_owner) == []
    assert roles.sole_owner_projects(cast.outsider) == []


def test_the_account_of_the_sole_owner_through_an_organization_stays(cast):
    Role.objects.filter(project=cast.project, user=cast.owner).delete()
    with pytest.raises(account_services.AccountError, match=r"Sample\.Project"):
        account_services.user_delete(user=cast.org_owner)


# --- Organization rules ------------------------------------------------------------------


def test_moving_in_needs_an_owner_of_both(project, owner, outsider):
    acme = make_organization("Acme", owners=[owner, outsider])
    policy.require_may_move_in(owner, project, acme)
    # An Owner of the organization, not of the project.
    with pytest.raises(PermissionDenied, match="Owner of the project"):
        policy.require_may_move_in(outsider, project, acme)
    # An Owner of the project, only a Manager of the organization.
    OrganizationRole.objects.filter(user=owner).update(role_name="Manager")
    with pytest.raises(PermissionDenied, match=policy.ORGANIZATION_OWNERS_ONLY):
        policy.require_may_move_in(owner, project, acme)


@pytest.mark.parametrize(
    ("who", "may_move_out", "may_assign"),
    [
        ("org_owner", True, True),
        ("org_manager", False, True),
        ("org_member", False, False),
        ("team_owner", False, False),
        ("owner", False, False),
        ("outsider", False, False),
    ],
)
def test_organization_rules(cast, who, may_move_out, may_assign):
    user = cast.person(who)
    assert policy.may_assign_teams(user, cast.acme) is may_assign
    if may_move_out:
        policy.require_may_move_out(user, cast.acme)
    else:
        with pytest.raises(PermissionDenied, match=policy.ORGANIZATION_OWNERS_ONLY):
            policy.require_may_move_out(user, cast.acme)
    if may_assign:
        policy.require_may_assign_teams(user, cast.acme)
    else:
        with pytest.raises(PermissionDenied, match=policy.ORGANIZATION_MANAGERS_ONLY):
            policy.require_may_assign_teams(user, cast.acme)
