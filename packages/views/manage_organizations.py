"""Management pages of organizations' projects: a project's "Organization &
teams" page (/manage/project/<name>/organization/), and an organization's
projects (/manage/organization/<name>/projects/) with the changes both post to.

Access as on the other management pages: sign-in and 2FA; a project the user
holds no role on, or an organization they are not a member of, answers 404,
exactly as an unknown one does. Who may change what is packages.policy's, asked
by the services of packages.organization_projects (a refusal is a 403). These
views parse, call one service and redirect with a message.
"""

from functools import wraps

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts.models import Organization, OrganizationRole
from accounts.organizations import organization_by_name, organization_role

from .. import organization_projects as services
from .. import policy
from ..models import Project, Role
from ..policy import Action
from ._manage_common import change
from .manage import _posted_id, _project_context, project_page, signed_in_page

# The organization segment is named ``organization``: ``name`` is the
# project's in the project pages' decorator.


def organization_member_page(view):
    """Resolve ``organization`` to an active organization the user is a
    member of (404 otherwise); other spellings go to the normalized URL."""

    @wraps(view)
    def wrapped(request: HttpRequest, organization: str) -> HttpResponse:
        found = organization_by_name(organization)
        role = organization_role(request.user, found) if found is not None else None
        if role is None:
            raise Http404("No such organization.")
        if organization != found.normalized_name and request.method in ("GET", "HEAD"):
            return redirect(
                request.resolver_match.url_name, organization=found.normalized_name, permanent=True
            )
        return view(request, found, role)

    return signed_in_page(wrapped)


def organization_context(organization: Organization, role: str, section: str) -> dict:
    return {
        "organization": organization,
        "role": role,
        "is_owner": role == OrganizationRole.Name.OWNER,
        "section": section,
    }


class ProjectNameForm(forms.Form):
    # A CharField refuses a NUL; no project name is longer than its column.
    project = forms.CharField(max_length=Project._meta.get_field("name").max_length)


class OrganizationNameForm(forms.Form):
    organization = forms.CharField(max_length=Organization._meta.get_field("name").max_length)


def _posted_project(request: HttpRequest, projects) -> Project:
    """The project the form names, among ``projects``: 404 otherwise."""
    form = ProjectNameForm(request.POST)
    project = projects.by_name(form.cleaned_data["project"]) if form.is_valid() else None
    if project is None:
        raise Http404("No such project.")
    return project


def _back(request: HttpRequest, organization: Organization, project: Project) -> HttpResponse:
    # The project's own page when the form was there, else the organization's list.
    if request.POST.get("next") == "project":
        return redirect("manage-project-organization", name=project.normalized_name)
    return redirect("manage-organization-projects", organization=organization.normalized_name)


def _change(request: HttpRequest, service, done: str, **arguments) -> None:
    """``service`` as the signed-in user; a refusal the person can act on is
    the message (PermissionDenied goes on, to be a 403)."""
    change(request, service, done, refused=services.OrganizationProjectError, **arguments)


def _move_in(request: HttpRequest, project: Project, organization: Organization) -> None:
    _change(
        request,
        services.project_move_in,
        f"{project.name} now belongs to {organization.name}.",
        project=project,
        organization=organization,
    )


# --- A project's organization and teams ---------------------------------------------------


@project_page()
@require_safe
def project_organization(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    organization = project.organization
    held = organization_role(request.user, organization) if organization is not None else None
    context = _project_context(project, role, "organization")
    context.update(
        organization=organization,
        organization_active=organization is not None and organization.is_active,
        team_roles=services.project_team_roles(project),
        may_move_out=held == OrganizationRole.Name.OWNER,
        may_assign_teams=organization is not None
        and policy.may_assign_teams(request.user, organization),
        teams=organization.teams.order_by("normalized_name") if organization else [],
        role_choices=Role.Name.choices,
        # Organizations this project could move into: those the user owns.
        owned_organizations=(
            Organization.objects.filter(
                is_active=True,
                roles__user=request.user,
                roles__role_name=OrganizationRole.Name.OWNER,
            ).order_by("normalized_name")
            if organization is None and role == Role.Name.OWNER
            else []
        ),
    )
    return render(request, "manage/project_organization.html", context)


@project_page(Action.SETTINGS)
@require_POST
def project_move_in(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    form = OrganizationNameForm(request.POST)
    valid = form.is_valid()
    organization = organization_by_name(form.cleaned_data["organization"]) if valid else None
    back = redirect("manage-project-organization", name=project.normalized_name)
    if organization is None:
        messages.error(request, "Choose one of your organizations.")
        return back
    _move_in(request, project, organization)
    return back


# --- An organization's projects ------------------------------------------------------------


@organization_member_page
@require_safe
def organization_projects(
    request: HttpRequest, organization: Organization, role: str
) -> HttpResponse:
    context = organization_context(organization, role, "projects")
    context.update(
        may_assign_teams=policy.may_assign_teams(request.user, organization),
        page=services.managed_projects(organization, request.GET.get("page")),
        teams=organization.teams.order_by("normalized_name"),
        role_choices=Role.Name.choices,
        movable=services.projects_to_move_in(request.user) if context["is_owner"] else [],
    )
    return render(request, "manage/organization_projects.html", context)


@organization_member_page
@require_POST
def organization_project_add(
    request: HttpRequest, organization: Organization, role: str
) -> HttpResponse:
    # Among the user's own projects: no other project's existence is told.
    project = _posted_project(request, policy.projects_with_role(request.user))
    _move_in(request, project, organization)
    return _back(request, organization, project)


@organization_member_page
@require_POST
def organization_project_remove(
    request: HttpRequest, organization: Organization, role: str
) -> HttpResponse:
    project = _posted_project(request, organization.projects.all())
    _change(
        request,
        services.project_move_out,
        f"{project.name} no longer belongs to {organization.name}.",
        project=project,
    )
    # Its page in the organization is gone; the mover may have no role left on it.
    return redirect("manage-organization-projects", organization=organization.normalized_name)


def _posted_team(request: HttpRequest, organization: Organization):
    return get_object_or_404(organization.teams, pk=_posted_id(request, "team"))


@organization_member_page
@require_POST
def team_role_set(request: HttpRequest, organization: Organization, role: str) -> HttpResponse:
    project = _posted_project(request, organization.projects.all())
    team = _posted_team(request, organization)
    role_name = request.POST.get("role_name", "")
    _change(
        request,
        services.team_role_set,
        f"The team {team.name} is {role_name} of {project.name}.",
        project=project,
        team=team,
        role_name=role_name,
    )
    return _back(request, organization, project)


@organization_member_page
@require_POST
def team_role_remove(request: HttpRequest, organization: Organization, role: str) -> HttpResponse:
    project = _posted_project(request, organization.projects.all())
    team = _posted_team(request, organization)
    _change(
        request,
        services.team_role_remove,
        f"The team {team.name} no longer holds {project.name}.",
        project=project,
        team=team,
    )
    return _back(request, organization, project)
