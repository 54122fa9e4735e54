"""Maintainer and moderator operations on projects, releases and files.

Each service runs in one transaction, locks the row it changes, writes the
journal entry as its last write, and leaves side effects (cache purge, removal of
stored objects) to ``transaction.on_commit``. Who may call them is decided by the
callers, who ask ``packages.policy``, not here.

Each also records a project event (the project's security history) in its
transaction, by the ``actor`` it is given: the event carries its account, IP
and user agent, the journal entry its account and IP.
"""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F

from accounts.events import Actor, record_event

from .cache import purge_project_on_commit
from .journal import journal_append
from .models import File, FileRegistry, Project, Release
from .search import search_index_update
from .storage import delete_objects, metadata_path


class ReleaseError(Exception):
    """A precondition of a release or file operation does not hold. The message
    is meant for the person who asked (command output, web page, API error)."""


def _lock_release(release: Release) -> Release:
    try:
        return Release.objects.select_related("project").locked(pk=release.pk)
    except Release.DoesNotExist:
        raise ReleaseError(f"{release.project.name} {release.version} no longer exists.") from None


def _stored_paths(files: Iterable[File]) -> list[str]:
    paths = []
    for file in files:
        paths.append(file.path)
        if file.has_metadata:
            paths.append(metadata_path(file.path))
    return paths


def _delete_stored_on_commit(paths: list[str]) -> None:
    # Only after commit: were the objects removed first and the transaction then
    # rolled back, rows would point at missing files. The reverse (rows gone,
    # object left behind) is harmless: files are served only when a row exists.
    transaction.on_commit(lambda: delete_objects(paths))


def _reserve_filenames(files: Iterable[File]) -> None:
    # The upload registers every filename; this also covers rows made some
    # other way (imports, fixtures), so a deleted filename is never reusable.
    # One statement however many files a project or release has.
    FileRegistry.objects.bulk_create(
        [FileRegistry(filename=file.filename) for file in files], ignore_conflicts=True
    )


def _shrink_total_size(project: Project, files: Iterable[File]) -> None:
    freed = sum(file.size for file in files)
    # F(): an upload to another release may be adding to the total right now.
    Project.objects.filter(pk=project.pk).update(total_size=F("total_size") - freed)


YANK_REASON_MAX_LENGTH = 500


def _set_yanked(release: Release, *, yanked: bool, reason: str, actor: Actor) -> Release:
    """Yank or unyank ``release``, refused when it already is in that state."""
    with transaction.atomic():
        # The lock makes a second, concurrent (un)yank wait and then see the
        # first one's result, instead of both passing the check and journaling twice.
        release = _lock_release(release)
        if release.yanked == yanked:
            state = "already yanked" if yanked else "not yanked"
            raise ReleaseError(f"{release.project.name} {release.version} is {state}.")
        release.yanked = yanked
        # One line, bounded: shown in installers' warnings and on every page.
        reason = " ".join(reason.split())[:YANK_REASON_MAX_LENGTH]
        release.yanked_reason = reason
        release.save(update_fields=["yanked", "yanked_reason"])
        # The project's page and search entry may now show another version.
        search_index_update(release.project)
        journal_append(
            project=release.project,
            action="yank release" if yanked else "unyank release",
            version=release.version,
            actor=actor,
        )
        details = {"reason": reason} if yanked else {}
        record_event(
            "project:release:yanked" if yanked else "project:release:unyanked",
            project=release.project,
            actor=actor,
            version=release.version,
            **details,
        )
        purge_project_on_commit(release.project.normalized_name)
    return release


def release_yank(
    *,
    release: Release,
    reason: str = "",
    actor: Actor,
) -> Release:
    """Mark a release yanked (PEP 592); installers skip it unless pinned.

    The reason is optional, as in PEP 592.
    """
    return _set_yanked(release, yanked=True, reason=reason, actor=actor)


def release_unyank(*, release: Release, actor: Actor) -> Release:
    """Undo a yank: the release is offered to installers again."""
    return _set_yanked(release, yanked=False, reason="", actor=actor)


def release_delete(*, release: Release, actor: Actor) -> None:
    """Delete a release and its files. Their filenames stay reserved forever."""
    with transaction.atomic():
        # Locked before the files are listed: an upload adding a file to this
        # release must wait (its foreign key check needs this row), so the list
        # is complete and no file row disappears without its stored object. A
        # second delete of the same release waits, then finds it gone.
        release = _lock_release(release)
        project = release.project
        files = list(release.files.all())
        _reserve_filenames(files)
        release.delete()
        _shrink_total_size(project, files)
        search_index_update(project)
        journal_append(
            project=project,
            action="remove release",
            version=release.version,
            actor=actor,
        )
        record_event(
            "project:release:deleted",
            project=project,
            actor=actor,
            version=release.version,
            files=[file.filename for file in files],
        )
        purge_project_on_commit(project.normalized_name, files=True)
        _delete_stored_on_commit(_stored_paths(files))


def file_delete(*, file: File, actor: Actor) -> None:
    """Delete one file. Its release stays, even when this was its last file."""
    with transaction.atomic():
        # Two deletes of one file at once would otherwise both shrink the
        # project's total size and both journal; the second now finds it gone.
        try:
            file = File.objects.select_related("release__project").locked(pk=file.pk)
        except File.DoesNotExist:
            raise ReleaseError(f"File {file.filename} no longer exists.") from None
        release = file.release
        project = release.project
        _reserve_filenames([file])
        file.delete()
        _shrink_total_size(project, [file])
        journal_append(
            project=project,
            action=f"remove file {file.filename}",
            version=release.version,
            filename=file.filename,
            actor=actor,
        )
        record_event(
            "project:file:deleted",
            project=project,
            actor=actor,
            version=release.version,
            filename=file.filename,
        )
        purge_project_on_commit(project.normalized_name, files=True)
        _delete_stored_on_commit(_stored_paths([file]))


def project_delete(*, project: Project, actor: Actor) -> None:
    """Delete a project with its releases, files and roles. The journal keeps
    its history (entries name projects, they do not reference them), and every
    filename it ever used stays reserved."""
    with transaction.atomic():
        # An upload creating a release in this project must wait for the delete
        # (its foreign key check needs this row) instead of landing in a project
        # that is about to vanish, leaving a file row without its stored object.
        try:
            project = Project.objects.locked(pk=project.pk)
        except Project.DoesNotExist:
            raise ReleaseError(f"Project {project.name} no longer exists.") from None
        files = list(File.objects.filter(release__project=project))
        _reserve_filenames(files)
        # Recorded before the delete: the event must reference an existing row
        # when written; the delete then clears the reference and the event
        # keeps the project's name (as all its earlier events do).
        record_event("project:deleted", project=project, actor=actor)
        # Through the queryset so the instance keeps its pk for the journal call.
        Project.objects.filter(pk=project.pk).delete()
        journal_append(project=project, action="remove project", actor=actor)
        purge_project_on_commit(project.normalized_name, files=True)
        _delete_stored_on_commit(_stored_paths(files))
