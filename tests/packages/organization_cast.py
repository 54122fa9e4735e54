"""The cast of the organization tests: the Acme organization owning the
fixture project (tests.conftest), with one person in each way of acting on it.
A test module makes it with a fixture of its own:

    @pytest.fixture
    def cast(project, owner, maintainer, outsider):
        return organization_cast.build(project, owner, maintainer, outsider)

- org_owner (ophelia): Owner of Acme, so an Owner of the project;
- org_manager (manny): Manager of Acme, in no team;
- org_member (mel): Member of Acme, in no team;
- team_owner (tom): Member of Acme, in the team "Core", Owner of the project;
- team_maintainer (tina): Member of Acme, in the team "Devs", Maintainer of it;
- owner, maintainer (olivia, max): the project's own Owner and Maintainer;
- outsider (oscar): no one to Acme.
"""

from dataclasses import dataclass

from packaging.utils import canonicalize_name

from accounts.models import Organization, OrganizationRole, Team, TeamMember, User
from packages.models import Project, TeamRole
from tests.conftest import verified_user


def make_organization(name: str, *, owners=(), managers=(), members=(), **fields) -> Organization:
    """An organization with its people in their roles."""
    organization = Organization.objects.create(
        name=name, normalized_name=canonicalize_name(name), **fields
    )
    for role_name, users in [("Owner", owners), ("Manager", managers), ("Member", members)]:
        for user in users:
            OrganizationRole.objects.create(
                organization=organization, user=user, role_name=role_name
            )
    return organization


def make_team(organization, name: str, *, members=(), roles=None) -> Team:
    """A team of ``organization`` with ``members`` (who should be its members
    too), holding ``roles``: {project: "Owner" | "Maintainer"}."""
    team = Team.objects.create(
        organization=organization, name=name, normalized_name=canonicalize_name(name)
    )
    for user in members:
        TeamMember.objects.create(team=team, user=user)
    for project, role_name in (roles or {}).items():
        TeamRole.objects.create(team=team, project=project, role_name=role_name)
    return team


@dataclass
class Cast:
    acme: Organization
    project: Project
    core: Team
    devs: Team
    org_owner: User
    org_manager: User
    org_member: User
    team_owner: User
    team_maintainer: User
    owner: User
    maintainer: User
    outsider: User

    def person(self, who: str) -> User | None:
        return None if who == "nobody" else getattr(self, who)


def build(project: Project, owner: User, maintainer: User, outsider: User) -> Cast:
    people = {
        "org_owner": verified_user("ophelia"),
        "org_manager": verified_user("manny"),
        "org_member": verified_user("mel"),
        "team_owner": verified_user("tom"),
        "team_maintainer": verified_user("tina"),
    }
    acme = make_organization(
        "Acme",
        owners=[people["org_owner"]],
        managers=[people["org_manager"]],
        members=[people["org_member"], people["team_owner"], people["team_maintainer"]],
    )
    project.organization = acme
    project.save(update_fields=["organization"])
    core = make_team(acme, "Core", members=[people["team_owner"]], roles={project: "Owner"})
    devs = make_team(
        acme, "Devs", members=[people["team_maintainer"]], roles={project: "Maintainer"}
    )
    return Cast(
        acme=acme,
        project=project,
        core=core,
        devs=devs,
        owner=owner,
        maintainer=maintainer,
        outsider=outsider,
        **people,
    )
