"""Publishing sessions (PEP 694, "Upload 2.0"): a release's files are staged,
checked like legacy uploads, installable from an unguessable preview index,
then published all at once (one transaction, one journal entry, one serial)
or canceled, which leaves nothing behind.

Staged files are never File rows before their session is published: every
public query reads File rows, so none of them can show a staged file. Their
bytes are stored where their File will be (packages.storage.file_path), so
publishing moves nothing. While a session is open its filenames are reserved
(StagedFile.reserved, unique): other sessions and legacy uploads get 409.
A new project's name is reserved to the session's creator until it is
published; the project is created then.

The protocol (packages.views.upload_sessions) and the management pages call
these services; UploadError carries the message and the HTTP status.
"""

import dataclasses
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import QuerySet, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from packaging.version import InvalidVersion, Version

from accounts.events import Actor, record_event
from accounts.models import ApiToken
from accounts.tokens import token_display_prefix

from . import attestations, policy, simple
from .cache import purge_project_on_commit
from .importing import upload_form
from .journal import JournalLine
from .metadata import ReleaseMetadata
from .models import File, FileRegistry, Project, StagedFile, UploadSession
from .names import is_valid_project_name, normalize_project_name
from .policy import UploadError
from .publish import (
    NewFile,
    Writes,
    metadata_digests,
    release_file_add,
    release_get_or_create,
)
from .storage import (
    delete_unreferenced,
    file_path,
    files_storage,
    lock_stored_path,
    metadata_path,
)
from .upload import (
    Outcome,
    Upload,
    check_account,
    check_attestations,
    check_content,
    check_digests,
    check_duplicate,
    check_filename,
    check_kill_switches,
    check_metadata,
    check_new_project_allowed,
    check_project_creation_rate,
    check_project_permission,
    check_size_limits,
    check_total_size,
    check_upstream_claim,
    create_project,
    sdist_exists,
    store_objects,
)
from .upload_handler import HashedUploadedFile

# PEP 694's example lifetime; the session's files are removed when it ends.
SESSION_LIFETIME = timedelta(days=7)
# An extension moves the expiry at most this far past now (never earlier).
MAX_EXTENSION = timedelta(days=7)
# A file announced but whose bytes have not come by then is forgotten.
FILE_UPLOAD_LIFETIME = timedelta(hours=1)
# The hash names the client may declare, the digest of ours each one is, and its hex length.
HASH_NAMES = {"sha256": "sha256_digest", "blake2b_256": "blake2_256_digest", "md5": "md5_digest"}
HASH_LENGTHS = {"sha256": 64, "blake2b_256": 64, "md5": 32}
_HEX = re.compile(r"[0-9a-f]+")


class SessionExists(UploadError):
    """PEP 694: a second create for a release with an open session gets 409
    and that session's URL (``session``), not a new one."""

    def __init__(self, session: UploadSession):
        super().__init__(
            f"A publishing session for {session.name} {session.version} is already open; "
            "continue with it (its URL is in the Location header) or cancel it.",
            status=409,
        )
        self.session = session


# --- credentials and lookups ---------------------------------------------------------


def _credentials(token: ApiToken | None, user) -> tuple[int | None, int | None]:
    if token is None:
        return user.pk, None
    return token.user_id, token.trusted_publisher_id


def check_same_credentials(session: UploadSession, *, token: ApiToken) -> None:
    """PEP 694: later requests come with the session's credentials, or get 403.
    The same account; for a session a trusted publisher opened, the same
    publisher (each CI job mints a new 15-minute token)."""
    if _credentials(token, None) != (session.created_by_id, session.publisher_id):
        raise UploadError(
            "This publishing session was opened with other credentials: continue it with "
            "the same account's token (or the same trusted publisher's).",
            status=403,
        )


def _now(now: datetime | None) -> datetime:
    return timezone.now() if now is None else now


def _unless_overdue(session: UploadSession | None) -> UploadSession | None:
    """``session``, or None when its time is up: then it is ended here, lazily
    (nothing waits for the periodic command)."""
    if session is not None and session.expires_at <= timezone.now():
        _expire(session)
        return None
    return session


def session_by_uuid(value) -> UploadSession | None:
    """The session ``value`` names, expired first if its time is up (lazily:
    nothing needs to wait for the periodic command)."""
    session = UploadSession.objects.filter(uuid=value).select_related("project").first()
    if session is not None and session.is_open and session.expires_at <= timezone.now():
        _expire(session)
        session.refresh_from_db()
    return session


def session_by_preview_secret(secret: str) -> UploadSession | None:
    """The open session whose stage ``secret`` names (the preview index)."""
    session = UploadSession.objects.filter(preview_secret=secret).select_related("project").first()
    if session is None or not session.is_open:
        return None
    if session.project is not None and session.project.quarantined_at is not None:
        # A moderator's quarantine: none of the project's files are offered.
        return None
    return _unless_overdue(session)


def reserved_filename(filename: str) -> UploadSession | None:
    """The open session that holds ``filename``, if one does."""
    staged = (
        StagedFile.objects.filter(filename=filename, reserved=True)
        .select_related("session")
        .first()
    )
    return _unless_overdue(staged.session if staged is not None else None)


def reserved_name(normalized_name: str) -> UploadSession | None:
    """The open session of a project not created yet that holds its name."""
    for session in UploadSession.objects.filter(
        normalized_name=normalized_name, status=UploadSession.Status.PENDING, project=None
    ).order_by("created_at", "pk"):
        if _unless_overdue(session) is not None:
            return session
    return None


def sessions_of(project: Project) -> QuerySet[UploadSession]:
    """The project's open sessions, newest first (for its management pages)."""
    # By name: a session opened before the project existed may not point to it yet.
    return UploadSession.objects.filter(
        normalized_name=project.normalized_name,
        status=UploadSession.Status.PENDING,
        expires_at__gt=timezone.now(),
    )


def preview_url(session: UploadSession) -> str:
    """The stage: a PEP 503/691 index root that installers can use (path only)."""
    return reverse("upload-stage-index", args=[session.preview_secret])


# --- opening -----------------------------------------------------------------------


def _parse_release(name: object, version: object) -> tuple[str, Version]:
    if not isinstance(name, str) or not is_valid_project_name(name):
        raise UploadError(
            f"{name!r} is not a valid project name: start and end with a letter or numeral, "
            "with only ASCII letters, numerals, '.', '_' and '-' between."
        )
    if not isinstance(version, str):
        raise UploadError(f"{version!r} is not a valid version: give a PEP 440 version string.")
    try:
        parsed = Version(version)
    except InvalidVersion:
        raise UploadError(f"{version!r} is not a valid PEP 440 version.") from None
    if parsed.local is not None:
        raise UploadError(f"{version!r} is a local version: the index takes none.")
    return name, parsed


def _session_upload(
    *, name: str, version: Version, token: ApiToken | None, actor: Actor, form=None, content=None
) -> Upload:
    upload = Upload(form=form, content=content, token=token, actor=actor)
    upload.metadata = ReleaseMetadata(name=name, version=version, metadata_version="")
    return upload


def _check_may_open(upload: Upload) -> None:
    """The legacy upload's own steps, for a release before any file."""
    check_kill_switches(upload)
    check_account(upload)
    check_project_permission(upload)
    check_new_project_allowed(upload)
    check_project_creation_rate(upload)
    check_upstream_claim(upload)


def open_session(
    *, user, token: ApiToken | None, actor: Actor, name: str, version: str
) -> UploadSession:
    """Open a publishing session for ``name`` ``version``. SessionExists when one
    is open for that release already (with these credentials); UploadError
    otherwise when the token may not upload there."""
    name, parsed = _parse_release(name, version)
    normalized = normalize_project_name(name)
    canonical = ReleaseMetadata(name=name, version=parsed, metadata_version="").canonical_version
    upload = _session_upload(name=name, version=parsed, token=token, actor=actor)
    _check_may_open(upload)
    credentials = _credentials(token, user)
    if upload.project is None:
        holder = reserved_name(normalized)
        # The same release's open session is answered below (PEP 694: 409 to its
        # own credentials, 403 to others).
        if (
            holder is not None
            and holder.canonical_version != canonical
            and (holder.created_by_id, holder.publisher_id) != credentials
        ):
            raise UploadError(
                f"The name {name!r} is reserved by another account's open publishing session "
                "for a new project.",
                status=409,
            )
    # A session of this release whose time is up no longer holds it.
    _open_session_of(normalized, canonical)
    now = timezone.now()
    try:
        with transaction.atomic():
            session = UploadSession.objects.create(
                project=upload.project,
                name=upload.project.name if upload.project else name,
                normalized_name=normalized,
                version=str(parsed),
                canonical_version=canonical,
                created_by_id=credentials[0],
                token=token,
                token_prefix=token_display_prefix(token) if token else "",
                publisher_id=credentials[1],
                publisher_identity=token.trusted_publisher.identity
                if token is not None and token.trusted_publisher_id
                else "",
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
                preview_secret=secrets.token_urlsafe(32),
            )
            if upload.project is not None:
                _event("project:upload-session:opened", session, actor)
    except IntegrityError:
        # The release has an open session (the unique index says so, whatever
        # the race): PEP 694's answer is that one, to its own credentials.
        existing = _open_session_of(normalized, canonical)
        if existing is None:  # pragma: no cover - it ended between the INSERT and this read
            raise UploadError(
                "A concurrent request changed this release's sessions; try again.", status=409
            ) from None
        _refuse_second(existing, credentials)
    return session


def _open_session_of(normalized: str, canonical: str) -> UploadSession | None:
    session = UploadSession.objects.filter(
        normalized_name=normalized,
        canonical_version=canonical,
        status=UploadSession.Status.PENDING,
    ).first()
    return _unless_overdue(session)


def _refuse_second(existing: UploadSession, credentials) -> None:
    if (existing.created_by_id, existing.publisher_id) != credentials:
        raise UploadError(
            f"A publishing session for {existing.name} {existing.version} is already open "
            "with other credentials.",
            status=403,
        )
    raise SessionExists(existing)


def _event(tag: str, session: UploadSession, actor: Actor, **details) -> None:
    record_event(
        tag,
        actor=actor,
        project=session.project,
        version=session.version,
        session=str(session.uuid),
        **details,
    )


def extend_session(session: UploadSession, *, seconds: int, actor: Actor) -> UploadSession:
    """Move the expiry to ``seconds`` from now, at most MAX_EXTENSION; never earlier."""
    with transaction.atomic():
        session = _locked_open(session)
        # Capped before it is a timedelta: a huge number would overflow one.
        wanted = timezone.now() + timedelta(seconds=min(seconds, MAX_EXTENSION.total_seconds()))
        if wanted > session.expires_at:
            session.expires_at = wanted
            session.save(update_fields=["expires_at"])
    return session


def _locked_open(session: UploadSession) -> UploadSession:
    """The session under its row lock, if it is still open (else 409)."""
    session = UploadSession.objects.locked(pk=session.pk)
    if session.is_open and session.expires_at <= timezone.now():
        # Refused, not ended here: this transaction is about to roll back. The
        # next read of the session (session_by_uuid) or the command ends it.
        raise UploadError("This publishing session has expired.", status=409)
    if not session.is_open:
        raise UploadError(f"This publishing session is {session.status}.", status=409)
    return session


# --- files -------------------------------------------------------------------------


def _parse_hashes(hashes: object) -> dict[str, str]:
    if not isinstance(hashes, dict) or not isinstance(hashes.get("sha256"), str):
        raise UploadError("Declare the file's hashes, at least 'sha256' (lowercase hex).")
    known = {}
    for key, value in hashes.items():
        if key in HASH_NAMES:
            digest = value.strip().lower() if isinstance(value, str) else ""
            if len(digest) != HASH_LENGTHS[key] or not _HEX.fullmatch(digest):
                raise UploadError(
                    f"The {key!r} hash must be {HASH_LENGTHS[key]} hexadecimal characters."
                )
            known[key] = digest
    return known


def declare_file(
    session: UploadSession,
    *,
    filename: object,
    size: object,
    hashes: object,
    token: ApiToken | None,
    actor: Actor,
) -> StagedFile:
    """PEP 694's file-upload session: the file is announced (its name, size and
    hashes) and reserved; its bytes come next (stage_file)."""
    if not isinstance(filename, str) or not filename:
        raise UploadError("Give the file's 'filename'.")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise UploadError("Give the file's 'size' in bytes, a non-negative integer.")
    declared = _parse_hashes(hashes)
    version = Version(session.version)
    form = MultiValueDict({"filetype": [_packagetype_of(filename)]})
    upload = _session_upload(
        name=session.name, version=version, token=token, actor=actor, form=form
    )
    upload.content = _Declared(filename, size)
    check_kill_switches(upload)
    check_account(upload)
    check_project_permission(upload)
    check_filename(upload)
    check_size_limits(upload)
    _check_not_taken(filename)
    now = timezone.now()
    try:
        with transaction.atomic():
            session = _locked_open(session)
            _check_one_sdist(session, upload, replacing=None)
            staged = StagedFile.objects.create(
                session=session,
                filename=filename,
                packagetype=upload.dist.packagetype,
                python_version=upload.dist.python_version,
                declared_size=size,
                declared_hashes=declared,
                uploaded_by=upload.user,
                token_prefix=token_display_prefix(token) if token else "",
                created_at=now,
                expires_at=now + FILE_UPLOAD_LIFETIME,
            )
    except IntegrityError:  # pragma: no cover - reserved by a concurrent request since the check
        raise _taken(filename) from None
    return staged


@dataclass
class _Declared:
    """A file announced but not received: what the filename and size checks read."""

    name: str
    size: int
    truncated: bool = False


def _packagetype_of(filename: str) -> str:
    return File.PackageType.BDIST_WHEEL if filename.endswith(".whl") else File.PackageType.SDIST


def _taken(filename: str) -> UploadError:
    return UploadError(
        f"The file {filename!r} is already staged in an open publishing session: delete it "
        "there first.",
        status=409,
    )


def _check_not_taken(filename: str) -> None:
    if reserved_filename(filename) is not None:
        raise _taken(filename)
    # Every filename ever published, its file deleted since or not.
    if FileRegistry.objects.filter(filename=filename).exists():
        raise UploadError(
            f"The file {filename!r} is already published (a filename is never used twice, "
            "even after its file is deleted): use another version.",
            status=409,
        )


def _check_one_sdist(session: UploadSession, upload: Upload, *, replacing) -> None:
    if upload.dist.packagetype != File.PackageType.SDIST:
        return
    others = session.files.filter(packagetype=File.PackageType.SDIST)
    if replacing is not None:
        others = others.exclude(pk=replacing.pk)
    if others.exists() or sdist_exists(upload.project, session.canonical_version):
        raise UploadError("Only one sdist may be uploaded per release.", status=409)


def _staged_total(session: UploadSession, *, excluding=None) -> int:
    files = session.files.filter(status=StagedFile.Status.COMPLETE)
    if excluding is not None:
        files = files.exclude(pk=excluding.pk)
    return files.aggregate(total=Sum("size"))["total"] or 0


def _check_declared(staged: StagedFile, content: HashedUploadedFile) -> None:
    # The size too: other bytes than the declared sha256's are other bytes.
    for key, value in staged.declared_hashes.items():
        if getattr(content, HASH_NAMES[key]) != value:
            raise UploadError(
                f"The {key} of the bytes received does not match the one declared: upload it again."
            )


def stage_file(
    session: UploadSession,
    *,
    content: HashedUploadedFile,
    token: ApiToken | None,
    actor: Actor,
    form=None,
    staged: StagedFile | None = None,
) -> StagedFile:
    """Check ``content`` like a legacy upload, store it, and make it one of
    the session's files. ``staged``: the file as declared (PEP 694), whose size
    and hashes the bytes must match; None: a file arriving whole (a legacy
    upload landing staged), whose ``form`` is the legacy upload's fields.
    Without a form the fields are read from the file's own metadata."""
    if staged is not None:
        _check_declared(staged, content)
    if form is None:
        form = upload_form(content)
    upload = Upload(form=form, content=content, token=token, actor=actor)
    check_kill_switches(upload)
    check_account(upload)
    check_metadata(upload)
    _check_release_matches(session, upload)
    check_project_permission(upload)
    check_filename(upload)
    check_size_limits(upload)
    check_total_size(
        upload.project, upload.project_name, content.size + _staged_total(session, excluding=staged)
    )
    check_digests(upload)
    # PEP 740: a legacy upload's attestations (43's require-sessions path) are
    # verified now and kept until the session is published.
    check_attestations(upload)
    if staged is None:
        _check_not_taken(upload.filename)
    outcome = check_duplicate(upload)
    if outcome is Outcome.ALREADY_STORED:
        raise UploadError(f"The file {upload.filename!r} is already published.", status=409)
    check_content(upload)
    path = file_path(blake2_256_digest=content.blake2_256_digest, filename=upload.filename)
    stored = store_objects(upload, path)
    try:
        with transaction.atomic():
            session = _locked_open(session)
            _check_one_sdist(session, upload, replacing=staged)
            staged = _record_staged(session, staged, upload, path)
    except IntegrityError:  # pragma: no cover - reserved by a concurrent request since the check
        delete_unreferenced(path, stored)
        raise _taken(upload.filename) from None
    except BaseException:
        delete_unreferenced(path, stored)
        raise
    return staged


def _check_release_matches(session: UploadSession, upload: Upload) -> None:
    metadata = upload.metadata
    if normalize_project_name(metadata.name) != session.normalized_name:
        raise UploadError(
            f"The file is of project {metadata.name!r}; this session publishes {session.name!r}."
        )
    if metadata.canonical_version != session.canonical_version:
        raise UploadError(
            f"The file is of version {metadata.version}; this session publishes {session.version}."
        )


def _record_staged(
    session: UploadSession, staged: StagedFile | None, upload: Upload, path: str
) -> StagedFile:
    content = upload.content
    if staged is None:
        staged = StagedFile(
            session=session,
            filename=upload.filename,
            declared_size=content.size,
            declared_hashes={"sha256": content.sha256_digest},
            uploaded_by=upload.user,
            token_prefix=token_display_prefix(upload.token) if upload.token else "",
            expires_at=session.expires_at,
        )
    else:
        staged = StagedFile.objects.select_for_update().get(pk=staged.pk)
        if staged.status != StagedFile.Status.PENDING:
            raise UploadError(f"The file {staged.filename!r} was uploaded already.", status=409)
    metadata = upload.metadata
    staged.status = StagedFile.Status.COMPLETE
    staged.packagetype = upload.dist.packagetype
    staged.python_version = upload.dist.python_version
    staged.size = content.size
    staged.md5_digest = content.md5_digest
    staged.sha256_digest = content.sha256_digest
    staged.blake2_256_digest = content.blake2_256_digest
    staged.path = path
    staged.metadata_sha256_digest, staged.metadata_blake2_256_digest = metadata_digests(
        upload.core_metadata
    )
    staged.metadata = {
        "name": metadata.name,
        "version": str(metadata.version),
        "metadata_version": metadata.metadata_version,
        "fields": metadata.fields,
    }
    staged.provenance = dataclasses.asdict(upload.attested) if upload.attested else None
    staged.completed_at = timezone.now()
    staged.save()
    return staged


def _objects_of(path: str, with_metadata: bool) -> list[str]:
    return [path, metadata_path(path)] if with_metadata else [path]


def _discard_on_commit(staged_files) -> None:
    paths = [(f.path, _objects_of(f.path, bool(f.metadata_sha256_digest))) for f in staged_files]
    paths = [(path, objects) for path, objects in paths if path]

    def discard() -> None:
        for path, objects in paths:
            delete_unreferenced(path, objects)

    transaction.on_commit(discard)


def delete_staged_file(staged: StagedFile, *, actor: Actor) -> None:
    """Remove a file from its open session (to replace it, or drop it)."""
    with transaction.atomic():
        _locked_open(staged.session)
        _discard_on_commit([staged])
        StagedFile.objects.filter(pk=staged.pk).delete()


# --- publishing ---------------------------------------------------------------------


def publish_session(
    session: UploadSession, *, actor: Actor, token: ApiToken | None = None
) -> list[File]:
    """Publish every file of the session at once: one transaction, one journal
    entry and one serial; all of them or, with UploadError, none. ``token``:
    the API token publishing (PEP 694); None: ``actor.user`` on the web."""
    upload = _session_upload(
        name=session.name, version=Version(session.version), token=token, actor=actor
    )
    # As a legacy upload would be: the switches, the account, the permission
    # (and, for a new project, the name's review), before any lock is taken.
    check_kill_switches(upload)
    check_account(upload)
    check_project_permission(upload)
    check_new_project_allowed(upload)
    try:
        with transaction.atomic():
            return _publish(session, upload)
    except IntegrityError:
        # A file of the session was published meanwhile through the legacy
        # API (or its bytes under another name): nothing of this session was.
        raise UploadError(
            "A file of this session was published meanwhile by another upload; delete it "
            "from the session and publish again.",
            status=409,
        ) from None


def _publish(session: UploadSession, upload: Upload) -> list[File]:
    session = _locked_open(session)
    staged = list(session.files.order_by("created_at", "pk"))
    if not staged:
        raise UploadError("This publishing session has no files to publish.", status=409)
    waiting = [f.filename for f in staged if f.status != StagedFile.Status.COMPLETE]
    if waiting:
        raise UploadError(
            f"The bytes of {', '.join(waiting)} have not been uploaded: upload or delete "
            "them, then publish.",
            status=409,
        )
    storage = files_storage()
    for f in staged:
        # The lock a cleanup of the same path takes (packages.storage).
        lock_stored_path(f.path)
        if not storage.exists(f.path):
            raise UploadError(
                f"The staged file {f.filename!r} is missing from the file store: delete it "
                "from the session and upload it again.",
                status=409,
            )
    # The release takes the metadata of the session's first file, as a legacy
    # release takes its first upload's.
    first = staged[0].metadata
    upload.metadata = ReleaseMetadata(
        name=first["name"],
        version=Version(first["version"]),
        metadata_version=first["metadata_version"],
        fields=first["fields"],
    )
    writes = Writes(actor=upload.actor)
    project = Project.objects.filter(normalized_name=session.normalized_name).first()
    if project is None:
        project = create_project(upload, writes)
        UploadSession.objects.filter(normalized_name=session.normalized_name, project=None).update(
            project=project
        )
    else:
        # Serializes with legacy uploads to the project (packages.upload._commit).
        project = Project.objects.locked(pk=project.pk)
        # Asked again under the lock: created, quarantined or archived since.
        policy.check_user_upload_to(upload.user, project.name, project)
        if upload.token is not None and project.require_upload_sessions:
            # The option's point: a token alone (perhaps a stolen one) never
            # makes files public; a person publishes on the web.
            manage_url = reverse("manage-project-sessions", args=[project.normalized_name])
            raise UploadError(
                f"Project '{project.name}' requires its staged releases to be published on "
                f"the web by an Owner: {manage_url}",
                status=403,
            )
        check_total_size(project, project.name, sum(f.size for f in staged))
        if any(f.packagetype == File.PackageType.SDIST for f in staged) and sdist_exists(
            project, session.canonical_version
        ):
            raise UploadError("Only one sdist may be uploaded per release.", status=409)
    release = release_get_or_create(project=project, metadata=upload.metadata, writes=writes)
    files = []
    for f in staged:
        added = release_file_add(
            project=project,
            release=release,
            file=NewFile(
                filename=f.filename,
                packagetype=f.packagetype,
                python_version=f.python_version,
                size=f.size,
                md5_digest=f.md5_digest,
                sha256_digest=f.sha256_digest,
                blake2_256_digest=f.blake2_256_digest,
                path=f.path,
                core_metadata=_core_metadata(f),
            ),
            writes=writes,
            token=f.token_prefix or None,
            publisher=session.publisher_identity or None,
        )
        # Its Provenance row, or the release's continuity check (PEP 740).
        verified = attestations.Verified(**f.provenance) if f.provenance else None
        attestations.provenance_record(
            project=project, release=release, file=added, verified=verified, writes=writes
        )
        files.append(added)
    session.files.update(reserved=False, status=StagedFile.Status.PUBLISHED)
    now = timezone.now()
    UploadSession.objects.filter(pk=session.pk).update(
        status=UploadSession.Status.PUBLISHED, published_at=now, ended_at=now, project=project
    )
    writes.event(
        "project:upload-session:published",
        project,
        version=release.version,
        session=str(session.uuid),
        filenames=[f.filename for f in staged],
    )
    # One entry, one serial, for the whole session: a mirror sees the release
    # appear with all its files at once.
    writes.journal = [
        JournalLine("; ".join(line.action for line in writes.journal), release.version)
    ]
    writes.write(project)
    purge_project_on_commit(project.normalized_name)
    return files


def _core_metadata(staged: StagedFile) -> bytes:
    if not staged.metadata_sha256_digest:
        return b""
    with files_storage().open(metadata_path(staged.path), "rb") as handle:
        return handle.read()


# --- ending ---------------------------------------------------------------------------


def _end(session: UploadSession, status: str) -> None:
    """Inside the caller's transaction, with the session locked: end it and
    leave nothing of its files (rows now, bytes after the commit)."""
    files = list(session.files.all())
    _discard_on_commit(files)
    session.files.all().delete()
    session.status = status
    session.ended_at = timezone.now()
    session.save(update_fields=["status", "ended_at"])


def cancel_session(session: UploadSession, *, actor: Actor, reason: str = "") -> None:
    """Cancel an open session: its files and their bytes are removed.
    ``reason``: a moderator's, for the project's history."""
    with transaction.atomic():
        session = UploadSession.objects.locked(pk=session.pk)
        if session.status == UploadSession.Status.CANCELED:
            return
        if not session.is_open:
            raise UploadError(f"This publishing session is {session.status}.", status=409)
        _end(session, UploadSession.Status.CANCELED)
        if session.project_id is not None:
            details = {"reason": reason} if reason else {}
            _event("project:upload-session:canceled", session, actor, **details)


def _expire(session: UploadSession, now: datetime | None = None) -> bool:
    """End ``session`` if, under its lock, it is still open and overdue."""
    now = _now(now)
    with transaction.atomic():
        session = UploadSession.objects.locked(pk=session.pk)
        # Read again under the lock: published or extended since it was read.
        if not (session.is_open and session.expires_at <= now):  # pragma: no cover - a race
            return False
        _end(session, UploadSession.Status.EXPIRED)
    return True


def expire_sessions(now: datetime | None = None) -> int:
    """End every open session whose time is up and forget files announced but
    never uploaded; how many sessions ended."""
    now = _now(now)
    overdue = UploadSession.objects.filter(status=UploadSession.Status.PENDING, expires_at__lte=now)
    ended = sum(_expire(session, now) for session in overdue)
    StagedFile.objects.filter(status=StagedFile.Status.PENDING, expires_at__lte=now).delete()
    return ended


# --- the stage ---------------------------------------------------------------------


def preview_listing(session: UploadSession, *, file_url) -> simple.ProjectListing:
    """The stage's page of the project: its published files (as the index
    lists them) and the session's staged ones, at ``file_url(filename)``."""
    published = simple.project_listing(session.normalized_name)
    files = list(published.files) if published else []
    versions = list(published.versions) if published else []
    for staged in session.files.filter(status=StagedFile.Status.COMPLETE):
        files.append(
            simple.FileLink(
                filename=staged.filename,
                url=file_url(staged.filename),
                sha256=staged.sha256_digest,
                requires_python=staged.metadata["fields"].get("requires_python", ""),
                yanked=False,
                yanked_reason="",
                metadata_sha256=staged.metadata_sha256_digest,
                size=staged.size,
                upload_time=staged.completed_at,
            )
        )
    if session.version not in versions:
        versions = sorted([*versions, session.version], key=Version)
    return simple.ProjectListing(
        name=published.name if published else session.name,
        normalized_name=session.normalized_name,
        serial=published.serial if published else 0,
        versions=versions,
        files=sorted(files, key=lambda link: link.filename),
        status=published.status if published else simple.ProjectStatus.ACTIVE,
        status_reason=published.status_reason if published else "",
    )
