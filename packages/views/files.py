"""/packages/<2 hex>/<2 hex>/<60 hex>/<filename>[.metadata]: distribution files
and their PEP 658 core metadata.

Only objects with a committed File row are served: the upload writes storage
before it commits the rows, so an object without its row is an upload still in
flight, or one that died, and must not be visible.

The file is always streamed by this view, whatever the storage:
- on the filesystem, FileResponse hands the open file to the server's
  ``wsgi.file_wrapper``, so gunicorn sends it with sendfile;
- on an S3-compatible store, the object body is streamed from the store. A
  redirect to the bucket would need a public bucket; streaming works with a
  private one. Deployments that want the bytes off the app set FILES_URL (a CDN
  or the bucket), so the simple pages link there and this view is not reached.
"""

import logging
from typing import NamedTuple

from django.core.files.base import File as StoredFile
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.http.response import HttpResponseBase, HttpResponseNotFound
from django.utils.cache import get_conditional_response
from django.utils.http import http_date

from packages.models import File
from packages.storage import METADATA_SUFFIX, files_storage

logger = logging.getLogger(__name__)

# A path names the same bytes forever (it is derived from their blake2b-256).
_IMMUTABLE = "public, max-age=31536000, immutable"
_STREAM_BLOCK_SIZE = 256 * 1024


def _content_type(path: str) -> str:
    # No Content-Encoding for a .tar.gz: clients would decompress it and then
    # fail the hash check against the compressed bytes.
    if path.endswith((".tar.gz", ".tgz")):
        return "application/gzip"
    return "application/octet-stream"


class _Servable(NamedTuple):
    sha256: str
    size: int | None  # None: ask the storage (metadata sizes are not recorded)
    modified: int  # whole seconds: HTTP dates have no fractions, and a client
    # echoing Last-Modified back must compare equal to it


def _lookup(path: str) -> _Servable | None:
    if path.endswith(METADATA_SUFFIX):
        row = (
            File.objects.filter(path=path.removesuffix(METADATA_SUFFIX))
            .exclude(metadata_sha256_digest="")
            .values_list("metadata_sha256_digest", "upload_time")
            .first()
        )
        if row is None:
            return None
        return _Servable(row[0], None, int(row[1].timestamp()))
    row = File.objects.filter(path=path).values_list("sha256_digest", "size", "upload_time").first()
    if row is None:
        return None
    return _Servable(row[0], row[1], int(row[2].timestamp()))


def _not_found() -> HttpResponse:
    return HttpResponseNotFound("404 Not Found", content_type="text/plain; charset=utf-8")


def _stream(
    handle: StoredFile, size: int, content_type: str, headers: dict[str, str]
) -> FileResponse:
    # An S3 file object downloads the whole object to a temporary file on first
    # read; the object's own body streams instead.
    obj = getattr(handle, "obj", None)
    source = handle
    if obj is not None:
        source = obj.get()["Body"]
        handle.close()
    response = FileResponse(source, content_type=content_type, headers=headers)
    response.block_size = _STREAM_BLOCK_SIZE
    response["Content-Length"] = str(size)
    return response


def serve(request: HttpRequest, path: str) -> HttpResponseBase:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    found = _lookup(path)
    if found is None:
        return _not_found()
    headers = {
        "ETag": f'"{found.sha256}"',
        "Last-Modified": http_date(found.modified),
        "Cache-Control": _IMMUTABLE,
    }
    conditional = get_conditional_response(
        request, etag=headers["ETag"], last_modified=found.modified
    )
    if conditional is not None:
        for key, value in headers.items():
            conditional[key] = value
        return conditional
    content_type = _content_type(path)
    try:
        handle = files_storage().open(path, "rb")
    except FileNotFoundError:
        # The row is committed but its object is gone: an operator's mistake
        # or a half-finished delete; worth a log line, not a 500.
        logger.error("File row without a stored object: %s", path)
        return _not_found()
    size = handle.size if found.size is None else found.size
    if request.method == "HEAD":
        handle.close()
        response = HttpResponse(content_type=content_type, headers=headers)
        response["Content-Length"] = str(size)
        return response
    return _stream(handle, size, content_type, headers)
