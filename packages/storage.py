"""Where distribution files live: Django's storage API, under the "files" alias
(filesystem by default, S3-compatible when configured)."""

import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

from .upload_handler import upload_temp_dir

logger = logging.getLogger(__name__)

METADATA_SUFFIX = ".metadata"
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


def file_url(path: str) -> str:
    """Absolute-path or absolute URL for a stored file, honouring FILES_URL."""
    base = settings.FILES_URL or ""
    return f"{base}/packages/{path}"


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
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
        try:
            # Same filesystem (FILE_UPLOAD_TEMP_DIR under var/): no copy at all.
            os.link(source, partial)
        except OSError:
            shutil.copyfile(source, partial)
        try:
            os.chmod(partial, 0o644)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    else:
        with open(source, "rb") as handle:
            storage.save(path, File(handle, name=path))


def store_bytes(path: str, data: bytes) -> None:
    # The temp directory, not the system's, so that store_file can hard-link;
    # made here too because nothing guarantees an upload has created it yet.
    with tempfile.NamedTemporaryFile(dir=upload_temp_dir()) as handle:
        handle.write(data)
        handle.flush()
        store_file(path, handle.name)


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
