"""/simple/ and /simple/<name>/: negotiate, take the cached page, answer.

The hot path is a cache get and an HttpResponse; rendering lives in
``packages.simple``.
"""

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseNotFound,
    HttpResponsePermanentRedirect,
)
from django.urls import reverse
from django.utils.cache import get_conditional_response

from packages import mirror, simple
from packages.api_common import public_headers
from packages.mirrored import cap_edge_lifetime
from packages.names import is_normalized_project_name, normalize_project_name

_RESPONSE_CONTENT_TYPES = {
    simple.TEXT_HTML: "text/html; charset=utf-8",
    simple.V1_HTML: "application/vnd.pypi.simple.v1+html; charset=utf-8",
    simple.V1_JSON: simple.V1_JSON,
}
# text/html and the v1 HTML type share one body but are two representations,
# so their strong validators must differ.
_ETAG_SUFFIX = {simple.TEXT_HTML: "", simple.V1_HTML: "-v1", simple.V1_JSON: ""}


def page_headers(page: simple.CachedPage, content_type: str, surrogate_key: str) -> dict[str, str]:
    """Headers of a simple page, shared with the WSGI fast path (pypi_site.fastpath)."""
    headers = public_headers(surrogate_key)
    headers["Content-Type"] = _RESPONSE_CONTENT_TYPES[content_type]
    headers["ETag"] = f'"{page.etag}{_ETAG_SUFFIX[content_type]}"'
    headers["Vary"] = "Accept"
    headers["X-PyPI-Last-Serial"] = page.serial
    if page.mirror:
        headers["X-Mirror-Status"] = page.mirror
        headers["X-Mirror-Checked"] = page.checked
        cap_edge_lifetime(headers)
    return headers


def _page_response(
    request: HttpRequest, page: simple.CachedPage, content_type: str, surrogate_key: str
) -> HttpResponse:
    headers = page_headers(page, content_type, surrogate_key)
    if "HTTP_IF_NONE_MATCH" in request.META:
        not_modified = get_conditional_response(request, etag=headers["ETag"])
        if not_modified is not None:
            for key, value in headers.items():
                if key != "Content-Type":  # a 304 has no body to describe
                    not_modified[key] = value
            return not_modified
    if request.method == "HEAD":
        response = HttpResponse(headers=headers)
        response["Content-Length"] = str(len(page.body))
        return response
    return HttpResponse(page.body, headers=headers)


def _not_found(surrogate_key: str, *, mirrored: bool = False) -> HttpResponse:
    # Cacheable like a page, and under the project's key, so the purge that
    # follows the project's creation clears it from a CDN too. A name the
    # upstream may start to offer is kept no longer than a mirrored page.
    headers = public_headers(surrogate_key)
    if mirrored:
        cap_edge_lifetime(headers)
    return HttpResponseNotFound(
        "404 Not Found", content_type="text/plain; charset=utf-8", headers=headers
    )


def _upstream_unreachable(name: str) -> HttpResponse:
    message = (
        f"The upstream index could not be reached, and this index holds no copy of "
        f"{name!r} yet. Try again later."
    )
    response = HttpResponseNotFound(
        f"404 Not Found\n\n{message}\n",
        content_type="text/plain; charset=utf-8",
        # Not kept anywhere: the next request may find the upstream back.
        headers={"Cache-Control": "no-store", "X-Mirror-Status": "unreachable"},
    )
    response.reason_phrase = message
    return response


def index(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    content_type = simple.select_content_type(request)
    page = simple.index_page(simple.page_format(content_type))
    return _page_response(request, page, content_type, "simple simple-index")


def detail(request: HttpRequest, name: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    # The route's converter let only PEP 508 names through (packages.converters):
    # each normalizes to a name that may exist.
    if not is_normalized_project_name(name):
        normalized = normalize_project_name(name)
        location = reverse("simple-detail", args=[normalized])
        if query := request.META.get("QUERY_STRING"):
            location = f"{location}?{query}"
        return HttpResponsePermanentRedirect(
            location, headers=public_headers(f"simple simple-{normalized}")
        )
    content_type = simple.select_content_type(request)
    try:
        page = simple.detail_page(name, simple.page_format(content_type))
    except simple.UpstreamUnreachable:
        return _upstream_unreachable(name)
    if page is None:
        return _not_found(
            f"simple simple-{name}", mirrored=mirror.enabled() and not mirror.is_private(name)
        )
    return _page_response(request, page, content_type, f"simple simple-{name}")
