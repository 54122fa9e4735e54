"""Staged releases for people: a project whose Owners require that every upload
goes through a publishing session (PEP 694, packages.upload_sessions).

With ``Project.require_upload_sessions`` on, a legacy upload (twine, uv
publish) is checked exactly as any other and then lands, staged, in the open
session of its project and version (opened for it when there is none, owned by
the uploader) instead of in the index: nothing public changes (no File row, no
journal entry, no purge) until an Owner publishes the session on the web
(packages.views.manage_sessions). A stolen upload token can then stage files,
which the project's people see and cancel, but not make anything installable.

The option is the Owners' (packages.policy, Action.SETTINGS) and every change
of it is an event in the project's security history. Turning it off leaves the
open sessions as they are: they are still published or cancelled on the web.
"""

from django.db import transaction

from accounts.events import Actor, record_event

from . import upload_sessions
from .models import Project, StagedFile, UploadSession
from .policy import UploadError

REQUIRED_EVENT = "project:upload-sessions:required"
NOT_REQUIRED_EVENT = "project:upload-sessions:not-required"


class StagedReleaseError(Exception):
    """The change can't be made; the message says why, for the person who asked."""


def project_require_sessions_set(*, project: Project, required: bool, actor: Actor) -> Project:
    """Require (or stop requiring) that every upload to ``project`` goes through a
    publishing session. A change that changes nothing is refused, so every event
    in the history records a real change."""
    with transaction.atomic():
        # Locked: an upload to the project reads the option under this lock
        # (packages.upload's commit), so it lands on the side the change left.
        try:
            project = Project.objects.locked(pk=project.pk)
        except Project.DoesNotExist:
            raise StagedReleaseError(f"Project {project.name} no longer exists.") from None
        if project.require_upload_sessions == required:
            raise StagedReleaseError(
                f"{project.name} already requires publishing sessions."
                if required
                else f"{project.name} does not require publishing sessions."
            )
        project.require_upload_sessions = required
        project.save(update_fields=["require_upload_sessions"])
        record_event(
            REQUIRED_EVENT if required else NOT_REQUIRED_EVENT, actor=actor, project=project
        )
    return project


def _open_session_for(upload) -> UploadSession:
    """The open session of the upload's project and version, whoever opened it
    (a wheel and the sdist of one release may come from two people's tokens);
    one opened for the uploader when there is none."""
    sessions = upload_sessions.sessions_of(upload.project)
    wanted = upload.metadata.canonical_version
    session = sessions.filter(canonical_version=wanted).first()
    if session is not None:
        return session
    try:
        return upload_sessions.open_session(
            user=upload.user,
            token=upload.token,
            actor=upload.actor,
            name=upload.project.name,
            version=str(upload.metadata.version),
        )
    except UploadError:
        # Another upload opened it a moment ago (with our credentials or
        # someone else's): join it. Anything else stands.
        session = sessions.filter(canonical_version=wanted).first()
        if session is None:
            raise
        return session


def _already_staged(session: UploadSession, content) -> bool:
    """Whether these very bytes are staged in ``session`` under this name: a
    retried upload (twine after a timeout, ``--skip-existing``) succeeds."""
    return session.files.filter(
        filename=content.name,
        status=StagedFile.Status.COMPLETE,
        sha256_digest=content.sha256_digest,
        blake2_256_digest=content.blake2_256_digest,
    ).exists()


def stage_legacy_upload(upload) -> UploadSession:
    """Stage a legacy upload (a packages.upload.Upload whose project requires
    sessions, checked up to its digests) in its release's open session:
    upload_sessions.stage_file checks the rest as the legacy pipeline does and
    stores it. UploadError says why it is refused."""
    session = _open_session_for(upload)
    if not _already_staged(session, upload.content):
        upload_sessions.stage_file(
            session,
            content=upload.content,
            token=upload.token,
            actor=upload.actor,
            form=upload.form,
        )
    return session
