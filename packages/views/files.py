"""/packages/<2 hex>/<2 hex>/<60 hex>/<filename>[.metadata]: distribution files
and their PEP 658 core metadata.

Only objects with a committed File row are served: the upload writes storage
before it commits the rows, so an object without its row is an upload still in
flight, or one that died, and must not be visible. Nor are the files of a
project a moderator has quarantined (they stay stored, for the moderators and
for a release from quarantine).

The file is always streamed by this view, whatever the storage:
- on the filesystem, FileResponse hands the open file to the server's
  ``wsgi.file_wrapper``, so gunicorn sends it with sendfile;
- on an S3-compatible store, the object body is streamed from the store. A
  redirect to the bucket would need a public bucket; streaming works with a
  private one. Deployments that want the bytes off the app set FILES_URL (a CDN
  or the bucket), so the simple pages link there.

With FILES_URL set, files are answered only on the FILES_URL host (the same app
may answer to it under a second name); on any other host, the pages' host above
all, a request is redirected there. Uploaded bytes are user content: on the
pages' origin a browser would give them that origin's cookies and trust.
"""

import logging
from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.base import File as StoredFile
from django.db import connection
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.http.response import HttpResponseBase, HttpResponseNotFound
from django.utils.cache import get_conditional_response
from django.utils.http import content_disposition_header, http_date

from packages import mirror, upstream
from packages.downloads import count_download
from packages.models import PROJECT_VISIBLE_SQL, File, Project, Release
from packages.storage import METADATA_SUFFIX, file_url, files_storage

logger = logging.getLogger(__name__)

_STREAM_BLOCK_SIZE = 256 * 1024
# Should a browser ever render a file as a document: no scripts, no requests,
# an opaque origin.
_SANDBOX = "default-src 'none'; sandbox"
_DEFAULT_PORTS = (":80", ":443")


def _bare_host(host: str) -> str:
    host = host.lower()
    for port in _DEFAULT_PORTS:
        host = host.removesuffix(port)
    return host


def served_here(host: str) -> bool:
    """Whether files are answered on ``host`` (the request's Host header)."""
    if not settings.FILES_URL:
        return True
    return _bare_host(host) == _bare_host(urlsplit(settings.FILES_URL).netloc)


def _content_type(path: str) -> str:
    # No Content-Encoding for a .tar.gz: clients would decompress it and then
    # fail the hash check against the compressed bytes.
    if path.endswith((".tar.gz", ".tgz")):
        return "application/gzip"
    return "application/octet-stream"


class _Servable(NamedTuple):
    file_id: int
    sha256: str
    size: int | None  # None: ask the storage (metadata sizes are not recorded)
    modified: int  # whole seconds: HTTP dates have no fractions, and a client
    # echoing Last-Modified back must compare equal to it
    project: str  # normalized name: the files-<name> surrogate key


# Raw SQL: this lookup runs on every download (the WSGI fast path included),
# where the ORM's own overhead would cost more than the indexed read. The file
# is found by its unique path; the two joins follow primary keys, so refusing
# the files of a quarantined project costs two index probes, not a second query.
_FROM = (
    f"FROM {File._meta.db_table} AS f "
    f"JOIN {Release._meta.db_table} AS r ON r.id = f.release_id "
    f"JOIN {Project._meta.db_table} AS p ON p.id = r.project_id "
    "WHERE f.path = %s AND " + PROJECT_VISIBLE_SQL.format(project="p")
)
_FILE_SQL = f"SELECT f.id, f.sha256_digest, f.size, f.upload_time, p.normalized_name {_FROM}"
_METADATA_SQL = (
    f"SELECT f.id, f.metadata_sha256_digest, NULL, f.upload_time, p.normalized_name {_FROM} "
    "AND f.metadata_sha256_digest <> ''"
)


def lookup(path: str) -> "_Servable | None":
    """What to serve at ``path``, or None when no committed row has it."""
    is_metadata = path.endswith(METADATA_SUFFIX)
    with connection.cursor() as cursor:
        cursor.execute(
            _METADATA_SQL if is_metadata else _FILE_SQL,
            [path.removesuffix(METADATA_SUFFIX) if is_metadata else path],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    file_id, sha256, size, upload_time, project = row
    return _Servable(file_id, sha256, size, int(_as_datetime(upload_time).timestamp()), project)


def _as_datetime(value: datetime) -> datetime:
    # Raw SQL gives SQLite's stored UTC time without its zone; PostgreSQL's
    # comes aware. Naive would be read as the machine's local time.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def file_headers(path: str, found: "_Servable", size: int) -> dict[str, str]:
    """Headers of a served file, shared with the WSGI fast path."""
    return {
        "Content-Type": _content_type(path),
        "Content-Length": str(size),
        "ETag": f'"{found.sha256}"',
        "Last-Modified": http_date(found.modified),
        "Cache-Control": settings.FILES_CACHE_CONTROL,
        # Immutable bytes, yet a quarantine or a deletion must take them off
        # an edge at once: the purge of the project's files names this key.
        "Surrogate-Key": f"files files-{found.project}",
        "Content-Disposition": content_disposition_header(False, path.rsplit("/", 1)[-1]),
        "Content-Security-Policy": _SANDBOX,
    }


def count_if_download(path: str, found: "_Servable") -> None:
    """Count a GET answered with the whole file (a metadata file is not a
    download). Shared with the WSGI fast path; no database write."""
    if not path.endswith(METADATA_SUFFIX):
        count_download(found.file_id)


def _not_found() -> HttpResponse:
    return HttpResponseNotFound("404 Not Found", content_type="text/plain; charset=utf-8")


def _stream(handle: StoredFile, headers: dict[str, str]) -> FileResponse:
    # An S3 file object downloads the whole object to a temporary file on first
    # read; the object's own body streams instead.
    obj = getattr(handle, "obj", None)
    source = handle
    if obj is not None:
        source = obj.get()["Body"]
        handle.close()
    response = FileResponse(source)
    response.block_size = _STREAM_BLOCK_SIZE
    # Set after FileResponse has guessed its own: ours are exact.
    for key, value in headers.items():
        response[key] = value
    return response


def _conditional(request: HttpRequest, found: "_Servable") -> HttpResponse | None:
    """The 304 (or 412) for a request whose validators still hold, or None."""
    etag = f'"{found.sha256}"'
    conditional = get_conditional_response(request, etag=etag, last_modified=found.modified)
    if conditional is not None:
        conditional["ETag"] = etag
        conditional["Last-Modified"] = http_date(found.modified)
        conditional["Cache-Control"] = settings.FILES_CACHE_CONTROL
    return conditional


def serve(request: HttpRequest, path: str) -> HttpResponseBase:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    if not served_here(request.get_host()):
        return HttpResponseRedirect(file_url(path))
    found = lookup(path)
    if found is None:
        return _not_found()
    conditional = _conditional(request, found)
    if conditional is not None:
        return conditional
    try:
        handle = files_storage().open(path, "rb")
    except FileNotFoundError:
        # The row is committed but its object is gone: an operator's mistake
        # or a half-finished delete; worth a log line, not a 500.
        logger.error("File row without a stored object: %s", path)
        return _not_found()
    size = handle.size if found.size is None else found.size
    headers = file_headers(path, found, size)
    if request.method == "HEAD":
        handle.close()
        return HttpResponse(headers=headers)
    # Counted when answered, as a CDN log would: a Range header is ignored
    # (the whole file is sent), so this is always a full 200.
    count_if_download(path, found)
    return _stream(handle, headers)


# --- Files of the upstream index ------------------------------------------------------


def _bad_gateway(message: str) -> HttpResponse:
    # The reason phrase carries the message too, as pip shows only that.
    response = HttpResponse(
        f"502 Bad Gateway\n\n{message}\n", status=502, content_type="text/plain; charset=utf-8"
    )
    response.reason_phrase = message.replace("\n", " ")[:200]
    response["Cache-Control"] = "no-store"
    return response


def serve_mirror(request: HttpRequest, sha256: str, filename: str) -> HttpResponseBase:
    """/packages/mirror/<sha256>/<filename>[.metadata]: a file of the upstream
    index (packages.mirror), fetched and checked on its first request, then
    served from storage with the headers of a local file. Not counted as a
    download (the counts are of local files)."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    if not served_here(request.get_host()):
        return HttpResponseRedirect(f"{settings.FILES_URL}{request.path}")
    is_metadata = filename.endswith(METADATA_SUFFIX)
    file = mirror.servable_file(sha256, filename.removesuffix(METADATA_SUFFIX))
    if file is None or (is_metadata and not file.metadata_sha256_digest):
        return _not_found()
    digest = file.metadata_sha256_digest if is_metadata else file.sha256_digest
    modified = int(file.published_at.timestamp())
    found = _Servable(file.pk, digest, None, modified, file.project.normalized_name)
    conditional = _conditional(request, found)
    if conditional is not None:
        return conditional
    try:
        path = mirror.fetch_metadata(file) if is_metadata else mirror.fetch_file(file)
    except upstream.DigestMismatch:
        return _bad_gateway(
            f"The upstream index sent bytes for {filename} that do not match its sha256 "
            f"{digest}; nothing was stored. Try again later, or ask the index's moderators."
        )
    except upstream.UpstreamError as exc:
        return _bad_gateway(f"{filename} could not be fetched from the upstream index: {exc}")
    handle = files_storage().open(path, "rb")
    headers = file_headers(path, found, handle.size)
    if request.method == "HEAD":
        handle.close()
        return HttpResponse(headers=headers)
    return _stream(handle, headers)
