"""Consistency between the File rows and the file storage: what ``manage.py
fsck`` reports and repairs.

An upload stores its objects first and commits its rows after; a deletion
commits first and deletes the objects after. A process killed in between
leaves an object that no row points to (an orphan): never served, since files
are served only by their row, but taking space. The opposite, a row whose
object is gone, or an object that is not the bytes its row describes, is
damage to the store that only a person can judge; fsck reports it and never
touches it.

The copies of the upstream's files (packages.mirror, under ``mirror/``) are
expected objects while their UpstreamFile row points to them, and are checked
the same way (sha256 only: the upstream gives no blake2b).
"""

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import File, StagedFile, UpstreamFile
from .storage import (
    METADATA_SUFFIX,
    delete_objects,
    files_storage,
    lock_stored_path,
    metadata_path,
)

MISSING = "missing object"  # a File row whose object is not in storage
MISSING_METADATA = "missing metadata"  # a wheel row with a metadata digest, no .metadata
SIZE = "size mismatch"
DIGEST = "digest mismatch"
ORPHAN = "orphan object"  # an object no File row points to
STRAY_TEMP = "stray temp file"  # a named file in FILE_UPLOAD_TEMP_DIR
REPAIRABLE = {ORPHAN, STRAY_TEMP}

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Problem:
    kind: str
    name: str  # a storage name, or a temp file's path
    detail: str
    modified: datetime | None = None  # for what --repair may remove

    def __str__(self) -> str:
        return f"{self.kind}: {self.name} ({self.detail})"


@dataclass(frozen=True)
class StoredObject:
    name: str
    size: int
    modified: datetime


def stored_objects(storage: Storage) -> Iterator[StoredObject]:
    """Every object in ``storage``, through the storage API."""
    bucket = getattr(storage, "bucket", None)
    if bucket is not None:
        # S3: one paginated listing with sizes and dates, not a listdir per
        # directory (65,536 of them under the two hex levels) and a HEAD per key.
        location = storage.location.strip("/")
        prefix = f"{location}/" if location else ""
        for summary in bucket.objects.filter(Prefix=prefix):
            yield StoredObject(summary.key[len(prefix) :], summary.size, summary.last_modified)
        return
    yield from _walk(storage, "")


def _walk(storage: Storage, directory: str) -> Iterator[StoredObject]:
    try:
        directories, names = storage.listdir(directory)
    except FileNotFoundError:
        return  # nothing stored yet (no var/files/), or removed while walking
    for name in names:
        path = f"{directory}/{name}" if directory else name
        yield StoredObject(path, storage.size(path), storage.get_modified_time(path))
    for child in directories:
        yield from _walk(storage, f"{directory}/{child}" if directory else child)


def _digests(storage: Storage, name: str) -> tuple[str, str]:
    sha256, blake2 = hashlib.sha256(), hashlib.blake2b(digest_size=32)
    with storage.open(name, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha256.update(chunk)
            blake2.update(chunk)
    return sha256.hexdigest(), blake2.hexdigest()


def _stray_temp_files() -> Iterator[Problem]:
    # Uploads receive into nameless files (upload_handler.anonymous_temp_file):
    # whatever has a name here was left by a process that died, or by an
    # older version of the index.
    directory = settings.FILE_UPLOAD_TEMP_DIR
    if not directory or not os.path.isdir(directory):
        return
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                stat = entry.stat(follow_symlinks=False)
                modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
                yield Problem(STRAY_TEMP, entry.path, f"{stat.st_size} bytes", modified)


def check(*, verify_digests: bool = False) -> list[Problem]:
    """Every inconsistency between the File rows and the storage.

    Sizes are always compared (the listing has them); digests only with
    ``verify_digests``, which reads every object.
    """
    storage = files_storage()
    # Listed before the rows are read: an upload that commits in between then
    # has its row seen, so its object is not taken for an orphan.
    objects = {stored.name: stored for stored in stored_objects(storage)}
    expected: set[str] = set()
    problems: list[Problem] = []
    rows = File.objects.values_list(
        "filename",
        "path",
        "size",
        "sha256_digest",
        "blake2_256_digest",
        "metadata_sha256_digest",
    ).order_by("path")
    for filename, path, size, sha256, blake2, metadata_sha256 in rows.iterator():
        expected.add(path)
        stored = objects.get(path)
        # exists(): stored after the listing is not missing.
        if stored is None and not storage.exists(path):
            problems.append(Problem(MISSING, path, f"the row of {filename} has no object"))
        elif stored is not None and stored.size != size:
            problems.append(Problem(SIZE, path, f"{stored.size} bytes stored, the row says {size}"))
        elif stored is not None and verify_digests and _digests(storage, path) != (sha256, blake2):
            problems.append(Problem(DIGEST, path, f"the bytes are not those of {filename}"))
        if not metadata_sha256:
            continue
        metadata = metadata_path(path)
        expected.add(metadata)
        if metadata not in objects and not storage.exists(metadata):
            problems.append(
                Problem(MISSING_METADATA, metadata, f"{filename} has a metadata digest")
            )
        elif verify_digests and _digests(storage, metadata)[0] != metadata_sha256:
            problems.append(Problem(DIGEST, metadata, f"not the metadata of {filename}"))
    problems.extend(_check_mirrored(storage, objects, expected, verify_digests))
    # A publishing session's staged files (PEP 694) are stored where their
    # File will be, before any File row exists: not orphans.
    for path, has_metadata in StagedFile.objects.exclude(path="").values_list(
        "path", "metadata_sha256_digest"
    ):
        expected.update([path, metadata_path(path)] if has_metadata else [path])
    for name in sorted(objects.keys() - expected):
        stored = objects[name]
        problems.append(Problem(ORPHAN, name, f"{stored.size} bytes, no row", stored.modified))
    problems.extend(sorted(_stray_temp_files(), key=lambda problem: problem.name))
    return problems


def _check_mirrored(
    storage: Storage, objects: dict, expected: set[str], verify_digests: bool
) -> Iterator[Problem]:
    rows = (
        UpstreamFile.objects.filter(~Q(path="") | ~Q(metadata_path=""))
        .order_by("path")
        .values_list(
            "filename", "path", "size", "sha256_digest", "metadata_path", "metadata_sha256_digest"
        )
    )
    for filename, path, size, sha256, metadata, metadata_sha256 in rows.iterator():
        if path:
            expected.add(path)
            stored = objects.get(path)
            if stored is None and not storage.exists(path):
                yield Problem(MISSING, path, f"the mirrored {filename} has no object")
            elif stored is not None and size is not None and stored.size != size:
                yield Problem(SIZE, path, f"{stored.size} bytes stored, the row says {size}")
            elif stored is not None and verify_digests and _digests(storage, path)[0] != sha256:
                yield Problem(DIGEST, path, f"the bytes are not those of {filename}")
        if metadata:
            expected.add(metadata)
            if metadata not in objects and not storage.exists(metadata):
                yield Problem(MISSING_METADATA, metadata, f"the mirrored {filename}'s metadata")
            elif verify_digests and _digests(storage, metadata)[0] != metadata_sha256:
                yield Problem(DIGEST, metadata, f"not the metadata of {filename}")


def _delete_orphan(name: str) -> bool:
    """Delete the object ``name`` unless, under the lock uploads commit with, a
    row now points to it."""
    base = name.removesuffix(METADATA_SUFFIX)
    with transaction.atomic():
        # An upload that stored this path re-checks, under the same lock, that
        # its objects still exist before it commits, and stores them again.
        lock_stored_path(base)
        rows = File.objects.filter(path=base)
        if name != base:
            rows = rows.exclude(metadata_sha256_digest="")
        if rows.exists():
            return False
        # A mirrored copy records its row after it is stored (packages.mirror):
        # the grace period covers that moment, this covers a fetch since the check.
        if UpstreamFile.objects.filter(Q(path=name) | Q(metadata_path=name)).exists():
            return False
        if StagedFile.objects.filter(path=base).exists():
            return False
        delete_objects([name])  # logs what it could not delete
    return not files_storage().exists(name)


def repair(problems: list[Problem], *, grace: timedelta) -> list[Problem]:
    """Remove the orphan objects and stray temp files older than ``grace``;
    the problems it repaired. The rest needs a person."""
    cutoff = timezone.now() - grace
    repaired = []
    for problem in problems:
        if problem.kind not in REPAIRABLE or problem.modified > cutoff:
            continue
        if problem.kind == ORPHAN:
            if _delete_orphan(problem.name):
                repaired.append(problem)
        else:
            Path(problem.name).unlink(missing_ok=True)  # gone meanwhile is as good
            repaired.append(problem)
    return repaired
