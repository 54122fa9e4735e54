"""The two hottest answers, given before Django's request machinery.

pip and uv ask for ``/simple/<name>/`` and then download files, far more often
than anything else. A simple page is bytes already rendered and cached
(``packages.simple``); a file is one indexed read and a sendfile. Building a
request, running the middleware and resolving the URL would cost several times
that, so this WSGI wrapper answers the plain cases itself: a GET (or HEAD, for
pages) with no query string, no conditional or range headers, an allowed Host,
a cache hit or a filesystem-stored file. Everything else goes to Django, which
answers the same way: the headers come from the same functions in both paths,
and tests compare the two answers header by header.
"""

import functools
import logging
import os
import re

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import DatabaseError, connection
from django.http.request import split_domain_port, validate_host

from packages import simple
from packages.converters import STORED_PATH
from packages.names import is_normalized_project_name
from packages.storage import files_storage
from packages.views import files
from packages.views.simple import page_headers
from pypi_site.middleware import document_headers

logger = logging.getLogger(__name__)

_PREFIX = "/simple/"
# The file route's own pattern: a path it would not match is Django's 404 to give.
_FILE_PATH = re.compile(f"/packages/({STORED_PATH})")
_FILE_BLOCK_SIZE = 256 * 1024
_CONDITIONAL = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_RANGE")


@functools.lru_cache(maxsize=64)
def _host_allowed(host: str) -> bool:
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


@functools.lru_cache(maxsize=1)
def _security_headers() -> tuple[tuple[str, str], ...]:
    # What SecurityMiddleware and XFrameOptionsMiddleware add to Django's answer
    # (the HSTS header only ever goes on HTTPS answers, which a TLS proxy makes).
    headers = []
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        headers.append(("Referrer-Policy", settings.SECURE_REFERRER_POLICY))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    headers.append(("X-Frame-Options", settings.X_FRAME_OPTIONS))
    return tuple(headers)


def _plain(environ, methods: tuple[str, ...]) -> bool:
    return (
        environ.get("REQUEST_METHOD") in methods
        and not environ.get("QUERY_STRING")
        and not any(header in environ for header in _CONDITIONAL)
        and environ.get("wsgi.url_scheme") == "http"
        and _host_allowed(environ.get("HTTP_HOST", ""))
    )


def cached_simple_answer(environ) -> tuple[list[tuple[str, str]], bytes] | None:
    """Headers and body of a cached simple page for this request, or None."""
    path = environ.get("PATH_INFO", "")
    if not path.startswith(_PREFIX) or not _plain(environ, ("GET", "HEAD")):
        return None
    name = path[len(_PREFIX) :]
    content_type = simple.negotiate(environ.get("HTTP_ACCEPT"))
    fmt = simple.page_format(content_type)
    if not name:
        page, key = simple.cached_index_page(fmt), "simple simple-index"
    elif name.endswith("/") and is_normalized_project_name(name[:-1]):
        name = name[:-1]
        page, key = simple.cached_detail_page(name, fmt), f"simple simple-{name}"
    else:
        return None
    if page is None:
        return None
    headers = page_headers(page, content_type, key)
    headers["Content-Length"] = str(len(page.body))
    body = b"" if environ["REQUEST_METHOD"] == "HEAD" else page.body
    extra = document_headers(headers["Content-Type"])
    return [*headers.items(), *_security_headers(), *extra], body


def file_answer(environ):
    """Headers and an open file for a plain download from the filesystem, or None."""
    match = _FILE_PATH.fullmatch(environ.get("PATH_INFO", ""))
    if (
        match is None
        or not _plain(environ, ("GET",))
        or not files.served_here(environ.get("HTTP_HOST", ""))
    ):
        return None
    storage = files_storage()
    if not isinstance(storage, FileSystemStorage):
        return None
    path = match.group(1)
    try:
        found = files.lookup(path)
    except DatabaseError:
        # Django's own request cycle knows how to recover a broken connection
        # (close_old_connections); hand it over rather than answer 500 here.
        logger.warning("fast path could not read the file row; passing to Django")
        connection.close()
        return None
    if found is None:
        return None
    try:
        handle = open(storage.path(path), "rb")  # noqa: SIM115 (closed by the server)
    except OSError:
        return None
    size = found.size if found.size is not None else os.fstat(handle.fileno()).st_size
    headers = files.file_headers(path, found, size)
    files.count_if_download(path, found)
    return [*headers.items(), *_security_headers()], handle


class SimpleFastPath:
    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        answer = cached_simple_answer(environ)
        if answer is not None:
            headers, body = answer
            start_response("200 OK", headers)
            return [body]
        download = file_answer(environ)
        if download is not None:
            headers, handle = download
            start_response("200 OK", headers)
            # gunicorn's file_wrapper sends the file with sendfile().
            wrapper = environ.get("wsgi.file_wrapper")
            if wrapper is not None:
                return wrapper(handle, _FILE_BLOCK_SIZE)
            return _read_blocks(handle)
        return self.application(environ, start_response)


def _read_blocks(handle):
    with handle:
        while block := handle.read(_FILE_BLOCK_SIZE):
            yield block
