"""Project management pages, under /manage/: the user's projects and
invitations, and per project its releases and files, collaborators, security
history and deletion.

Every page needs sign-in and (with REQUIRE_2FA_TO_MANAGE) 2FA. A project the
user has no role on answers 404, exactly as an unknown one does, so the pages
never tell who works on what. Who may do what is packages.policy's (Maintainers
see releases and collaborators; changing anything but their own role is for
Owners, 403); the changes are packages.services' and packages.collaborators'.
These views parse, authorize, call one of them and redirect with a message.
"""

from functools import wraps

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe
from django.views.defaults import page_not_found, permission_denied

from accounts.events import Actor
from accounts.models import Event, User
from accounts.two_factor import two_factor_required
from accounts.views.invitations import answer_invitation, invitation_link_page

from .. import advisories, collaborators, services
from ..models import Project, Release, Role, RoleInvitation
from ..organization_projects import projects_through_organizations
from ..pages import find_release
from ..policy import Action, require_role, user_role
from ._manage_common import change

HISTORY_PAGE_SIZE = 50


# --- Access ---------------------------------------------------------------------------


def signed_in_page(view):
    """Sign-in and 2FA first; never_cache outermost, so the redirects and the
    refusals (rendered here rather than by the handler, which would send them
    without it) are never cached either."""

    @wraps(view)
    def refusals_rendered(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Http404 as exc:
            return page_not_found(request, exc)
        except PermissionDenied as exc:
            return permission_denied(request, exc)

    return never_cache(two_factor_required(refusals_rendered))


def project_page(action: Action = Action.VIEW):
    """Resolve ``name`` to a project the user holds a role on (404 otherwise),
    send other spellings to the normalized URL, and refuse (403) a role the
    policy does not allow ``action``. The view gets the project and the role."""

    def decorator(view):
        @wraps(view)
        def wrapped(request: HttpRequest, name: str, **kwargs) -> HttpResponse:
            project = Project.objects.by_name(name)
            role = user_role(request.user, project) if project is not None else None
            if role is None:
                raise Http404("No such project.")
            if name != project.normalized_name and request.method in ("GET", "HEAD"):
                # After the role check: the redirect must not reveal a project
                # the user cannot see.
                return redirect(
                    request.resolver_match.url_name,
                    name=project.normalized_name,
                    permanent=True,
                    **kwargs,
                )
            require_role(role, action)
            return view(request, project, role, **kwargs)

        return signed_in_page(wrapped)

    return decorator


def _release_or_404(project: Project, version: str) -> Release:
    release = find_release(project, version)
    if release is None:
        raise Http404("No such release.")
    return release


def _posted_id(request: HttpRequest, field: str) -> int:
    """The row id a form posted, or 0, which no row has: "abc" or a NUL as an
    id would make the query fail (a 500) instead of finding nothing."""
    value = request.POST.get(field, "")
    return int(value) if value.isascii() and value.isdigit() else 0


def _project_context(project: Project, role: str, section: str) -> dict:
    return {
        "project": project,
        "role": role,
        "is_owner": role == Role.Name.OWNER,
        "section": section,
    }


# --- Your projects and invitations ---------------------------------------------------


@signed_in_page
@require_safe
def manage_projects(request: HttpRequest) -> HttpResponse:
    latest = Release.objects.filter(project=OuterRef("project")).order_by("-created_at", "-pk")
    roles = (
        Role.objects.filter(user=request.user)
        .select_related("project")
        .annotate(
            latest_version=Subquery(latest.values("version")[:1]),
            last_released_at=Subquery(latest.values("created_at")[:1]),
        )
        .order_by("project__normalized_name")
    )
    invitations = RoleInvitation.objects.filter(
        user=request.user, expires_at__gt=timezone.now()
    ).select_related("project", "invited_by")
    context = {
        "roles": roles,
        "invitations": invitations,
        # Held through an organization: as its Owner, or in a team (listed apart).
        "through_organizations": projects_through_organizations(request.user),
    }
    return render(request, "manage/projects.html", context)


def _answer_invitation(request: HttpRequest, invitation: RoleInvitation) -> HttpResponse:
    return answer_invitation(
        request,
        invitation,
        collaborators.INVITATIONS,
        accept=collaborators.invitation_accept,
        decline=collaborators.invitation_decline,
        accepted_url_name="manage-project",
        list_url_name="manage-projects",
    )


@signed_in_page
def invitation_link(request: HttpRequest) -> HttpResponse:
    """Where the e-mailed link leads: the invitee confirms, with a POST."""
    return invitation_link_page(
        request,
        collaborators.INVITATIONS,
        template="manage/invitation.html",
        answer=_answer_invitation,
    )


@signed_in_page
@require_POST
def invitation_answer(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept or decline from the list on "Your projects"."""
    invitation = get_object_or_404(
        RoleInvitation.objects.select_related("project"), pk=pk, user=request.user
    )
    return _answer_invitation(request, invitation)


# --- Releases and files -------------------------------------------------------------


@project_page()
@require_safe
def project_releases(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    releases = project.releases.only(
        "version", "created_at", "yanked", "yanked_reason", "is_prerelease", "project_id"
    ).order_by("-created_at", "-pk")
    context = _project_context(project, role, "releases")
    context["releases"] = releases
    return render(request, "manage/project_releases.html", context)


@project_page()
@require_safe
def release_files(request: HttpRequest, project: Project, role: str, version: str) -> HttpResponse:
    release = _release_or_404(project, version)
    context = _project_context(project, role, "releases")
    context.update(release=release, files=release.files.all())
    context["advisories"] = advisories.release_advisories(release)
    return render(request, "manage/release.html", context)


def _release_change(request: HttpRequest, service, done: str, **arguments) -> None:
    change(request, service, done, refused=services.ReleaseError, **arguments)


def _back_to_releases(project: Project) -> HttpResponse:
    return redirect("manage-project", name=project.normalized_name)


class YankForm(forms.Form):
    # A CharField refuses a NUL (PostgreSQL would refuse to store it).
    reason = forms.CharField(required=False)


@project_page(Action.YANK)
@require_POST
def release_yank(request: HttpRequest, project: Project, role: str, version: str) -> HttpResponse:
    release = _release_or_404(project, version)
    form = YankForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"The reason: {' '.join(form.errors['reason'])}")
        return _back_to_releases(project)
    _release_change(
        request,
        services.release_yank,
        f"{project.name} {release.version} is yanked.",
        release=release,
        reason=form.cleaned_data["reason"],
    )
    return _back_to_releases(project)


@project_page(Action.YANK)
@require_POST
def release_unyank(request: HttpRequest, project: Project, role: str, version: str) -> HttpResponse:
    release = _release_or_404(project, version)
    _release_change(
        request,
        services.release_unyank,
        f"{project.name} {release.version} is no longer yanked.",
        release=release,
    )
    return _back_to_releases(project)


def _confirmed(request: HttpRequest, expected: str) -> bool:
    return request.POST.get("confirm", "").strip() == expected


@project_page(Action.DELETE)
@require_POST
def release_delete(request: HttpRequest, project: Project, role: str, version: str) -> HttpResponse:
    release = _release_or_404(project, version)
    if not _confirmed(request, release.version):
        messages.error(request, f"Type the version {release.version} to confirm the deletion.")
        return redirect("manage-release", name=project.normalized_name, version=release.version)
    # Found a moment ago; a delete committed in between is refused.
    _release_change(
        request,
        services.release_delete,
        f"{project.name} {release.version} and its files are deleted.",
        release=release,
    )
    return _back_to_releases(project)


@project_page(Action.DELETE)
@require_POST
def file_delete(request: HttpRequest, project: Project, role: str, version: str) -> HttpResponse:
    release = _release_or_404(project, version)
    file = get_object_or_404(release.files, pk=_posted_id(request, "file"))
    back = redirect("manage-release", name=project.normalized_name, version=release.version)
    if not _confirmed(request, file.filename):
        messages.error(request, f"Type the filename {file.filename} to confirm the deletion.")
        return back
    _release_change(request, services.file_delete, f"{file.filename} is deleted.", file=file)
    return back


# --- Collaborators --------------------------------------------------------------------


class InviteForm(forms.Form):
    username = forms.CharField(max_length=150)
    role_name = forms.ChoiceField(
        label="Role", choices=Role.Name.choices, initial=Role.Name.MAINTAINER
    )


def _render_collaborators(
    request: HttpRequest, project: Project, role: str, form: InviteForm, status: int = 200
) -> HttpResponse:
    context = _project_context(project, role, "collaborators")
    context.update(
        form=form,
        roles=project.roles.select_related("user").order_by("role_name", "user__username"),
        invitations=project.invitations.select_related("user", "invited_by"),
        now=timezone.now(),
        role_choices=Role.Name.choices,
    )
    return render(request, "manage/collaborators.html", context, status=status)


def _back_to_collaborators(project: Project) -> HttpResponse:
    return redirect("manage-collaborators", name=project.normalized_name)


@project_page()
@require_safe
def project_collaborators(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    return _render_collaborators(request, project, role, InviteForm())


@project_page(Action.INVITE)
@require_POST
def collaborator_invite(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = collaborators.invitation_create(
                project=project,
                username=form.cleaned_data["username"],
                role_name=form.cleaned_data["role_name"],
                actor=Actor.from_request(request),
                request=request,
            )
        except collaborators.CollaboratorError as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(
                request,
                f"{invitation.user.username} is invited as {invitation.role_name}; "
                "they have been sent an e-mail to accept.",
            )
            return _back_to_collaborators(project)
    return _render_collaborators(request, project, role, form, status=400)


class CollaboratorForm(forms.Form):
    username = forms.CharField(max_length=150)


def _collaborator(project: Project, request: HttpRequest) -> User:
    form = CollaboratorForm(request.POST)
    if not form.is_valid():
        # Empty, too long, a NUL: nobody's username.
        raise Http404("No such collaborator.")
    return get_object_or_404(User, username=form.cleaned_data["username"], roles__project=project)


@project_page(Action.CHANGE_ROLES)
@require_POST
def collaborator_change(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    user = _collaborator(project, request)
    try:
        changed = collaborators.role_change(
            project=project,
            user=user,
            role_name=request.POST.get("role_name", ""),
            actor=Actor.from_request(request),
        )
    except collaborators.CollaboratorError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{user.username} is now {changed.role_name}.")
    return _back_to_collaborators(project)


@project_page()
@require_POST
def collaborator_remove(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    """An Owner removes a collaborator, or anyone leaves (their own username)."""
    user = _collaborator(project, request)
    leaving = user.pk == request.user.pk
    try:
        # The service refuses (403) a Maintainer removing someone else.
        collaborators.role_remove(project=project, user=user, actor=Actor.from_request(request))
    except collaborators.CollaboratorError as exc:
        messages.error(request, exc.message)
        return _back_to_collaborators(project)
    if leaving:
        messages.success(request, f"You left {project.name}.")
        return redirect("manage-projects")
    messages.success(request, f"{user.username} no longer has a role on {project.name}.")
    return _back_to_collaborators(project)


@project_page(Action.INVITE)
@require_POST
def invitation_revoke(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    invitation = get_object_or_404(
        project.invitations.select_related("user"), pk=_posted_id(request, "invitation")
    )
    # Found a moment ago; a concurrent answer makes the service refuse.
    try:
        collaborators.invitation_revoke(invitation=invitation, actor=Actor.from_request(request))
    except collaborators.CollaboratorError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The invitation of {invitation.user.username} is revoked.")
    return _back_to_collaborators(project)


# --- History and settings -------------------------------------------------------------


@project_page(Action.HISTORY)
@require_safe
def project_history(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    events = Event.objects.filter(project=project).select_related("actor", "user")
    page = Paginator(events, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = _project_context(project, role, "history")
    context["page"] = page
    return render(request, "manage/history.html", context)


@project_page(Action.SETTINGS)
@require_safe
def project_settings(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    return render(request, "manage/settings.html", _project_context(project, role, "settings"))


@project_page(Action.DELETE)
@require_POST
def project_delete(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    if not _confirmed(request, project.name):
        messages.error(request, f"Type the project name {project.name} to confirm the deletion.")
        return redirect("manage-project-settings", name=project.normalized_name)
    _release_change(
        request, services.project_delete, f"{project.name} is deleted.", project=project
    )
    return redirect("manage-projects")
