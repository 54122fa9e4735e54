"""The upload pipeline ("forklift"): a fixed sequence of small checks, then one
commit that makes the stored file and its rows visible together.

Order, as on the public index: metadata, project and permission, filename,
limits, digests, duplicates, release rules, archive content, store, commit.
The first failing step's message is the one the client sees.
"""

import enum
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.defaultfilters import filesizeformat

from accounts import flags
from accounts.events import Actor, new_event
from accounts.models import ApiToken
from accounts.tokens import token_display_prefix

from . import attestations, policy, project_status
from .cache import purge_project_on_commit
from .distributions import (
    DistributionFilename,
    InvalidDistribution,
    check_filename_matches,
    check_metadata_agrees,
    check_wheel_platforms,
    parse_distribution_filename,
    read_sdist_metadata,
    read_wheel_metadata,
)
from .journal import JournalLine
from .metadata import MetadataError, ReleaseMetadata, validate_upload_metadata
from .mirror_claims import check_claim, project_claimed
from .models import File, FileRegistry, Project, Role
from .name_policy import queue_name_review, similar_popular_name
from .names import normalize_project_name
from .namespaces import new_project_organization
from .policy import UploadError
from .publish import NewFile, Writes, release_file_add, release_get_or_create
from .storage import (
    StorageUnavailable,
    delete_unreferenced,
    file_path,
    files_storage,
    lock_stored_path,
    metadata_path,
    store_bytes,
    store_file,
)
from .upload_handler import HashedUploadedFile

FILETYPES = {"bdist_wheel", "sdist"}


class Outcome(enum.Enum):
    STORED = "stored"
    ALREADY_STORED = "already stored"  # identical re-upload: success, nothing to do
    # The project requires publishing sessions: in its release's open session,
    # not public until an Owner publishes it (packages.staged_releases).
    STAGED = "staged"


@dataclass
class Upload:
    """What the pipeline has learnt so far about one upload."""

    form: object
    content: HashedUploadedFile
    # None for a shell import (packages.importing): it acts as ``actor.user``.
    token: ApiToken | None
    # The token's holder at the client's address: what events and the journal record.
    actor: Actor
    metadata: ReleaseMetadata | None = None
    dist: DistributionFilename | None = None
    project: Project | None = None
    core_metadata: bytes = b""
    # For a new project: the popular project its name is one edit away from.
    similar_to: str | None = None
    # The kill switches that are on, read once (check_kill_switches).
    switches: frozenset[str] = frozenset()
    # The rate limits are against strangers flooding the index; the operator's
    # own import from the shell (packages.importing) is not held to them.
    rate_limited: bool = True
    # PEP 740: the attestations the upload came with, verified (check_attestations).
    attested: "attestations.Verified | None" = None

    @property
    def user(self):
        return self.actor.user if self.token is None else self.token.user

    @property
    def filename(self) -> str:
        return self.content.name

    @property
    def project_name(self) -> str:
        return self.project.name if self.project else self.metadata.name


# --- the steps ------------------------------------------------------------------


def check_kill_switches(upload: Upload) -> None:
    # From the database, not the page cache: a switch stops the next upload.
    upload.switches = flags.enabled_flags(fresh=True)
    if flags.READ_ONLY in upload.switches:
        raise UploadError(flags.UPLOAD_READ_ONLY, status=403)
    if flags.DISALLOW_NEW_UPLOAD in upload.switches:
        raise UploadError(flags.UPLOAD_DISABLED, status=403)


def check_new_project_allowed(upload: Upload) -> None:
    if upload.project is None and flags.DISALLOW_NEW_PROJECT_REGISTRATION in upload.switches:
        raise UploadError(flags.NEW_PROJECT_DISABLED, status=403)


def check_upstream_claim(upload: Upload) -> None:
    # A new project must not shadow the mirrored upstream's (packages.mirror_claims).
    if upload.project is None:
        check_claim(normalize_project_name(upload.metadata.name))


def check_protocol(upload: Upload) -> None:
    action = upload.form.get(":action", "file_upload")
    if action != "file_upload":
        raise UploadError(f"Unknown action {action!r}: only 'file_upload' is supported.")
    if upload.form.get("protocol_version", "1") != "1":
        raise UploadError("Unknown protocol version: use protocol_version=1.")


def check_account(upload: Upload) -> None:
    policy.check_uploader(upload.user)


def check_metadata(upload: Upload) -> None:
    try:
        upload.metadata = validate_upload_metadata(upload.form)
    except MetadataError as exc:
        raise UploadError(str(exc)) from None


def check_project_permission(upload: Upload) -> None:
    normalized = normalize_project_name(upload.metadata.name)
    upload.project = Project.objects.by_name(normalized)
    if upload.token is None:
        policy.check_user_upload_to(upload.user, upload.metadata.name, upload.project)
    else:
        policy.check_upload_to(upload.token, upload.metadata.name, upload.project)
    if upload.project is None:
        # Looked up here, not in the commit: on a cold cache it reads the
        # download counts, which must not hold the upload's write lock.
        upload.similar_to = similar_popular_name(normalized)


def check_session_reservations(upload: Upload) -> None:
    # PEP 694: an open publishing session holds its filenames, and a new
    # project's name for its creator, until it is published or ends.
    # (Imported here: the sessions' service is built on this module's steps.)
    from .upload_sessions import reserved_filename, reserved_name

    if reserved_filename(upload.filename) is not None:
        raise UploadError(
            f"The file {upload.filename!r} is staged in an open publishing session: publish "
            "or cancel that session, or upload under another version.",
            status=409,
        )
    if upload.project is None:
        holder = reserved_name(normalize_project_name(upload.metadata.name))
        if holder is not None and holder.created_by_id != upload.user.pk:
            raise UploadError(
                f"The name {upload.metadata.name!r} is reserved by another account's open "
                "publishing session for a new project.",
                status=409,
            )


def check_project_creation_rate(upload: Upload) -> None:
    if upload.project is None and upload.rate_limited:
        policy.check_project_creation_rate(upload.user)


def check_filename(upload: Upload) -> None:
    filetype = upload.form.get("filetype", "")
    if filetype not in FILETYPES:
        raise UploadError(
            f"Invalid value for filetype: {filetype!r}. Only 'bdist_wheel' and 'sdist' "
            f"uploads are accepted."
        )
    try:
        dist = parse_distribution_filename(upload.filename)
        check_filename_matches(
            dist, project_name=upload.metadata.name, version=upload.metadata.version
        )
        check_wheel_platforms(dist)
    except InvalidDistribution as exc:
        raise UploadError(str(exc)) from None
    if dist.packagetype != filetype:
        raise UploadError(
            f"Invalid value for filetype: {filetype!r} does not match the file "
            f"{upload.filename!r}, which is a {dist.packagetype}."
        )
    upload.dist = dist


def _file_limit(project: Project | None) -> int:
    override = project.upload_limit if project else None
    return override or settings.UPLOAD_MAX_BYTES


def _total_limit(project: Project | None) -> int:
    override = project.total_size_limit if project else None
    return override or settings.PROJECT_MAX_BYTES


def human_size(size: int) -> str:
    """``size`` as the project pages show it (Django's filesizeformat, 1024-based:
    "100.0 MB", "1.5 KB"), plus the exact count where the one decimal rounds
    it: a limit set to 4000000 bytes reads "3.8 MB (4,000,000 bytes)"."""
    shown = filesizeformat(size).replace("\xa0", " ")  # a reason phrase wants plain spaces
    unit = 1024 ** min(5, max(0, size.bit_length() - 1) // 10)  # bytes, KB, ..., PB
    if (size * 10) % unit:
        shown += f" ({size:,} bytes)"
    return shown


def check_size_limits(upload: Upload) -> None:
    limit = _file_limit(upload.project)
    if upload.content.truncated or upload.content.size > limit:
        raise UploadError(
            f"File too large. Limit for project '{upload.project_name}' is "
            f"{human_size(limit)}. See /help/#file-size-limit for more information."
        )
    check_total_size(upload.project, upload.project_name, upload.content.size)


def check_total_size(project: Project | None, name: str, size: int) -> None:
    limit = _total_limit(project)
    used = project.total_size if project else 0
    if used + size > limit:
        raise UploadError(
            f"Project size too large. Limit for project '{name}' total size is "
            f"{human_size(limit)}. See /help/#project-size-limit for more information."
        )


def check_digests(upload: Upload) -> None:
    given = {
        "md5_digest": upload.content.md5_digest,
        "sha256_digest": upload.content.sha256_digest,
        "blake2_256_digest": upload.content.blake2_256_digest,
    }
    supplied = {key: upload.form.get(key, "").strip().lower() for key in given}
    if not any(supplied.values()):
        raise UploadError("Include at least one message digest.")
    for key, computed in given.items():
        if supplied[key] and supplied[key] != computed:
            raise UploadError(
                "The digest supplied does not match a digest calculated from the uploaded file."
            )


def check_attestations(upload: Upload) -> None:
    upload.attested = attestations.verify_upload(
        field=upload.form.get("attestations"),
        token=upload.token,
        filename=upload.filename,
        sha256=upload.content.sha256_digest,
    )


def check_duplicate(upload: Upload) -> Outcome | None:
    """The three-way check: identical file (success), reused name or bytes
    (refused), or a filename that was used before and deleted (refused)."""
    content = upload.content
    # The registry first: an upload commits its File row and its registry row
    # together, so a filename registered here is, in the later read below,
    # either its File row or a deleted file. Read the other way round, a
    # concurrent identical upload committing between the two reads made this
    # one "already used" although its bytes were the winner's.
    registered = FileRegistry.objects.filter(filename=upload.filename).exists()
    existing = File.objects.filter(
        Q(filename=upload.filename)
        | Q(sha256_digest=content.sha256_digest)
        | Q(blake2_256_digest=content.blake2_256_digest)
    ).first()
    if existing is not None:
        if (
            existing.filename == upload.filename
            and existing.sha256_digest == content.sha256_digest
            and existing.blake2_256_digest == content.blake2_256_digest
        ):
            return Outcome.ALREADY_STORED
        raise UploadError(
            f"File already exists ('{existing.filename}', with blake2_256 hash "
            f"'{existing.blake2_256_digest}'). See /help/#file-name-reuse for more information."
        )
    if registered:
        raise UploadError(
            "This filename has already been used, use a different version. "
            "See /help/#file-name-reuse for more information."
        )
    return None


def sdist_exists(project: Project | None, canonical_version: str) -> bool:
    return (
        project is not None
        and File.objects.filter(
            release__project=project,
            release__canonical_version=canonical_version,
            packagetype=File.PackageType.SDIST,
        ).exists()
    )


def check_release_rules(upload: Upload) -> None:
    if upload.dist.packagetype == File.PackageType.SDIST and sdist_exists(
        upload.project, upload.metadata.canonical_version
    ):
        raise UploadError("Only one sdist may be uploaded per release.")


def check_content(upload: Upload) -> None:
    path = upload.content.temporary_file_path()
    try:
        if upload.dist.packagetype == File.PackageType.BDIST_WHEEL:
            metadata = read_wheel_metadata(path, upload.dist)
            kind = "wheel"
            # PEP 658: only a wheel's METADATA is served; an sdist's PKG-INFO
            # may hold dynamic fields that its built wheels don't share.
            upload.core_metadata = metadata
        else:
            metadata = read_sdist_metadata(path, upload.dist)
            kind = "sdist"
        check_metadata_agrees(
            metadata, project_name=upload.metadata.name, version=upload.metadata.version, kind=kind
        )
    except InvalidDistribution as exc:
        raise UploadError(str(exc)) from None


# --- storing and committing ---------------------------------------------------


def store_objects(upload: Upload, path: str) -> list[str]:
    try:
        store_file(path, upload.content.temporary_file_path())
    except StorageUnavailable as exc:
        # Nothing was stored: the file store itself is down or missing.
        raise UploadError(f"Uploads are unavailable: {exc}", status=503) from None
    stored = [path]
    if upload.core_metadata:
        store_bytes(metadata_path(path), upload.core_metadata)
        stored.append(metadata_path(path))
    return stored


def _discard_objects(path: str, stored: list[str]) -> None:
    """Delete what this upload stored, unless a committed row now uses it."""
    delete_unreferenced(path, stored)


def _publisher_identity(token: ApiToken | None) -> str | None:
    # Trusted publishing's tokens name the CI identity they were minted for;
    # the history says which workflow uploaded, not only which token.
    if token is None or token.trusted_publisher_id is None:
        return None
    return token.trusted_publisher.identity


def create_project(upload: Upload, writes: Writes) -> Project:
    name = upload.metadata.name
    project = Project.objects.create(
        name=name,
        normalized_name=normalize_project_name(name),
        # Under a namespace (PEP 752), its organization's people create it for the organization.
        organization=new_project_organization(upload.user, name),
    )
    user = upload.user
    if upload.rate_limited:
        transaction.on_commit(lambda: policy.count_project_created(user))
    Role.objects.create(project=project, user=upload.user, role_name=Role.Name.OWNER)
    # Accepted, but queued for a moderator when it is one edit from a popular name.
    queue_name_review(project, upload.similar_to)
    project_claimed(project.normalized_name)
    writes.journal += [JournalLine("create"), JournalLine(f"add Owner {upload.user.username}")]
    writes.event("project:created", project, role=Role.Name.OWNER)
    return project


def _commit(upload: Upload, path: str, stored: list[str]) -> None:
    content = upload.content
    writes = Writes(actor=upload.actor)
    with transaction.atomic():
        lock_stored_path(path)
        storage = files_storage()
        if not all(storage.exists(name) for name in stored):
            # A concurrent identical upload failed and cleaned up our shared
            # path between our write and this lock; write it again.
            store_objects(upload, path)
        if upload.project is None:
            project = create_project(upload, writes)
        else:
            # Serializes uploads to one project: the total-size and one-sdist
            # rules below read what a concurrent upload may be adding.
            project = Project.objects.locked(pk=upload.project.pk)
            # A moderator may have quarantined it since the permission check,
            # or an Owner archived it (PEP 792).
            policy.check_not_quarantined(project)
            project_status.check_accepts_uploads(project)
            if project.require_upload_sessions:
                # Its Owners required sessions since this upload was checked.
                raise UploadError(
                    f"Project '{project.name}' now requires publishing sessions: upload the "
                    "file again and it is staged for its Owners to publish.",
                    status=409,
                )
            check_total_size(project, project.name, content.size)
            check_release_rules(upload)
        release = release_get_or_create(project=project, metadata=upload.metadata, writes=writes)
        token = None if upload.token is None else token_display_prefix(upload.token)
        added = release_file_add(
            project=project,
            release=release,
            file=NewFile(
                filename=upload.filename,
                packagetype=upload.dist.packagetype,
                python_version=upload.dist.python_version,
                size=content.size,
                md5_digest=content.md5_digest,
                sha256_digest=content.sha256_digest,
                blake2_256_digest=content.blake2_256_digest,
                path=path,
                core_metadata=upload.core_metadata,
            ),
            writes=writes,
            token=token,
            publisher=_publisher_identity(upload.token),
        )
        attestations.provenance_record(
            project=project, release=release, file=added, verified=upload.attested, writes=writes
        )
        if token is not None:
            writes.events.append(
                new_event(
                    "account:token:used",
                    user=upload.user,
                    actor=upload.actor,
                    token=token,
                    uploaded_to=project.name,
                    filename=upload.filename,
                )
            )
        writes.write(project)
        purge_project_on_commit(project.normalized_name)
    upload.project = project


def store_and_commit(upload: Upload) -> Outcome:
    content = upload.content
    path = file_path(blake2_256_digest=content.blake2_256_digest, filename=upload.filename)
    stored = store_objects(upload, path)
    attempts = 2
    while True:
        attempts -= 1
        try:
            _commit(upload, path, stored)
        except IntegrityError:
            # Lost a race: a concurrent upload committed the same filename or
            # bytes, or created this project, first. Judge again against what
            # won; if only the project was new, the second attempt joins it.
            try:
                check_project_permission(upload)
                outcome = check_duplicate(upload)
            except UploadError:
                # Refused after all: what this upload stored must not stay.
                _discard_objects(path, stored)
                raise
            if outcome is None and attempts:
                continue
            _discard_objects(path, stored)
            if outcome is not None:
                return outcome
            raise UploadError(
                "A concurrent upload changed this project; try the upload again.", status=409
            ) from None
        except BaseException:
            _discard_objects(path, stored)
            raise
        return Outcome.STORED


# --- the pipeline ------------------------------------------------------------------


def release_file_upload(
    *,
    form,
    content: HashedUploadedFile,
    token: ApiToken | None,
    actor: Actor,
    rate_limited: bool = True,
) -> Outcome:
    """Validate one uploaded file and publish it, or raise UploadError.
    ``actor``: the token's holder at the client's address. ``token`` None and
    ``rate_limited`` False: the operator's import from the shell (packages.importing)."""
    upload = Upload(form=form, content=content, token=token, actor=actor, rate_limited=rate_limited)
    check_kill_switches(upload)
    check_protocol(upload)
    check_account(upload)
    check_metadata(upload)
    check_project_permission(upload)
    check_new_project_allowed(upload)
    check_project_creation_rate(upload)
    check_upstream_claim(upload)
    check_filename(upload)
    if upload.project is not None and upload.project.require_upload_sessions:
        return stage_required(upload)
    check_session_reservations(upload)
    check_size_limits(upload)
    check_digests(upload)
    check_attestations(upload)
    outcome = check_duplicate(upload)
    if outcome is not None:
        return outcome
    try:
        check_release_rules(upload)
        check_content(upload)
        return store_and_commit(upload)
    except UploadError:
        # Identical bytes always succeed. A concurrent upload of them that
        # committed after the duplicate check makes the rules count it against
        # this one (one sdist per release, the project's total size).
        if _identical_file_exists(upload):
            return Outcome.ALREADY_STORED
        raise


def stage_required(upload: Upload) -> Outcome:
    """The project's Owners require publishing sessions: the rest of the checks
    are the session's (packages.upload_sessions.stage_file runs them as this
    pipeline does), and the file lands staged instead of public."""
    # Imported here: the sessions' service is built on this module's steps.
    from .staged_releases import stage_legacy_upload

    stage_legacy_upload(upload)
    return Outcome.STAGED


def _identical_file_exists(upload: Upload) -> bool:
    content = upload.content
    return File.objects.filter(
        filename=upload.filename,
        sha256_digest=content.sha256_digest,
        blake2_256_digest=content.blake2_256_digest,
    ).exists()
