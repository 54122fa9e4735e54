"""Where distribution files live: Django's storage API, under the "files" alias
(filesystem by default, S3-compatible when configured)."""

from django.conf import settings
from django.core.files.storage import Storage, storages

METADATA_SUFFIX = ".metadata"


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
