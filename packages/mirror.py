"""The pull-through mirror of the upstream index (UPSTREAM_INDEX_URL): what
this index offers, under a name with no local project, from the upstream's
page for that name (docs/mirroring.md, "A company's one index").

The rules, each written here once:

* A name with a local Project row (visible or not: a quarantined local project
  must not fall back to the upstream, that would be dependency confusion) is
  never merged with the upstream: ``offered_files`` answers nothing for it.
* A private name (PRIVATE_NAME_PATTERNS) is never asked of the upstream and
  never offered, even while no local project has it; nor is a name under a
  restricted namespace grant (PEP 752, packages.namespaces; hidden ones too):
  it is the organization's here. What was held of such a name stops being
  offered when the grant is made (``grant_changed``), and is offered again
  when it is revoked or made open.
* The upstream's PEP 792 status of a project is kept with it and carried
  into its page here; an upstream quarantine offers no file, not even a copy
  held here (the page answers the status, as a local quarantine's does).
* A mirrored project quarantined by this index's moderators, a blocked
  project (UpstreamBlock, version "") and a blocked version are answered as
  absent; a file is offered only once it is UPSTREAM_MIN_AGE old (by the
  upstream's upload-time, or when it was first seen here if the upstream
  gives none).
* ``refresh`` revalidates a page older than UPSTREAM_FRESHNESS with its ETag,
  within UPSTREAM_TIMEOUT (the client's bound); the upstream down, slow or
  behind its circuit breaker, the rows already held are answered (stale).
* A page's files are synchronised with the upstream's: new files are added,
  changed attributes (yank, requires-python, size, metadata digest) carried
  over; a file the upstream no longer lists is dropped unless a copy was
  fetched here (a company keeps what its builds installed; a moderator blocks
  a version that must go). A project the upstream no longer has is offered no
  more (``exists`` False), its fetched copies kept for fsck and for its return.
* A file is fetched on its first request (``fetch_file``), into a temporary
  file, checked against the upstream's sha256 and only then stored, under a
  content-addressed key ``mirror/<2 hex>/<2 hex>/<60 hex>/<filename>`` (sha256),
  apart from the uploads' blake2b layout. Two first requests at once both
  write the same bytes to the same key, each atomically: the last rename wins
  and both rows agree.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from . import upstream
from .cache import purge_project, purge_project_on_commit
from .models import (
    Namespace,
    Project,
    ProjectStatus,
    UpstreamBlock,
    UpstreamFile,
    UpstreamProject,
)
from .purges import enqueue, project_keys
from .storage import METADATA_SUFFIX, files_storage, store_file
from .upload_handler import anonymous_temp_file, open_file_path

logger = logging.getLogger(__name__)

# Where fetched copies are stored: apart from the uploads' <2>/<2>/<60> keys.
STORAGE_PREFIX = "mirror/"
# Bumped by every forget(): a page rendered from rows read before a change and
# stored after its purge is caught by this key changing (packages.simple._store).
GENERATION_KEY = "mirror:generation"


def enabled() -> bool:
    return bool(settings.UPSTREAM_INDEX_URL)


def is_private(normalized_name: str) -> bool:
    """Whether the name matches PRIVATE_NAME_PATTERNS: never asked upstream."""
    return upstream.is_private(normalized_name)


def _restricted_test() -> Callable[[str], bool]:
    """Whether a name falls under a restricted namespace grant, by every
    grant read at once (moderators make few; /simple/ asks it of every
    mirrored name). The longest granted prefix of the name decides, as
    packages.namespaces.grant_for has it: a restricted root's open child
    leaves its names to the upstream, and an open root's restricted child
    takes its own."""
    grants = dict(Namespace.objects.values_list("normalized_prefix", "is_open"))

    def restricted(normalized_name: str) -> bool:
        parts = normalized_name.split("-")
        for end in range(len(parts), 0, -1):
            is_open = grants.get("-".join(parts[:end]))
            if is_open is not None:
                return not is_open
        return False

    return restricted


def is_reserved(normalized_name: str) -> bool:
    """Whether the name is this index's own, never the upstream's: private
    (PRIVATE_NAME_PATTERNS), or under a restricted namespace grant here
    (PEP 752; hidden grants too). Such a name is never asked upstream nor
    offered from it: dependency confusion through an organization's names."""
    return is_private(normalized_name) or _restricted_test()(normalized_name)


def has_local_project(normalized_name: str) -> bool:
    """Whether a local Project row holds the name, quarantined or not."""
    return Project.objects.filter(normalized_name=normalized_name).exists()


def is_fresh(project: UpstreamProject, *, now: datetime | None = None) -> bool:
    """Whether the upstream answered for ``project`` within UPSTREAM_FRESHNESS."""
    now = now or timezone.now()
    return project.checked_at is not None and now - project.checked_at < timedelta(
        seconds=settings.UPSTREAM_FRESHNESS
    )


# --- What may be offered --------------------------------------------------------------


def _cutoff(now: datetime | None) -> datetime:
    return (now or timezone.now()) - timedelta(seconds=settings.UPSTREAM_MIN_AGE)


def offered_files(project: UpstreamProject, *, now: datetime | None = None) -> list[UpstreamFile]:
    """The files of ``project`` this index offers, by filename: none when the
    name is local, reserved, quarantined (here or upstream), blocked or gone
    upstream; else those of no blocked version that are UPSTREAM_MIN_AGE old
    at ``now``."""
    blocked = _blocked_versions(project)
    if blocked is None or project.status == ProjectStatus.QUARANTINED:
        return []
    cutoff = _cutoff(now)
    return [
        file
        for file in project.files.all()
        if file.version not in blocked and file.published_at <= cutoff
    ]


def _blocked_versions(project: UpstreamProject) -> set[str] | None:
    """The blocked versions of ``project``, or None when nothing of it may be
    offered at all."""
    name = project.normalized_name
    if not project.exists or project.quarantined_at is not None or is_reserved(name):
        return None
    if has_local_project(name):
        return None
    blocked = set(
        UpstreamBlock.objects.filter(normalized_name=name).values_list("version", flat=True)
    )
    return None if "" in blocked else blocked


def answers_status(project: UpstreamProject) -> bool:
    """Whether the name's page is answered here although no file is offered:
    the upstream quarantined the project (PEP 792: its status, no files), and
    nothing here (a local name, a reservation, a block, a quarantine) hides it."""
    return project.status == ProjectStatus.QUARANTINED and _blocked_versions(project) is not None


def is_offered(file: UpstreamFile, *, now: datetime | None = None) -> bool:
    """Whether ``file`` is one of ``offered_files(file.project)``, in a few
    queries whatever the number of the project's files."""
    if file.project.status == ProjectStatus.QUARANTINED:
        return False
    blocked = _blocked_versions(file.project)
    return blocked is not None and file.version not in blocked and file.published_at <= _cutoff(now)


def next_offer_change(project: UpstreamProject, *, now: datetime | None = None) -> float | None:
    """Seconds until the next file of ``project`` becomes old enough to be
    offered, or None if none waits: a page must not be kept past that."""
    now = now or timezone.now()
    cutoff = _cutoff(now)
    waiting = [file.published_at for file in project.files.all() if file.published_at > cutoff]
    if not waiting:
        return None
    return (min(waiting) - cutoff).total_seconds()


def listed_projects(*, now: datetime | None = None):
    """The mirrored projects /simple/ lists, by name: fetched, on the
    upstream, not quarantined (here or upstream), reserved or blocked, no
    local project of the name, and at least one file offered. A QuerySet of normalized names."""
    cutoff = _cutoff(now)
    offered = (
        UpstreamFile.objects.filter(project=OuterRef("pk"))
        .annotate(published=Coalesce("upload_time", "first_seen_at"))
        .filter(published__lte=cutoff)
        .exclude(
            Exists(
                UpstreamBlock.objects.filter(
                    normalized_name=OuterRef("project__normalized_name"),
                    version=OuterRef("version"),
                )
            )
        )
    )
    whole_blocks = UpstreamBlock.objects.filter(
        normalized_name=OuterRef("normalized_name"), version=""
    )
    rows = (
        UpstreamProject.objects.filter(exists=True, quarantined_at=None)
        .exclude(status=ProjectStatus.QUARANTINED)
        .filter(Exists(offered))
        .exclude(Exists(Project.objects.filter(normalized_name=OuterRef("normalized_name"))))
        .exclude(Exists(whole_blocks))
        .order_by("normalized_name")
        .values_list("normalized_name", flat=True)
    )
    restricted = _restricted_test()
    return [name for name in rows if not is_private(name) and not restricted(name)]


# --- The upstream's page --------------------------------------------------------------


def refresh(normalized_name: str) -> UpstreamProject | None:
    """The name's row, fetched from the upstream when never asked or older
    than UPSTREAM_FRESHNESS (revalidated with its ETag). None when mirroring
    is off, the name is reserved (is_reserved: then the upstream is not
    asked), or it was never fetched and the upstream cannot be reached now.
    A row with ``exists`` False: the upstream has no such project. Bounded
    in time by the client (UPSTREAM_TIMEOUT)."""
    client = upstream.configured()
    if client is None or is_reserved(normalized_name):
        return None
    row = UpstreamProject.objects.filter(normalized_name=normalized_name).first()
    if row is not None and is_fresh(row):
        return row
    try:
        page = client.project_page(normalized_name, etag=row.etag if row is not None else "")
    except upstream.UpstreamError as exc:
        logger.warning("The upstream's page of %s: %s", normalized_name, exc)
        return row  # what was held, stale; None if never fetched
    return _record(normalized_name, page)


def _record(normalized_name: str, page) -> UpstreamProject:
    now = timezone.now()
    changed = False
    with transaction.atomic():
        # Two processes revalidating the same name take turns: each applies a
        # whole page, never half of one over half of the other.
        row, created = UpstreamProject.objects.select_for_update().get_or_create(
            normalized_name=normalized_name, defaults={"exists": page is not None}
        )
        if page is upstream.NOT_MODIFIED:
            row.checked_at = now
            row.save(update_fields=["checked_at"])
            return row
        if page is None:
            # A name the upstream never had leaves nothing to drop (no purge per probe).
            changed = row.exists
            row.exists = False
            row.etag = ""
            row.checked_at = now
            row.status, row.status_reason = ProjectStatus.ACTIVE, ""
            row.save(update_fields=["exists", "etag", "checked_at", "status", "status_reason"])
            # Nothing is offered any more; copies fetched here stay with their rows.
            row.files.filter(path="").delete()
            _prune_absent(now)
        else:
            status = (page.status, page.status_reason)
            changed = (
                _sync_files(row, page.links, now)
                or not row.exists
                or created
                or (row.status, row.status_reason) != status
            )
            row.exists = True
            row.etag = page.etag
            row.upstream_serial = page.serial
            row.checked_at = now
            row.status, row.status_reason = status
            row.save(
                update_fields=[
                    "exists",
                    "etag",
                    "upstream_serial",
                    "checked_at",
                    "status",
                    "status_reason",
                ]
            )
        if changed:
            forget(normalized_name)
    return row


def _prune_absent(now: datetime) -> None:
    """Forget the upstream's 404s older than UPSTREAM_FRESHNESS that hold
    nothing else (no file, quarantine or claim): anyone may probe names, and
    each probe's answer is kept only as long as it would be believed."""
    UpstreamProject.objects.filter(
        exists=False,
        checked_at__lt=now - timedelta(seconds=settings.UPSTREAM_FRESHNESS),
        quarantined_at=None,
        claim_allowed_at=None,
    ).exclude(Exists(UpstreamFile.objects.filter(project=OuterRef("pk")))).delete()


def file_version(filename: str) -> str | None:
    """The canonical version a distribution's filename names, or None for a
    file that is neither a wheel nor an sdist (eggs, installers: not mirrored,
    no installer of today takes them)."""
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


# The attributes that follow the upstream's page.
_CARRIED = ("url", "requires_python", "yanked", "yanked_reason", "size", "upload_time")


def _sync_files(row: UpstreamProject, links, now: datetime) -> bool:
    """Make the rows of ``row``'s files those of ``links``; whether any changed."""
    existing = {file.filename: file for file in row.files.all()}
    changed = False
    listed = set()
    new = []
    for link in links:
        version = file_version(link.filename)
        if version is None or link.filename in listed:
            continue
        listed.add(link.filename)
        values = {
            "url": link.url,
            "requires_python": link.requires_python,
            "yanked": link.yanked,
            "yanked_reason": link.yanked_reason if link.yanked else "",
            "size": link.size,
            "upload_time": link.upload_time,
        }
        file = existing.get(link.filename)
        if file is None:
            new.append(
                UpstreamFile(
                    project=row,
                    filename=link.filename,
                    version=version,
                    sha256_digest=link.sha256,
                    metadata_sha256_digest=link.metadata_sha256,
                    first_seen_at=now,
                    **values,
                )
            )
            continue
        if not file.path:
            # Not fetched yet: what the upstream says now is what will be fetched.
            values["sha256_digest"] = link.sha256
            values["metadata_sha256_digest"] = link.metadata_sha256
        elif file.sha256_digest != link.sha256:
            # Files are immutable; a copy here keeps the bytes it was checked against.
            logger.warning("The upstream changed the sha256 of %s; the copy here stays", file)
        updates = [key for key, value in values.items() if getattr(file, key) != value]
        if updates:
            for key in updates:
                setattr(file, key, values[key])
            file.save(update_fields=updates)
            changed = True
    if new:
        UpstreamFile.objects.bulk_create(new, ignore_conflicts=True)
        changed = True
    vanished = [file.pk for name, file in existing.items() if name not in listed and not file.path]
    if vanished:
        UpstreamFile.objects.filter(pk__in=vanished).delete()
        changed = True
    return changed


# --- Pages and files ------------------------------------------------------------------


def generation() -> str | None:
    """A token that changes with every forget(), in the shared cache."""
    return cache.get(GENERATION_KEY)


def forget(normalized_name: str) -> None:
    """After any change of what is offered under the name (a page refreshed
    with changes, a block, a quarantine, a local project taking the name):
    once the transaction commits, drop the cached pages of the name and of the
    index here, and purge the edges' copies of them and of its files."""

    def bump() -> None:
        cache.set(GENERATION_KEY, uuid.uuid4().hex, None)

    transaction.on_commit(bump)
    purge_project_on_commit(normalized_name, files=True)


def names_under(normalized_prefix: str) -> list[str]:
    """The mirrored names a namespace grant of ``normalized_prefix`` covers
    (the name itself and every ``<prefix>-...``, PEP 752)."""
    return list(
        UpstreamProject.objects.filter(
            Q(normalized_name=normalized_prefix)
            | Q(normalized_name__startswith=normalized_prefix + "-")
        )
        .order_by("normalized_name")
        .values_list("normalized_name", flat=True)
    )


def grant_changed(normalized_prefix: str) -> None:
    """A namespace grant of ``normalized_prefix`` was made, changed or revoked
    (packages.namespaces, in its transaction): what is offered under each
    mirrored name it covers may have changed (a restricted grant takes the
    names from the upstream; revoked or made open, gives them back)."""
    # The edges' copies: queued with the grant, in its transaction.
    if names := names_under(normalized_prefix):
        enqueue([key for name in names for key in project_keys(name, files=True)])

    def after_commit() -> None:
        # The names read again once the grant is visible: one first fetched
        # while the grant was being made has its row by now. A page of it
        # stored before this is dropped here; one rendered later either read
        # the grant or finds the generation moved (packages.simple._store).
        cache.set(GENERATION_KEY, uuid.uuid4().hex, None)
        for name in names_under(normalized_prefix):
            purge_project(name)

    transaction.on_commit(after_commit)


def storage_path(file: UpstreamFile) -> str:
    """The storage key of the copy of ``file``, from its sha256."""
    digest = file.sha256_digest
    return f"{STORAGE_PREFIX}{digest[:2]}/{digest[2:4]}/{digest[4:]}/{file.filename}"


def mirror_file_url(upstream_file: UpstreamFile) -> str:
    """This index's URL of a mirrored file, fetched on its first request: on
    FILES_URL's host when it is set (which must send /packages/mirror/ to this
    app, since the file may not be stored yet)."""
    path = reverse("mirror-file", args=[upstream_file.sha256_digest, upstream_file.filename])
    return f"{settings.FILES_URL}{path}" if settings.FILES_URL else path


def servable_file(sha256: str, filename: str, *, now: datetime | None = None):
    """The offered UpstreamFile of that digest and name, or None."""
    rows = UpstreamFile.objects.select_related("project").filter(
        sha256_digest=sha256, filename=filename
    )
    for file in rows:
        if is_offered(file, now=now):
            return file
    return None


def max_bytes(file: UpstreamFile) -> int:
    """The most a download of ``file`` may bring: the size the upstream gave
    (more cannot match its sha256 anyway), else UPLOAD_MAX_BYTES."""
    return file.size if file.size is not None else settings.UPLOAD_MAX_BYTES


def fetch_file(file: UpstreamFile) -> str:
    """Fetch, verify and store the copy of ``file`` unless stored: its storage
    key. upstream.UpstreamError (DigestMismatch too): nothing is stored."""
    path = storage_path(file)
    if file.path and files_storage().exists(file.path):
        return file.path
    size = _download(file.url, file.sha256_digest, max_bytes(file), path)
    # The size too, where the upstream's page gave none (an HTML-only index).
    now = timezone.now()
    UpstreamFile.objects.filter(pk=file.pk).update(path=path, fetched_at=now, size=size)
    file.path, file.fetched_at, file.size = path, now, size
    return path


# A core metadata file is small; anything larger is not one.
METADATA_MAX_BYTES = 16 * 1024 * 1024


def fetch_metadata(file: UpstreamFile) -> str:
    """Fetch, verify and store ``file``'s PEP 658 metadata unless stored."""
    path = storage_path(file) + METADATA_SUFFIX
    if file.metadata_path and files_storage().exists(file.metadata_path):
        return file.metadata_path
    _download(file.url + METADATA_SUFFIX, file.metadata_sha256_digest, METADATA_MAX_BYTES, path)
    UpstreamFile.objects.filter(pk=file.pk).update(metadata_path=path)
    file.metadata_path = path
    return path


def _download(url: str, sha256: str, limit: int, path: str) -> int:
    client = upstream.configured()
    if client is None:
        raise upstream.UpstreamError("No upstream index is configured (UPSTREAM_INDEX_URL).")
    # Streamed into a nameless temporary file (memory stays bounded whatever
    # the size) and stored only once its sha256 is checked; on any error the
    # file vanishes with its descriptor and nothing is stored.
    with anonymous_temp_file() as handle:
        size = client.download(url, sha256=sha256, max_bytes=limit, into=handle)
        handle.flush()
        store_file(path, open_file_path(handle))
    return size
