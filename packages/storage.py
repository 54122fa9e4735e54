"""Where distribution files live: Django's storage API, under the "files" alias
(filesystem by default, S3-compatible when configured)."""

import hashlib
import logging
import os
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files import File as DjangoFile
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.db import connection, transaction

from .models import File, StagedFile
from .upload_handler import anonymous_temp_file, open_file_path

logger = logging.getLogger(__name__)

METADATA_SUFFIX = ".metadata"
# store_file's name for an object still being written, beside its target.
PARTIAL_SUFFIX = ".partial"
# What file_path() makes (and a file's ".metadata" beside it), as URLs match it.
STORED_PATH_PATTERN = r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}/[^/]+"


def files_storage() -> Storage:
    return storages["files"]


def file_path(*, blake2_256_digest: str, filename: str) -> str:
    """The public index's layout: <2 hex>/<2 hex>/<60 hex>/<filename>."""
    digest = blake2_256_digest
    return f"{digest[:2]}/{digest[2:4]}/{digest[4:]}/{filename}"


def metadata_path(path: str) -> str:
    return path + METADATA_SUFFIX


class StorageUnavailable(Exception):
    """The file store cannot take or give files; the message says why, for the
    person who can fix it."""


def _object_prefix(storage: Storage) -> str:
    """Where the objects are under FILES_URL: an object store's key prefix (its
    location, AWS_LOCATION), or packages/ for files on disk, served there by
    this app or by whatever serves FILES_ROOT."""
    if isinstance(storage, FileSystemStorage):
        return "packages/"
    location = getattr(storage, "location", "").strip("/")
    return f"{location}/" if location else ""


def file_url(path: str) -> str:
    """Absolute-path or absolute URL for a stored file. Without FILES_URL it is
    this app's /packages/ URL; with FILES_URL (a bucket's URL, or a CDN in front
    of it) it is the object's own key under it, so the links and the store
    agree whatever the prefix: the default prefix is packages/ on both."""
    if not settings.FILES_URL:
        return f"/packages/{path}"
    return f"{settings.FILES_URL}/{_object_prefix(files_storage())}{path}"


def check_bucket() -> None:
    """Raise StorageUnavailable unless the object store's bucket exists and
    answers. Files on disk need no check: their directories are made as needed."""
    storage = files_storage()
    bucket = getattr(storage, "bucket_name", None)
    if bucket is None:
        return
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        storage.connection.meta.client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise StorageUnavailable(
            f"The file store's bucket {bucket!r} does not exist; "
            "create it with `manage.py create_bucket`."
            if code in {"404", "NoSuchBucket"}
            else f"The file store refuses the bucket {bucket!r}: {code}."
        ) from None
    except BotoCoreError as exc:
        raise StorageUnavailable(f"The file store does not answer: {exc}") from None


def create_bucket() -> str | None:
    """Create the object store's bucket unless it exists: its name if this
    created it, None if it was there already. Files on disk: ValueError."""
    storage = files_storage()
    bucket = getattr(storage, "bucket_name", None)
    if bucket is None:
        raise ValueError("FILES_STORAGE is not s3: there is no bucket to create.")
    try:
        check_bucket()
    except StorageUnavailable:
        pass
    else:
        return None
    options = {}
    region = storage.connection.meta.client.meta.region_name
    if region and region != "us-east-1":  # S3 refuses the default region named
        options["CreateBucketConfiguration"] = {"LocationConstraint": region}
    storage.connection.meta.client.create_bucket(Bucket=bucket, **options)
    return bucket


def store_file(path: str, source: str) -> None:
    """Put the file at ``source`` (a local path) under ``path``, atomically.

    Readers never see a half-written object: on the filesystem the bytes go to
    a temporary name beside the target and are renamed over it; an object
    store's PUT is atomic already. An existing object at ``path`` is replaced:
    the path is content-addressed, so it can only be the same bytes, or the
    remains of an upload that died before its rows were committed.
    """
    storage = files_storage()
    if isinstance(storage, FileSystemStorage):
        target = Path(storage.path(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}")
        _link_or_copy(source, partial)
        try:
            os.chmod(partial, 0o644)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    else:
        try:
            with open(source, "rb") as handle:
                storage.save(path, DjangoFile(handle, name=path))
        except Exception:
            # The backend's own error says little to an uploader (or none: an
            # HTML 500); when the bucket is the reason, say so.
            check_bucket()
            raise


def _link_or_copy(source: str, target: Path) -> None:
    """Hard-link ``source`` at ``target``; copy it where that cannot be done.

    ``source`` may be /proc/self/fd/N, an upload's nameless temporary file:
    only linkat(AT_SYMLINK_FOLLOW) links what that path points to, and os.link
    calls linkat, not link, when it is given a directory descriptor.
    """
    directory = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # Same filesystem (FILE_UPLOAD_TEMP_DIR under var/): no copy at all.
        os.link(source, target, src_dir_fd=directory, follow_symlinks=True)
    except OSError:
        # Another filesystem, or a temporary file that cannot be linked.
        shutil.copyfile(source, target)
    finally:
        os.close(directory)


def store_bytes(path: str, data: bytes) -> None:
    # A nameless file in the temp directory, as an upload's, so that a crash
    # leaves nothing and store_file can hard-link it.
    with anonymous_temp_file() as handle:
        handle.write(data)
        handle.flush()
        store_file(path, open_file_path(handle))


def lock_stored_path(path: str) -> None:
    """Within a transaction, wait for and hold the lock of the object at ``path``.

    Uploads of identical bytes share one content-addressed path. This lock
    orders the commit of one against the failure cleanup of another (and
    against fsck's repair), so a cleanup never deletes an object that a
    committed row points to. On SQLite the IMMEDIATE transaction already
    excludes every other writer.
    """
    if connection.vendor == "postgresql":
        key = int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def delete_unreferenced(path: str, objects: list[str]) -> bool:
    """Delete ``objects`` (``path`` and what belongs to it, like its metadata
    file) unless a committed row uses ``path``: a File, or a file an open
    publishing session holds (PEP 694, stored where its File will be);
    whether it did."""
    with transaction.atomic():
        lock_stored_path(path)
        if (
            File.objects.filter(path=path).exists()
            or StagedFile.objects.filter(path=path, reserved=True).exists()
        ):
            return False
        delete_objects(objects)
        return True


def delete_objects(paths) -> None:
    """Delete stored objects; ones already gone are not an error.

    A failing delete is logged and the rest still go: callers delete after the
    rows are gone (or were never committed), and an object without its row is
    never served, only an orphan to report.
    """
    storage = files_storage()
    for path in paths:
        try:
            storage.delete(path)
        except Exception:
            # Backends raise their own types (OSError, botocore errors).
            logger.exception("Could not delete stored object %s; it is now an orphan", path)
