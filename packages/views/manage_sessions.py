"""/manage/project/<name>/sessions/: the project's staged releases (PEP 694
publishing sessions, packages.upload_sessions) for its people to see, try from
their preview index, publish or cancel; and the Owners' option that every
upload goes through one (packages.staged_releases).

Who may do what is packages.policy's: every Owner and Maintainer sees the open
sessions and their files; Owners publish any of them; a session is cancelled by
an Owner or by whoever opened it. A session of another project, a closed one
or a malformed id is a 404 or a 400, never a 500.
"""

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from .. import staged_releases, upload_sessions
from ..models import Project, UploadSession
from ..policy import CANCEL_REFUSED, Action, UploadError, may_cancel_session, role_may
from ._manage_common import change, posted_form
from .manage import _project_context, project_page


class SessionForm(forms.Form):
    session = forms.UUIDField(label="Session")


class PublishForm(SessionForm):
    # The version typed again: publishing can't be undone (files are immutable).
    confirm = forms.CharField(max_length=100, label="Confirmation")


class RequireForm(forms.Form):
    required = forms.TypedChoiceField(
        label="Require sessions",
        choices=[("on", "on"), ("off", "off")],
        coerce=lambda value: value == "on",
    )


@dataclass(frozen=True)
class SessionRow:
    session: UploadSession
    files: list
    preview_url: str
    may_cancel: bool

    @property
    def requirement(self) -> str:
        return f"{self.session.name}=={self.session.version}"


def _rows(request: HttpRequest, project: Project, role: str) -> list[SessionRow]:
    sessions = (
        upload_sessions.sessions_of(project)
        .select_related("created_by")
        .prefetch_related("files")
        .order_by("created_at", "pk")
    )
    return [
        SessionRow(
            session=session,
            files=list(session.files.all()),
            preview_url=request.build_absolute_uri(upload_sessions.preview_url(session)),
            may_cancel=may_cancel_session(request.user, role, session),
        )
        for session in sessions
    ]


def _render(request: HttpRequest, project: Project, role: str, status: int = 200) -> HttpResponse:
    context = _project_context(project, role, "sessions")
    context.update(
        rows=_rows(request, project, role),
        may_publish=role_may(role, Action.PUBLISH_SESSIONS),
        may_require=role_may(role, Action.SETTINGS),
        simple_index_url=request.build_absolute_uri(reverse("simple-index")),
    )
    return render(request, "manage/sessions.html", context, status=status)


def _back(project: Project) -> HttpResponse:
    return redirect("manage-project-sessions", name=project.normalized_name)


def _open_session(project: Project, data: dict) -> UploadSession:
    session = upload_sessions.sessions_of(project).filter(uuid=data["session"]).first()
    if session is None:
        # Another project's, published, cancelled or expired a moment ago.
        raise Http404(f"{project.name} has no open session with this id.")
    return session


def _session_change(request, project, role, service, done, **arguments) -> HttpResponse:
    """Publish or cancel: back to the list when done; the page again, saying
    why, when the service refuses (the session changed meanwhile: 409)."""
    if change(request, service, done, refused=UploadError, **arguments):
        return _back(project)
    return _render(request, project, role, status=409)


@project_page()
@require_safe
def project_sessions(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    return _render(request, project, role)


@project_page(Action.PUBLISH_SESSIONS)
@require_POST
def session_publish(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    data = posted_form(request, PublishForm)
    if data is None:
        return _render(request, project, role, status=400)
    session = _open_session(project, data)
    if data["confirm"].strip() != session.version:
        messages.error(request, f"Type the version {session.version} to confirm publishing it.")
        return _render(request, project, role, status=400)
    return _session_change(
        request,
        project,
        role,
        upload_sessions.publish_session,
        lambda files: (
            f"{session.name} {session.version} is published with {len(files)} "
            f"file{'' if len(files) == 1 else 's'}."
        ),
        session=session,
    )


@project_page()
@require_POST
def session_cancel(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    data = posted_form(request, SessionForm)
    if data is None:
        return _render(request, project, role, status=400)
    session = _open_session(project, data)
    if not may_cancel_session(request.user, role, session):
        raise PermissionDenied(CANCEL_REFUSED)
    return _session_change(
        request,
        project,
        role,
        upload_sessions.cancel_session,
        f"The session of {session.name} {session.version} is cancelled: its files are gone.",
        session=session,
    )


@project_page(Action.SETTINGS)
@require_POST
def sessions_require(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    data = posted_form(request, RequireForm)
    if data is None:
        return _render(request, project, role, status=400)
    if change(
        request,
        staged_releases.project_require_sessions_set,
        lambda changed: (
            f"Every upload to {changed.name} now waits in a session until an Owner publishes it."
            if changed.require_upload_sessions
            else f"Uploads to {changed.name} are published at once again."
        ),
        refused=staged_releases.StagedReleaseError,
        project=project,
        required=data["required"],
    ):
        return _back(project)
    return _render(request, project, role, status=409)
