"""Cached simple pages answered before Django's request machinery.

pip and uv ask for ``/simple/<name>/`` far more often than for anything else,
and the answer is bytes already rendered and cached (``packages.simple``).
Building a request, running the middleware and resolving the URL would cost
several times the cache read, so this WSGI wrapper answers a plain cache hit
itself: a GET or HEAD of a normalized simple URL, no query string, no
conditional headers, an allowed Host. Everything else, cache misses included,
goes to Django, which renders and fills the cache; the headers come from the
same function in both paths.
"""

import functools

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from packages import simple
from packages.views.simple import is_normalized, page_headers, response_content_type

_PREFIX = "/simple/"


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


def cached_simple_answer(environ) -> tuple[list[tuple[str, str]], bytes] | None:
    """Headers and body of a cached simple page for this request, or None."""
    if (
        environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
        or environ.get("QUERY_STRING")
        or "HTTP_IF_NONE_MATCH" in environ
        or "HTTP_IF_MODIFIED_SINCE" in environ
        or environ.get("wsgi.url_scheme") != "http"
    ):
        return None
    path = environ.get("PATH_INFO", "")
    if not path.startswith(_PREFIX) or not _host_allowed(environ.get("HTTP_HOST", "")):
        return None
    name = path[len(_PREFIX) :]
    content_type = simple.select_content_type_from_accept(environ.get("HTTP_ACCEPT"))
    fmt = simple.page_format(content_type)
    if not name:
        page, key = simple.cached_index_page(fmt), "simple simple-index"
    elif name.endswith("/") and is_normalized(name[:-1]):
        name = name[:-1]
        page, key = simple.cached_detail_page(name, fmt), f"simple simple-{name}"
    else:
        return None
    if page is None:
        return None
    headers = page_headers(page, content_type, key)
    headers["Content-Type"] = response_content_type(content_type)
    headers["Content-Length"] = str(len(page.body))
    body = b"" if environ["REQUEST_METHOD"] == "HEAD" else page.body
    return [*headers.items(), *_security_headers()], body


class SimpleFastPath:
    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        answer = cached_simple_answer(environ)
        if answer is None:
            return self.application(environ, start_response)
        headers, body = answer
        start_response("200 OK", headers)
        return [body]
