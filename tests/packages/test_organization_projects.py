"""packages.organization_projects: moving a project into an organization and
out, and the organization's teams' roles on it. Each change is one event in
both security histories; a move is journalled (the JSON API shows it)."""

import pytest
from django.core.exceptions import PermissionDenied

from accounts.events import Actor
from accounts.models import Event, OrganizationRole
from packages import organization_projects as services
from packages import policy
from packages.models import JournalEntry, Project, Role, TeamRole
from packages.organization_projects import OrganizationProjectError
from tests.factories import add_file, make_release, make_wheel
from tests.packages import organization_cast
from tests.packages.organization_cast import make_organization, make_team

pytestmark = pytest.mark.django_db

IP = "203.0.113.9"


@pytest.fixture
def cast(project, owner, maintainer, outsider):
    return organization_cast.build(project, owner, maintainer, outsider)


@pytest.fixture
def acme(owner):
    """An organization olivia (the fixture project's Owner) owns, with no project yet."""
    return make_organization("Acme", owners=[owner])


def actor(user) -> Actor:
    return Actor(user=user, ip_address=IP)


def journal_since(before: int) -> list[str]:
    return list(
        JournalEntry.objects.filter(id__gt=before).order_by("id").values_list("action", flat=True)
    )


def last_serial() -> int:
    return JournalEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def json_ownership(client, name="sample-project") -> dict:
    return client.get(f"/pypi/{name}/json").json()["ownership"]


# --- Moving in ---------------------------------------------------------------------------


def test_an_owner_of_both_moves_a_project_in(client, project, owner, maintainer, acme):
    add_file(make_release(project, "1.0"), make_wheel("sample-project", "1.0"))
    assert json_ownership(client)["organization"] is None
    before = last_serial()

    services.project_move_in(project=project, organization=acme, actor=actor(owner))

    project.refresh_from_db()
    assert project.organization == acme
    # People keep their own roles.
    assert set(project.roles.values_list("user__username", "role_name")) == {
        ("olivia", "Owner"),
        ("max", "Maintainer"),
    }
    event = Event.objects.get(tag="project:organization:added")
    assert (event.project, event.organization, event.actor) == (project, acme, owner)
    assert (event.project_name, event.organization_name, event.ip_address) == (
        "Sample.Project",
        "Acme",
        IP,
    )
    assert journal_since(before) == ["add to organization Acme"]
    assert project.last_serial == last_serial()
    # The JSON API's body is kept under the serial: the new one shows the move.
    assert json_ownership(client)["organization"] == "Acme"


def test_moving_in_makes_the_organizations_owners_owners(project, owner, outsider, acme):
    OrganizationRole.objects.create(organization=acme, user=outsider, role_name="Owner")
    assert policy.user_role(outsider, project) is None
    services.project_move_in(project=project, organization=acme, actor=actor(owner))
    assert policy.user_role(outsider, Project.objects.get(pk=project.pk)) == "Owner"


@pytest.mark.parametrize(
    ("project_role", "organization_role", "message"),
    [
        ("Maintainer", "Owner", "Only an Owner of the project"),
        (None, "Owner", "Only an Owner of the project"),
        ("Owner", "Manager", "Only an Owner of the organization"),
        ("Owner", "Member", "Only an Owner of the organization"),
        ("Owner", None, "Only an Owner of the organization"),
    ],
)
def test_moving_in_is_for_an_owner_of_both(
    project, outsider, project_role, organization_role, message
):
    acme = make_organization("Acme")
    if project_role:
        Role.objects.create(project=project, user=outsider, role_name=project_role)
    if organization_role:
        OrganizationRole.objects.create(
            organization=acme, user=outsider, role_name=organization_role
        )
    with pytest.raises(PermissionDenied, match=message):
        services.project_move_in(project=project, organization=acme, actor=actor(outsider))
    assert Project.objects.get(pk=project.pk).organization is None
    assert not Event.objects.filter(tag__startswith="project:organization").exists()


def test_nobody_moves_a_project_into_a_deactivated_organization(project, owner, acme):
    acme.is_active = False
    acme.save()
    with pytest.raises(PermissionDenied):
        services.project_move_in(project=project, organization=acme, actor=actor(owner))


def test_a_project_of_the_organization_is_not_moved_in_again(project, owner, acme):
    services.project_move_in(project=project, organization=acme, actor=actor(owner))
    before = last_serial()
    with pytest.raises(OrganizationProjectError, match="already belongs to Acme") as refused:
        services.project_move_in(project=project, organization=acme, actor=actor(owner))
    assert refused.value.field == "organization"
    assert journal_since(before) == []


def test_a_project_of_another_organization_must_be_moved_out_first(project, owner, acme):
    other = make_organization("Other", owners=[owner])
    services.project_move_in(project=project, organization=other, actor=actor(owner))
    with pytest.raises(OrganizationProjectError, match="belongs to the organization Other"):
        services.project_move_in(project=project, organization=acme, actor=actor(owner))
    assert Project.objects.get(pk=project.pk).organization == other


def test_moving_a_deleted_project(project, owner, acme):
    Project.objects.filter(pk=project.pk).delete()
    with pytest.raises(OrganizationProjectError, match="no longer exists"):
        services.project_move_in(project=project, organization=acme, actor=actor(owner))


# --- Moving out ---------------------------------------------------------------------------


def test_an_owner_of_the_organization_moves_a_project_out(client, cast):
    add_file(make_release(cast.project, "1.0"), make_wheel("sample-project", "1.0"))
    assert json_ownership(client)["organization"] == "Acme"
    before = last_serial()

    services.project_move_out(project=cast.project, actor=actor(cast.org_owner))

    project = Project.objects.get(pk=cast.project.pk)
    assert project.organization is None
    # The teams are the organization's: their roles go; people keep theirs.
    assert not TeamRole.objects.filter(project=project).exists()
    assert policy.user_role(cast.team_owner, project) is None
    assert policy.user_role(cast.org_owner, project) is None
    assert policy.user_role(cast.owner, project) == "Owner"
    event = Event.objects.get(tag="project:organization:removed")
    assert (event.project, event.organization, event.actor) == (project, cast.acme, cast.org_owner)
    assert event.details == {"teams": ["Core", "Devs"], "made_owner": None}
    assert journal_since(before) == ["remove from organization Acme"]
    assert json_ownership(client)["organization"] is None


def test_the_mover_becomes_owner_when_nobody_owns_it_in_person(cast):
    Role.objects.filter(project=cast.project, user=cast.owner).delete()
    before = last_serial()

    services.project_move_out(project=cast.project, actor=actor(cast.org_owner))

    assert Role.objects.get(project=cast.project, user=cast.org_owner).role_name == "Owner"
    event = Event.objects.get(tag="project:organization:removed")
    assert event.details["made_owner"] == "ophelia"
    assert journal_since(before) == ["remove from organization Acme", "add Owner ophelia"]


def test_a_mover_who_maintains_it_in_person_becomes_its_owner(cast):
    Role.objects.filter(project=cast.project, user=cast.owner).delete()
    Role.objects.create(project=cast.project, user=cast.org_owner, role_name="Maintainer")
    services.project_move_out(project=cast.project, actor=actor(cast.org_owner))
    assert Role.objects.get(project=cast.project, user=cast.org_owner).role_name == "Owner"


@pytest.mark.parametrize("who", ["org_manager", "org_member", "team_owner", "owner", "outsider"])
def test_moving_out_is_for_the_organizations_owners(cast, who):
    with pytest.raises(PermissionDenied, match=policy.ORGANIZATION_OWNERS_ONLY):
        services.project_move_out(project=cast.project, actor=actor(cast.person(who)))
    assert Project.objects.get(pk=cast.project.pk).organization == cast.acme
    assert TeamRole.objects.filter(project=cast.project).count() == 2


def test_a_project_of_no_organization_is_not_moved_out(project, owner):
    with pytest.raises(OrganizationProjectError, match="belongs to no organization"):
        services.project_move_out(project=project, actor=actor(owner))


# --- Teams' roles ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["org_owner", "org_manager"])
def test_owners_and_managers_give_a_team_a_role(cast, who):
    qa = make_team(cast.acme, "QA", members=[cast.org_member])
    before = last_serial()

    team_role = services.team_role_set(
        project=cast.project, team=qa, role_name="Maintainer", actor=actor(cast.person(who))
    )

    assert (team_role.team, team_role.project, team_role.role_name) == (
        qa,
        cast.project,
        "Maintainer",
    )
    assert policy.user_role(cast.org_member, cast.project) == "Maintainer"
    event = Event.objects.get(tag="project:team-role:added")
    assert (event.project, event.organization, event.actor) == (
        cast.project,
        cast.acme,
        cast.person(who),
    )
    assert event.details == {"team": "QA", "role": "Maintainer"}
    # Shown on no public surface: no journal entry.
    assert journal_since(before) == []


def test_a_teams_role_is_changed(cast):
    services.team_role_set(
        project=cast.project, team=cast.devs, role_name="Owner", actor=actor(cast.org_manager)
    )
    assert policy.user_role(cast.team_maintainer, cast.project) == "Owner"
    event = Event.objects.get(tag="project:team-role:changed")
    assert event.details == {"team": "Devs", "old_role": "Maintainer", "role": "Owner"}
    assert event.organization == cast.acme


def test_a_team_already_holding_the_role(cast):
    with pytest.raises(OrganizationProjectError, match="already is Maintainer") as refused:
        services.team_role_set(
            project=cast.project,
            team=cast.devs,
            role_name="Maintainer",
            actor=actor(cast.org_manager),
        )
    assert refused.value.field == "role_name"


def test_a_teams_role_is_removed(cast):
    services.team_role_remove(project=cast.project, team=cast.core, actor=actor(cast.org_owner))
    assert policy.user_role(cast.team_owner, cast.project) is None
    event = Event.objects.get(tag="project:team-role:removed")
    assert (event.project, event.organization) == (cast.project, cast.acme)
    assert event.details == {"team": "Core", "role": "Owner"}


def test_removing_a_role_the_team_does_not_hold(cast):
    qa = make_team(cast.acme, "QA")
    with pytest.raises(OrganizationProjectError, match="holds no role") as refused:
        services.team_role_remove(project=cast.project, team=qa, actor=actor(cast.org_owner))
    assert refused.value.field == "team"


@pytest.mark.parametrize("who", ["org_member", "team_owner", "owner", "outsider"])
def test_team_roles_are_for_owners_and_managers(cast, who):
    user = cast.person(who)
    with pytest.raises(PermissionDenied, match=policy.ORGANIZATION_MANAGERS_ONLY):
        services.team_role_set(
            project=cast.project, team=cast.devs, role_name="Owner", actor=actor(user)
        )
    with pytest.raises(PermissionDenied, match=policy.ORGANIZATION_MANAGERS_ONLY):
        services.team_role_remove(project=cast.project, team=cast.devs, actor=actor(user))
    assert TeamRole.objects.get(team=cast.devs).role_name == "Maintainer"


def test_a_team_holds_roles_only_on_its_organizations_projects(cast):
    alone = Project.objects.create(name="alone", normalized_name="alone")
    with pytest.raises(OrganizationProjectError, match="does not belong to Acme") as refused:
        services.team_role_set(
            project=alone, team=cast.devs, role_name="Owner", actor=actor(cast.org_owner)
        )
    assert refused.value.field == "project"
    # Nor may another organization's Owner give its team Acme's project.
    other = make_organization("Other", owners=[cast.outsider])
    intruders = make_team(other, "Intruders", members=[cast.outsider])
    with pytest.raises(OrganizationProjectError, match="does not belong to Other"):
        services.team_role_set(
            project=cast.project, team=intruders, role_name="Owner", actor=actor(cast.outsider)
        )


def test_an_unknown_role_is_refused(cast):
    with pytest.raises(OrganizationProjectError, match="Choose Owner or Maintainer"):
        services.team_role_set(
            project=cast.project, team=cast.devs, role_name="Admin", actor=actor(cast.org_owner)
        )


def test_team_roles_in_a_deactivated_organization_are_frozen(cast):
    cast.acme.is_active = False
    cast.acme.save()
    team = type(cast.devs).objects.select_related("organization").get(pk=cast.devs.pk)
    with pytest.raises(PermissionDenied):
        services.team_role_remove(project=cast.project, team=team, actor=actor(cast.org_owner))


# --- Reading -------------------------------------------------------------------------------


def test_public_projects_are_the_visible_ones_by_name(cast, owner):
    from django.utils import timezone

    for name in ("zeta", "alpha", "hidden"):
        Project.objects.create(name=name, normalized_name=name, organization=cast.acme)
    Project.objects.filter(name="hidden").update(quarantined_at=timezone.now())
    Project.objects.create(name="elsewhere", normalized_name="elsewhere")
    page = services.public_projects(cast.acme, None)
    assert [item.name for item in page.object_list] == ["alpha", "Sample.Project", "zeta"]
    assert page.paginator.count == 3


def test_managed_projects_list_each_projects_teams(cast):
    other = Project.objects.create(name="other", normalized_name="other", organization=cast.acme)
    page = services.managed_projects(cast.acme, "1")
    held = {
        project.name: [(item.team.name, item.role_name) for item in project.team_roles_held]
        for project in page.object_list
    }
    assert held == {
        "other": [],
        "Sample.Project": [("Core", "Owner"), ("Devs", "Maintainer")],
    }
    assert other in page.object_list


def test_projects_to_move_in_are_the_users_own_outside_organizations(cast, owner, outsider):
    mine = Project.objects.create(name="mine", normalized_name="mine")
    Role.objects.create(project=mine, user=owner, role_name="Owner")
    kept = Project.objects.create(name="kept", normalized_name="kept")
    Role.objects.create(project=kept, user=owner, role_name="Maintainer")
    # The fixture project belongs to Acme already.
    assert services.projects_to_move_in(owner) == [mine]
    assert services.projects_to_move_in(outsider) == []


# --- People's roles on an organization's project (packages.collaborators) ---------------------


def test_the_last_personal_owner_of_an_organizations_project_may_leave(cast):
    from packages.collaborators import role_remove

    role_remove(project=cast.project, user=cast.owner, actor=actor(cast.owner))
    assert not Role.objects.filter(project=cast.project, role_name="Owner").exists()
    # The organization's Owners still own it.
    assert policy.user_role(cast.org_owner, cast.project) == "Owner"


def test_an_organizations_owner_manages_the_collaborators(cast):
    from packages.collaborators import role_change

    role_change(
        project=cast.project, user=cast.owner, role_name="Maintainer", actor=actor(cast.org_owner)
    )
    assert Role.objects.get(project=cast.project, user=cast.owner).role_name == "Maintainer"


def test_a_team_maintainer_may_not_manage_the_collaborators(cast):
    from packages.collaborators import role_remove

    with pytest.raises(PermissionDenied):
        role_remove(project=cast.project, user=cast.maintainer, actor=actor(cast.team_maintainer))


def test_a_deleted_team_is_given_no_role(cast):
    qa = make_team(cast.acme, "QA")
    type(qa).objects.filter(pk=qa.pk).delete()
    with pytest.raises(OrganizationProjectError, match="no longer exists") as refused:
        services.team_role_set(
            project=cast.project, team=qa, role_name="Owner", actor=actor(cast.org_owner)
        )
    assert refused.value.field == "team"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    "postgresql" not in __import__("os").environ.get("DATABASE_URL", ""),
    reason="row locks need a database server with concurrent connections",
)
def test_a_team_deleted_while_it_is_given_a_role(monkeypatch):
    """The deletion counts the team's roles under the team's row lock, which
    the role's change holds from before its check to its commit: the deletion
    waits, sees the new role and is refused, instead of deleting the team
    under the change (whose insert would then fail)."""
    import threading
    import time

    from django.db import connection

    from accounts import organizations
    from accounts.models import Team, User
    from accounts.organizations import OrganizationError
    from tests.conftest import verified_user

    boss = verified_user("boss")
    acme = make_organization("Acme", owners=[boss])
    project = Project.objects.create(name="race", normalized_name="race", organization=acme)
    qa = make_team(acme, "QA")
    check = policy.require_may_assign_teams

    def slow_check(user, organization):
        check(user, organization)
        time.sleep(0.5)  # the deletion has started by now

    monkeypatch.setattr(policy, "require_may_assign_teams", slow_check)
    outcomes = {}

    def give():
        try:
            services.team_role_set(project=project, team=qa, role_name="Owner", actor=actor(boss))
            outcomes["give"] = "given"
        finally:
            connection.close()

    def delete():
        try:
            organizations.team_delete(team=qa, actor=actor(boss))
            outcomes["delete"] = "deleted"
        except OrganizationError:
            outcomes["delete"] = "refused"
        finally:
            connection.close()

    giving = threading.Thread(target=give)
    giving.start()
    time.sleep(0.2)
    deleting = threading.Thread(target=delete)
    deleting.start()
    giving.join()
    deleting.join()
    assert outcomes == {"give": "given", "delete": "refused"}
    assert TeamRole.objects.get(team=qa).role_name == "Owner"
    assert Team.objects.filter(pk=qa.pk).exists()
    Project.objects.all().delete()
    acme.delete()
    User.objects.all().delete()


# --- What caches must forget ---------------------------------------------------------------


def _refused_url() -> str:
    """An edge where nothing listens (no purge is tried here: nothing commits)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_move_purges_the_projects_pages_at_the_edges(cast, settings):
    from packages.models import EdgePurge

    settings.EDGE_PURGE_URLS = [_refused_url()]
    services.team_role_set(
        project=cast.project, team=cast.devs, role_name="Owner", actor=actor(cast.org_owner)
    )
    # Which team holds it is on no page: nothing to forget.
    assert not EdgePurge.objects.exists()
    services.project_move_out(project=cast.project, actor=actor(cast.org_owner))
    keys = set(EdgePurge.objects.values_list("keys", flat=True).first().split())
    assert {"json-sample-project", "project-sample-project"} <= keys
