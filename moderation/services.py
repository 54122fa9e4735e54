"""Moderators' actions: the admin and ``manage.py moderate`` both call these.

Each takes the acting moderator as an ``actor`` (accounts.events.Actor: the
admin's request, or the shell) and a non-empty ``reason``, and records a
ModerationAction (who, when, why) in the same transaction as the change; the
events and journal entries it writes carry the actor's address. An
action that changes what mirrors see appends a journal entry as its last write
and purges the cached pages after commit. Failures raise ModerationError with a
message for the moderator.
"""

from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from accounts.events import Actor, record_event
from accounts.flags import SHOWN_ON_PAGES, store_flags_on_commit
from accounts.models import AdminFlag, User
from packages.cache import purge_project_on_commit
from packages.journal import journal_append
from packages.models import File, Project, Release
from packages.names import is_valid_project_name, normalize_project_name
from packages.purges import enqueue
from packages.services import (
    ReleaseError,
    file_delete,
    project_delete,
    release_delete,
    release_unyank,
    release_yank,
)
from packages.surrogate import PAGES_KEY

from .models import MalwareReport, ModerationAction, NameReview, ProhibitedName


class ModerationError(Exception):
    """The action can't be done; the message says why."""


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ModerationError("A reason is required: say why, for the record.")
    return reason


def _record(
    action: str,
    *,
    actor: Actor,
    reason: str,
    project: Project | None = None,
    project_name: str = "",
    target_user: User | None = None,
    **details,
) -> ModerationAction:
    return ModerationAction.objects.create(
        action=action,
        project=project,
        project_name=project.name if project is not None else project_name,
        target_user=target_user,
        moderator=actor.user,
        reason=reason,
        details=details,
    )


def _lock_project(project: Project) -> Project:
    try:
        return Project.objects.locked(pk=project.pk)
    except Project.DoesNotExist:
        raise ModerationError(f"Project {project.name} no longer exists.") from None


def _close_name_reviews(project: Project, actor: Actor) -> None:
    # A project a moderator has acted on needs no separate name review.
    NameReview.objects.filter(project=project, status=NameReview.Status.PENDING).update(
        status=NameReview.Status.ACTED, reviewed_by=actor.user, reviewed_at=timezone.now()
    )


# --- projects ---------------------------------------------------------------------------


def project_quarantine(*, project: Project, actor: Actor, reason: str) -> Project:
    """Hide the project from every public surface and refuse uploads to it."""
    reason = _reason(reason)
    with transaction.atomic():
        # Locked so two moderators quarantining at once record it once.
        project = _lock_project(project)
        if project.quarantined_at is not None:
            raise ModerationError(f"Project {project.name} is already quarantined.")
        project.quarantined_at = timezone.now()
        project.quarantine_reason = reason
        project.save(update_fields=["quarantined_at", "quarantine_reason"])
        _close_name_reviews(project, actor)
        _record("quarantine project", actor=actor, reason=reason, project=project)
        journal_append(project=project, action="quarantine project", actor=actor)
        purge_project_on_commit(project.normalized_name, files=True)
    return project


def project_unquarantine(*, project: Project, actor: Actor, reason: str) -> Project:
    """Undo a quarantine: the project is public again."""
    reason = _reason(reason)
    with transaction.atomic():
        project = _lock_project(project)
        if project.quarantined_at is None:
            raise ModerationError(f"Project {project.name} is not quarantined.")
        previous = project.quarantine_reason
        project.quarantined_at = None
        project.quarantine_reason = ""
        project.save(update_fields=["quarantined_at", "quarantine_reason"])
        _record(
            "release quarantine",
            actor=actor,
            reason=reason,
            project=project,
            quarantine_reason=previous,
        )
        journal_append(project=project, action="release quarantine", actor=actor)
        purge_project_on_commit(project.normalized_name, files=True)
    return project


def _add_prohibited_name(name: str, *, actor: Actor, reason: str) -> ProhibitedName:
    normalized = normalize_project_name(name)
    if ProhibitedName.objects.filter(normalized_name=normalized).exists():
        raise ModerationError(f"The name {name} is already prohibited.")
    return ProhibitedName.objects.create(
        name=name, normalized_name=normalized, reason=reason, created_by=actor.user
    )


def project_remove(
    *, project: Project, actor: Actor, reason: str, prohibit_name: bool = False
) -> None:
    """Delete the project (releases, files, roles); optionally prohibit its name."""
    reason = _reason(reason)
    with transaction.atomic():
        project = _lock_project(project)
        _close_name_reviews(project, actor)
        # Recorded before the delete, which sets the row's project to NULL; the
        # name stays.
        _record(
            "remove project",
            actor=actor,
            reason=reason,
            project=project,
            prohibit_name=prohibit_name,
        )
        if prohibit_name:
            _add_prohibited_name(project.name, actor=actor, reason=reason)
        # Journals and purges as its last writes.
        project_delete(project=project, actor=actor)


def project_limits_set(
    *,
    project: Project,
    actor: Actor,
    reason: str,
    upload_limit: int | None,
    total_size_limit: int | None,
) -> Project:
    """Per-project overrides of the file-size and total-size limits, in bytes
    (None: the site's default)."""
    reason = _reason(reason)
    for label, value in (("file size", upload_limit), ("total size", total_size_limit)):
        if value is not None and value <= 0:
            raise ModerationError(f"The {label} limit must be a positive number of bytes.")
    with transaction.atomic():
        project = _lock_project(project)
        before = {
            "upload_limit": project.upload_limit,
            "total_size_limit": project.total_size_limit,
        }
        project.upload_limit = upload_limit
        project.total_size_limit = total_size_limit
        project.save(update_fields=["upload_limit", "total_size_limit"])
        _record(
            "set limits",
            actor=actor,
            reason=reason,
            project=project,
            before=before,
            after={"upload_limit": upload_limit, "total_size_limit": total_size_limit},
        )
    return project


def name_prohibit(*, name: str, actor: Actor, reason: str) -> ProhibitedName:
    """Nobody may create a project of this name (or a look-alike of it) from now
    on. An existing project of that name is not touched."""
    reason = _reason(reason)
    name = (name or "").strip()
    if not is_valid_project_name(name):
        raise ModerationError(f"{name!r} is not a valid project name.")
    with transaction.atomic():
        prohibited = _add_prohibited_name(name, actor=actor, reason=reason)
        _record("prohibit name", actor=actor, reason=reason, project_name=name)
    return prohibited


# --- releases and files -----------------------------------------------------------------


def _release_action(action: str, release: Release, actor: Actor, reason: str, call) -> None:
    reason = _reason(reason)
    with transaction.atomic():
        _record(
            action,
            actor=actor,
            reason=reason,
            project=release.project,
            version=release.version,
        )
        try:
            call()  # journals as its last write
        except ReleaseError as exc:
            raise ModerationError(str(exc)) from None


def moderator_release_yank(*, release: Release, actor: Actor, reason: str) -> None:
    _release_action(
        "yank release",
        release,
        actor,
        reason,
        lambda: release_yank(release=release, reason=reason, actor=actor),
    )


def moderator_release_unyank(*, release: Release, actor: Actor, reason: str) -> None:
    _release_action(
        "unyank release",
        release,
        actor,
        reason,
        lambda: release_unyank(release=release, actor=actor),
    )


def moderator_release_delete(*, release: Release, actor: Actor, reason: str) -> None:
    _release_action(
        "delete release",
        release,
        actor,
        reason,
        lambda: release_delete(release=release, actor=actor),
    )


def moderator_file_delete(*, file: File, actor: Actor, reason: str) -> None:
    reason = _reason(reason)
    project = file.release.project
    with transaction.atomic():
        _record(
            "delete file",
            actor=actor,
            reason=reason,
            project=project,
            version=file.release.version,
            filename=file.filename,
            sha256=file.sha256_digest,
        )
        try:
            file_delete(file=file, actor=actor)
        except ReleaseError as exc:
            raise ModerationError(str(exc)) from None


# --- accounts ---------------------------------------------------------------------------


def _end_sessions(user: User) -> int:
    """Delete every live session of ``user``. Sessions are signed blobs with the
    user id inside, so they are read one by one; a moderator's action, not a
    hot path. (AccountBackend refuses a frozen user's session anyway.)"""
    user_id = str(user.pk)
    doomed = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if session.get_decoded().get("_auth_user_id") == user_id
    ]
    Session.objects.filter(pk__in=doomed).delete()
    return len(doomed)


def _lock_user(user: User) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


def user_freeze(*, user: User, actor: Actor, reason: str) -> User:
    """The account can no longer sign in or upload, its tokens stop working
    and its sessions end. Its projects stay (quarantine them separately)."""
    reason = _reason(reason)
    with transaction.atomic():
        user = _lock_user(user)
        if user.is_frozen:
            raise ModerationError(f"User {user.username} is already frozen.")
        user.is_frozen = True
        user.save(update_fields=["is_frozen"])
        ended = _end_sessions(user)
        _record("freeze user", actor=actor, reason=reason, target_user=user, sessions=ended)
        record_event("account:frozen", user=user, actor=actor)
    return user


def user_unfreeze(*, user: User, actor: Actor, reason: str) -> User:
    reason = _reason(reason)
    with transaction.atomic():
        user = _lock_user(user)
        if not user.is_frozen:
            raise ModerationError(f"User {user.username} is not frozen.")
        user.is_frozen = False
        user.save(update_fields=["is_frozen"])
        _record("unfreeze user", actor=actor, reason=reason, target_user=user)
        record_event("account:unfrozen", user=user, actor=actor)
    return user


# --- reports and name reviews -----------------------------------------------------------


def report_file(*, project: Project, actor: Actor, reason: str, details: str) -> MalwareReport:
    """A signed-in user's (``actor``'s) report about a project, queued for the
    moderators. One open report per user and project: a second is refused, not queued."""
    reporter = actor.user
    if reporter is None:
        raise ModerationError("Sign in to report a project.")
    if reason not in MalwareReport.Reason.values:
        raise ModerationError("Choose a reason for the report.")
    details = (details or "").strip()
    if not details:
        raise ModerationError("Describe what you found, so a moderator can check it.")
    with transaction.atomic():
        # Serializes one user's reports on one project (a double-click): the
        # second waits for the first and then sees it.
        User.objects.select_for_update().filter(pk=reporter.pk).first()
        if MalwareReport.objects.filter(
            project=project, reporter=reporter, status=MalwareReport.Status.NEW
        ).exists():
            raise ModerationError(
                f"You have already reported {project.name}; the moderators will look at it."
            )
        return MalwareReport.objects.create(
            project=project,
            project_name=project.name,
            reporter=reporter,
            reason=reason,
            details=details,
        )


def _resolve_report(report: MalwareReport, status: str, actor: Actor, reason: str) -> MalwareReport:
    try:
        report = MalwareReport.objects.select_for_update().get(pk=report.pk)
    except MalwareReport.DoesNotExist:
        raise ModerationError("The report no longer exists.") from None
    if report.status != MalwareReport.Status.NEW:
        raise ModerationError(
            f"The report on {report.project_name} is already {report.get_status_display().lower()}."
        )
    report.status = status
    report.resolved_by = actor.user
    report.resolved_at = timezone.now()
    report.resolution_note = reason
    report.save(update_fields=["status", "resolved_by", "resolved_at", "resolution_note"])
    _record(
        "confirm report" if status == MalwareReport.Status.CONFIRMED else "dismiss report",
        actor=actor,
        reason=reason,
        project=report.project,
        project_name=report.project_name,
        report=report.pk,
    )
    return report


def report_confirm(*, report: MalwareReport, actor: Actor, reason: str) -> MalwareReport:
    reason = _reason(reason)
    with transaction.atomic():
        return _resolve_report(report, MalwareReport.Status.CONFIRMED, actor, reason)


def report_dismiss(*, report: MalwareReport, actor: Actor, reason: str) -> MalwareReport:
    reason = _reason(reason)
    with transaction.atomic():
        return _resolve_report(report, MalwareReport.Status.DISMISSED, actor, reason)


def report_quarantine(*, report: MalwareReport, actor: Actor, reason: str) -> MalwareReport:
    """Confirm the report and quarantine its project, in one step. A project
    already quarantined (another report) stays so; the report is confirmed."""
    reason = _reason(reason)
    with transaction.atomic():
        report = _resolve_report(report, MalwareReport.Status.CONFIRMED, actor, reason)
        if report.project is None:
            raise ModerationError(f"Project {report.project_name} no longer exists.")
        if report.project.quarantined_at is None:
            project_quarantine(project=report.project, actor=actor, reason=reason)
    return report


def name_review_approve(*, review: NameReview, actor: Actor, reason: str) -> NameReview:
    """The flagged name is fine: it leaves the review queue."""
    reason = _reason(reason)
    with transaction.atomic():
        review = NameReview.objects.select_for_update().get(pk=review.pk)
        if review.status != NameReview.Status.PENDING:
            raise ModerationError(f"The review of {review.project_name} is not pending.")
        review.status = NameReview.Status.APPROVED
        review.reviewed_by = actor.user
        review.reviewed_at = timezone.now()
        review.save(update_fields=["status", "reviewed_by", "reviewed_at"])
        _record(
            "approve name",
            actor=actor,
            reason=reason,
            project=review.project,
            project_name=review.project_name,
            similar_to=review.similar_to,
        )
    return review


# --- kill switches ----------------------------------------------------------------------


def kill_switch_set(*, flag: AdminFlag, enabled: bool, actor: Actor, reason: str) -> AdminFlag:
    """Turn a kill switch (accounts.flags) on or off. An actor without a user:
    done from a shell without naming a moderator (recorded as such)."""
    reason = _reason(reason)
    state = "on" if enabled else "off"
    with transaction.atomic():
        # Locked so two moderators flipping it at once record one change each,
        # each against the state the other left.
        flag = AdminFlag.objects.select_for_update().get(pk=flag.pk)
        if flag.enabled == enabled:
            raise ModerationError(f"The kill switch {flag.pk} is already {state}.")
        flag.enabled = enabled
        flag.reason = reason
        flag.changed_by = actor.user
        flag.changed_at = timezone.now()
        flag.save(update_fields=["enabled", "reason", "changed_by", "changed_at"])
        _record(
            f"kill switch {state}",
            actor=actor,
            reason=reason,
            switch=flag.pk,
            # A shell action that names no moderator says so.
            **({} if actor.user is not None else {"via": actor.via}),
        )
        store_flags_on_commit()
        if flag.pk in SHOWN_ON_PAGES:
            # Every page at the edges shows the old state. Queued after the
            # store above, so the purge runs after it (commit callbacks run in
            # order) and a page fetched again reads the new state.
            enqueue([PAGES_KEY])
    return flag
