"""Organizations' projects: moving a project into an organization and out of
it, and which of the organization's teams holds which role on it.

Who may is packages.policy's: a project moves in by someone who is an Owner of
both (then every Owner of the organization is an Owner of the project), and out
by an Owner of the organization; the organization's Owners and Managers say
which team holds which of its projects. A project moved out keeps its personal
roles, loses its teams' (they are the organization's), and is never left
without an Owner: when nobody holds an Owner role in person, the Owner of the
organization who moved it out becomes one.

Each change runs under the project's row lock (as every role change does,
packages.collaborators) and is recorded in both security histories, the
project's and the organization's, with one event. A move changes the JSON
API's ``ownership.organization`` (and the project's page), whose bodies are
kept under the project's serial: it is journalled, as a change of people's
roles is, and the pages are purged. Which team holds a project is shown on no
public surface, so a team's role is neither journalled nor purged.

A refused change raises OrganizationProjectError (a message meant for the
person), or PermissionDenied when the actor may not do it at all.
"""

from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import F

from accounts.events import Actor, record_event
from accounts.models import Organization, OrganizationRole, Team

from . import policy
from .journal import JournalLine, journal_and_purge
from .models import Project, Role, TeamRole
from .pages import _summary_of

# Projects on one page of an organization's public page, as search shows them.
PUBLIC_PAGE_SIZE = 20
# Rows on one page of the organization's management list.
MANAGE_PAGE_SIZE = 50


class OrganizationProjectError(Exception):
    """A refused change. ``field`` names the form field it concerns."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def _lock_project(project: Project) -> Project:
    try:
        return Project.objects.locked(pk=project.pk)
    except Project.DoesNotExist:
        raise OrganizationProjectError(f"Project {project.name} no longer exists.") from None


# --- Moving a project ------------------------------------------------------------------


def project_move_in(*, project: Project, organization: Organization, actor: Actor) -> Project:
    """Make ``organization`` the owner of ``project``; its people keep their roles."""
    with transaction.atomic():
        project = _lock_project(project)
        policy.require_may_move_in(actor.user, project, organization)
        if project.organization_id == organization.pk:
            raise OrganizationProjectError(
                f"{project.name} already belongs to {organization.name}.", field="organization"
            )
        if project.organization_id is not None:
            # Moving straight from one organization to another would need an
            # Owner of both to agree in one step; two steps say it plainly.
            raise OrganizationProjectError(
                f"{project.name} belongs to the organization {project.organization.name}; "
                "an Owner of that organization must move it out first.",
                field="organization",
            )
        project.organization = organization
        project.save(update_fields=["organization"])
        record_event(
            "project:organization:added", project=project, organization=organization, actor=actor
        )
        line = JournalLine(f"add to organization {organization.name}")
        journal_and_purge(project=project, entries=[line], actor=actor)
    return project


def project_move_out(*, project: Project, actor: Actor) -> Project:
    """Take ``project`` out of its organization. Its teams' roles go; when no
    one holds an Owner role in person, the mover (an Owner of the
    organization, so an Owner of the project until now) becomes its Owner."""
    with transaction.atomic():
        project = _lock_project(project)
        organization = project.organization
        if organization is None:
            raise OrganizationProjectError(f"{project.name} belongs to no organization.")
        policy.require_may_move_out(actor.user, organization)
        teams = sorted(
            TeamRole.objects.filter(project=project).values_list("team__name", flat=True)
        )
        TeamRole.objects.filter(project=project).delete()
        project.organization = None
        project.save(update_fields=["organization"])
        lines = [JournalLine(f"remove from organization {organization.name}")]
        made_owner = None
        if not Role.objects.filter(project=project, role_name=Role.Name.OWNER).exists():
            made_owner = actor.user.username
            Role.objects.update_or_create(
                project=project, user=actor.user, defaults={"role_name": Role.Name.OWNER}
            )
            lines.append(JournalLine(f"add {Role.Name.OWNER} {made_owner}"))
        record_event(
            "project:organization:removed",
            project=project,
            organization=organization,
            actor=actor,
            teams=teams,
            made_owner=made_owner,
        )
        journal_and_purge(project=project, entries=lines, actor=actor)
    return project


# --- Teams' roles ------------------------------------------------------------------------


def _check_role_name(role_name: str) -> None:
    if role_name not in Role.Name.values:
        raise OrganizationProjectError("Choose Owner or Maintainer.", field="role_name")


def _lock_for_team(project: Project, team: Team, actor: Actor) -> Project:
    """Inside a transaction: the project, locked, once ``actor`` may give
    ``team`` roles and the project is the team's organization's."""
    project = _lock_project(project)
    # Then the team's row: a team is deleted only while it holds no project
    # (accounts.organizations counts under this lock), so a role given at that
    # moment can't vanish with it, nor fail on a team already gone. The
    # organization's row before it, as accounts' own changes lock them (the
    # event written below reads it too): the other order deadlocks with a
    # deletion that holds the organization and waits for the team.
    Organization.objects.select_for_update().filter(pk=team.organization_id).first()
    if Team.objects.select_for_update().filter(pk=team.pk).first() is None:
        raise OrganizationProjectError(f"The team {team.name} no longer exists.", field="team")
    organization = team.organization
    policy.require_may_assign_teams(actor.user, organization)
    if project.organization_id != organization.pk:
        raise OrganizationProjectError(
            f"{project.name} does not belong to {organization.name}: its teams hold roles "
            "only on its own projects.",
            field="project",
        )
    return project


def _team_event(tag: str, project: Project, team: Team, actor: Actor, **details) -> None:
    # In the project's and the organization's security histories.
    record_event(
        tag, project=project, organization=team.organization, actor=actor, team=team.name, **details
    )


def team_role_set(*, project: Project, team: Team, role_name: str, actor: Actor) -> TeamRole:
    """Give ``team`` the role ``role_name`` on its organization's ``project``,
    or change the role it holds."""
    _check_role_name(role_name)
    with transaction.atomic():
        project = _lock_for_team(project, team, actor)
        team_role = TeamRole.objects.filter(team=team, project=project).first()
        if team_role is None:
            team_role = TeamRole.objects.create(team=team, project=project, role_name=role_name)
            _team_event("project:team-role:added", project, team, actor, role=role_name)
            return team_role
        old = team_role.role_name
        if old == role_name:
            raise OrganizationProjectError(
                f"The team {team.name} already is {role_name} of {project.name}.",
                field="role_name",
            )
        team_role.role_name = role_name
        team_role.save(update_fields=["role_name"])
        _team_event("project:team-role:changed", project, team, actor, old_role=old, role=role_name)
    return team_role


def team_role_remove(*, project: Project, team: Team, actor: Actor) -> None:
    """Take ``team``'s role on ``project`` away. The project keeps an Owner:
    the organization's Owners are its Owners."""
    with transaction.atomic():
        project = _lock_for_team(project, team, actor)
        team_role = TeamRole.objects.filter(team=team, project=project).first()
        if team_role is None:
            raise OrganizationProjectError(
                f"The team {team.name} holds no role on {project.name}.", field="team"
            )
        team_role.delete()
        _team_event("project:team-role:removed", project, team, actor, role=team_role.role_name)


# --- Reading ---------------------------------------------------------------------------


def public_projects(organization: Organization, page_number) -> Page:
    """One page of the projects ``organization`` owns, by name, as the public
    sees them (no quarantined project); a page number out of range gives the
    nearest page."""
    projects = (
        Project.objects.visible()
        .filter(organization=organization)
        .select_related("search_document")
        .order_by("normalized_name")
    )
    page = Paginator(projects, PUBLIC_PAGE_SIZE).get_page(page_number)
    page.object_list = [_summary_of(project) for project in page.object_list]
    return page


def managed_projects(organization: Organization, page_number) -> Page:
    """One page of every project ``organization`` owns, quarantined ones too,
    each with ``team_roles``: which of its teams holds which role on it."""
    projects = Project.objects.filter(organization=organization).order_by("normalized_name")
    page = Paginator(projects, MANAGE_PAGE_SIZE).get_page(page_number)
    page.object_list = list(page.object_list)
    by_project: dict[int, list[TeamRole]] = {project.pk: [] for project in page.object_list}
    team_roles = (
        TeamRole.objects.filter(project__in=page.object_list)
        .select_related("team")
        .order_by("team__normalized_name")
    )
    for team_role in team_roles:
        by_project[team_role.project_id].append(team_role)
    for project in page.object_list:
        project.team_roles_held = by_project[project.pk]
    return page


def project_team_roles(project: Project) -> list[TeamRole]:
    """The roles the teams of ``project``'s organization hold on it, by team."""
    return list(
        TeamRole.objects.filter(project=project, team__organization_id=project.organization_id)
        .select_related("team")
        .order_by("team__normalized_name")
    )


def projects_to_move_in(user) -> list[Project]:
    """The projects ``user`` could move into an organization they own: those
    they are an Owner of, in person, that belong to no organization yet."""
    return list(
        Project.objects.filter(
            organization__isnull=True, roles__user=user, roles__role_name=Role.Name.OWNER
        ).order_by("normalized_name")
    )


def projects_through_organizations(user) -> list[tuple[Project, str]]:
    """The projects ``user`` acts on only through an organization (as its
    Owner, or in a team holding a role), each with the role they hold, by
    name; "Your projects" lists them beside the user's own roles. A fixed
    number of queries, however many projects."""
    own = Role.objects.filter(user=user).values("project")
    projects = list(
        policy.projects_with_role(user)
        .exclude(pk__in=own)
        .select_related("organization")
        .order_by("normalized_name")
    )
    owned = set(
        OrganizationRole.objects.filter(
            user=user, role_name=OrganizationRole.Name.OWNER
        ).values_list("organization_id", flat=True)
    )
    held: dict[int, list[str]] = {}
    team_roles = TeamRole.objects.filter(
        project__in=projects,
        team__organization=F("project__organization"),
        team__memberships__user=user,
    ).values_list("project_id", "role_name")
    for project_id, role_name in team_roles:
        held.setdefault(project_id, []).append(role_name)
    return [
        (
            project,
            Role.Name.OWNER
            if project.organization_id in owned
            else policy.strongest_role(held[project.pk]),
        )
        for project in projects
    ]
