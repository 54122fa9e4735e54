"""PEP 792 statuses set by the moderators (``manage.py moderate archive|
unarchive|deprecate|undeprecate``): the same rules as for Owners
(packages.project_status), plus the moderation record. The ``reason`` is both
the record's and, for archive and deprecate, the status reason everyone sees."""

from django.db import transaction

from accounts.events import Actor
from packages.models import Project, ProjectStatus
from packages.project_status import ProjectStatusError, project_status_set

from .services import ModerationError, _reason, _record

# action: (status it sets, status it must undo or "", the record's name)
ACTIONS = {
    "archive": (ProjectStatus.ARCHIVED, "", "archive project"),
    "unarchive": (ProjectStatus.ACTIVE, ProjectStatus.ARCHIVED, "unarchive project"),
    "deprecate": (ProjectStatus.DEPRECATED, "", "deprecate project"),
    "undeprecate": (ProjectStatus.ACTIVE, ProjectStatus.DEPRECATED, "undeprecate project"),
}


def project_status_moderate(
    *, project: Project, action: str, actor: Actor, reason: str, successor: str = ""
) -> Project:
    """Do ``action`` (a key of ACTIONS) to ``project``, recorded with ``reason``."""
    reason = _reason(reason)
    status, only_from, record = ACTIONS[action]
    with transaction.atomic():
        try:
            project = project_status_set(
                project=project,
                status=status,
                # Going back to active keeps no reason; the record keeps it.
                reason=reason if status != ProjectStatus.ACTIVE else "",
                successor=successor,
                actor=actor,
                only_from=only_from,
            )
        except ProjectStatusError as exc:
            raise ModerationError(str(exc)) from None
        details = {"successor": project.successor.name} if project.successor_id else {}
        _record(record, actor=actor, reason=reason, project=project, **details)
    return project
