"""PEP 792 project status: the rules, written once.

A project is ``active`` (the default), ``archived`` (no more uploads; its files
stay installable), ``deprecated`` (like active, with a reason and maybe a
successor that installers may show) or ``quarantined`` (a moderator's,
``Project.quarantined_at``, which wins over the stored status: no uploads and
no files offered). Owners (packages.views.manage_status) and moderators
(moderation.project_status, ``manage.py moderate``) change the stored status
through ``project_status_set`` only; the upload asks ``check_accepts_uploads``;
the simple API, the JSON API, the pages and the feeds read ``status_json`` and
``status_note``.

Every change is a journal entry (mirrors see it: the project's serial moves and
they fetch its simple page again, whose ``project-status`` has changed) and an
event in the project's security history, and purges the project's pages.
"""

from typing import NotRequired

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

# pydantic (the JSON API's schema) reads TypedDicts from typing_extensions only.
from typing_extensions import TypedDict

from accounts.events import Actor, record_event

from .journal import JournalLine, journal_and_purge
from .models import Project, ProjectStatus

# One line, bounded: shown in installers' warnings, a meta tag and every page.
STATUS_REASON_MAX_LENGTH = 500

# What a change is called in the journal and the security history, by the
# status it leaves the project in (going back to active: by the one it leaves).
_CHANGES = {
    ProjectStatus.ARCHIVED: ("archive project", "project:status:archived"),
    ProjectStatus.DEPRECATED: ("deprecate project", "project:status:deprecated"),
}
_UNDO = {
    ProjectStatus.ARCHIVED: ("unarchive project", "project:status:unarchived"),
    ProjectStatus.DEPRECATED: ("undeprecate project", "project:status:undeprecated"),
}


class ProjectStatusError(Exception):
    """The status change can't be made; the message says why, for the person
    who asked (a web page, a command's output)."""


class StatusJson(TypedDict):
    """PEP 792's ``project-status``: the status, and its reason when one is set."""

    status: ProjectStatus
    reason: NotRequired[str]


def status_fields(status: str, reason: str) -> StatusJson:
    data: StatusJson = {"status": ProjectStatus(status)}
    if reason:
        data["reason"] = reason
    return data


def status_json(project: Project) -> StatusJson:
    """The status as the simple and JSON APIs carry it (a quarantine wins)."""
    return status_fields(project.project_status, project.project_status_reason)


def status_note(project: Project) -> str:
    """One sentence for a person (feeds, messages); "" for an active project."""
    status = project.project_status
    if status == ProjectStatus.ACTIVE:
        return ""
    parts = [f"{project.name} is {status}."]
    if reason := project.project_status_reason:
        parts.append(f"Reason: {reason.rstrip('.')}.")
    if status == ProjectStatus.DEPRECATED and project.successor_id is not None:
        parts.append(f"Use {project.successor.name} instead.")
    return " ".join(parts)


def clean_reason(reason: str) -> str:
    """The reason on one line, or ProjectStatusError when it is too long."""
    reason = " ".join((reason or "").split())
    if len(reason) > STATUS_REASON_MAX_LENGTH:
        raise ProjectStatusError(
            f"The reason is {len(reason)} characters long; at most "
            f"{STATUS_REASON_MAX_LENGTH} are kept."
        )
    return reason


def _successor(project: Project, name: str) -> Project | None:
    if not name:
        return None
    successor = Project.objects.visible().by_name(name)
    if successor is None:
        raise ProjectStatusError(f"There is no project named {name!r} to name as the successor.")
    if successor.pk == project.pk:
        raise ProjectStatusError("A project can't be its own successor.")
    return successor


def project_status_set(
    *,
    project: Project,
    status: str,
    reason: str = "",
    successor: str = "",
    actor: Actor,
    only_from: str = "",
) -> Project:
    """Set the stored status of ``project``: ``archived`` (``reason``
    optional), ``deprecated`` (``reason`` required, ``successor`` optional: the
    name of another existing project) or ``active`` (undoes either). A change
    that changes nothing is refused, so every entry records a real change.
    ``only_from``: refused unless the project is in that status now (the
    shell's ``unarchive`` of a project that is deprecated, not archived)."""
    if status not in (ProjectStatus.ACTIVE, ProjectStatus.ARCHIVED, ProjectStatus.DEPRECATED):
        # Quarantine is the moderators' own action (moderation.services).
        raise ProjectStatusError(
            f"{status!r} is not a status to set: use active, archived or deprecated."
        )
    status = ProjectStatus(status)
    reason = clean_reason(reason)
    if status == ProjectStatus.DEPRECATED and not reason:
        raise ProjectStatusError("Say why the project is deprecated: installers show the reason.")
    if status != ProjectStatus.DEPRECATED and successor:
        raise ProjectStatusError("Only a deprecated project names a successor.")
    if status == ProjectStatus.ACTIVE:
        reason = ""
    with transaction.atomic():
        # Locked: two Owners (or an Owner and a moderator) changing the status
        # at once journal one change each, the second seeing the first's result;
        # an upload to the project waits on this lock and then sees the status.
        try:
            project = Project.objects.locked(pk=project.pk)
        except Project.DoesNotExist:
            raise ProjectStatusError(f"Project {project.name} no longer exists.") from None
        previous = ProjectStatus(project.status)
        if only_from and previous != only_from:
            raise ProjectStatusError(f"{project.name} is not {only_from}: it is {previous}.")
        new_successor = _successor(project, successor)
        if (previous, project.status_reason, project.successor_id) == (
            status,
            reason,
            new_successor.pk if new_successor else None,
        ):
            raise ProjectStatusError(f"{project.name} is already {status}" + _as_asked(reason))
        project.status = status
        project.status_reason = reason
        project.successor = new_successor
        project.status_changed_at = timezone.now()
        project.save(update_fields=["status", "status_reason", "successor", "status_changed_at"])
        action, tag = _CHANGES.get(status) or _UNDO[previous]
        details = {"status": status.value, "previous": previous.value}
        if reason:
            details["reason"] = reason
        if new_successor is not None:
            details["successor"] = new_successor.name
        record_event(tag, project=project, actor=actor, **details)
        journal_and_purge(project=project, entries=[JournalLine(action)], actor=actor)
    return project


def _as_asked(reason: str) -> str:
    return " with this reason." if reason else "."


def check_accepts_uploads(project: Project) -> None:
    """PEP 792: an archived project takes no new files (a quarantine is
    refused before this, by packages.policy). 400, as for the other refusals of
    what the upload asks for; the message goes in the status line twine prints."""
    # Here, not at the top: packages.policy calls this function.
    from .policy import UploadError

    if project.status == ProjectStatus.ARCHIVED:
        status_url = reverse("manage-project-status", args=[project.normalized_name])
        raise UploadError(
            f"Project '{project.name}' is archived: it accepts no new uploads. "
            f"Its Owners can unarchive it at {status_url}."
        )


def quarantined_project(name: str) -> Project | None:
    """The quarantined local project ``name`` stands for, or None: the pages
    that hide a quarantined project's content still say that it is."""
    project = Project.objects.by_name(name)
    if project is None or project.quarantined_at is None:
        return None
    return project
