"""The simple repository API: PEP 503 HTML and PEP 691 JSON pages, rendered once
per change and then served from the cache.

Specifications followed: PEP 503 (HTML), PEP 691 (JSON, negotiation), PEP 629
(repository-version meta tag), PEP 592 (yanked), PEP 658/714 (core metadata),
PEP 740 (provenance: each file's link to its provenance object, or null),
PEP 700 (versions, size, upload-time; API version 1.1), PEP 792 (project-status;
an active project's page carries none, which means active).

A name with no local project at all may be answered from the upstream index
(``packages.mirror``): its page is rendered by the same functions, with links
to this index's own URLs for the mirrored files, and kept under the same keys
for as long as it is fresh, so the WSGI fast path serves it like a local one.

A page is loaded with a fixed number of queries, rendered in both formats at
once (one database read serves the HTML and the JSON variant) and stored as
``CachedPage`` under the keys of ``packages.cache``. Serving a cached page does
no database query: the serial travels with the bytes.
"""

import dataclasses
import functools
import hashlib
import heapq
import io
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db.models import Max
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date
from packaging.version import Version

from . import mirror, namespaces, project_status
from .api_common import pep700_time
from .attestations import provenance_url
from .cache import local_pages, simple_detail_key, simple_index_key
from .models import File, JournalEntry, Project, ProjectStatus, Release, UpstreamProject
from .storage import file_url

# 1.4: PEP 792 project status; 1.5: PEP 752 namespaces (of the optional keys
# earlier minor versions added, PEP 740's provenance is given, PEP 708's left out).
API_VERSION = "1.5"

TEXT_HTML = "text/html"
V1_HTML = "application/vnd.pypi.simple.v1+html"
V1_JSON = "application/vnd.pypi.simple.v1+json"
# Offer order breaks ties between equally acceptable types: text/html first,
# as the public index does, so "*/*" (curl) and a missing Accept get HTML.
CONTENT_TYPES = (TEXT_HTML, V1_HTML, V1_JSON)
# PEP 691's "latest" meta version: a client may ask for it, and the answer
# names the concrete version it holds (its Content-Type is never "latest").
LATEST_ALIASES = {
    "application/vnd.pypi.simple.latest+html": V1_HTML,
    "application/vnd.pypi.simple.latest+json": V1_JSON,
}
# Offered last, so that they break no tie the concrete types would win.
_OFFERED = (*CONTENT_TYPES, *LATEST_ALIASES)

# How long a rendered page may stay in the origin cache. Purges make changes
# visible at once; the limit only bounds a page that outlived a missed purge
# (a process that died between its commit and its purge).
PAGE_CACHE_SECONDS = 300

# Projects read and rendered at a time for /simple/: its memory is the two
# bodies plus this many rows, whatever the number of projects.
INDEX_CHUNK_ROWS = 2000


class CachedPage(NamedTuple):
    body: bytes
    etag: str  # unquoted digest of body
    serial: str  # X-PyPI-Last-Serial, ready for the header
    # A page of the upstream's files (packages.mirror): "fresh" or "stale",
    # and the HTTP date the upstream last answered; "" for a local page.
    mirror: str = ""
    checked: str = ""


class UpstreamUnreachable(Exception):
    """A name never fetched from the upstream, which cannot be reached now."""


# --- Content negotiation ------------------------------------------------------


@functools.lru_cache(maxsize=512)
def negotiate(accept: str | None) -> str:
    """The media type for an ``Accept`` header value."""
    # Clients send a handful of distinct Accept headers (pip, uv, browsers), so
    # the parse is remembered per header value instead of redone per request.
    probe = HttpRequest()
    if accept is not None:
        probe.META["HTTP_ACCEPT"] = accept
    # Nothing acceptable: HTML, as the public index answers (never 406).
    return _concrete(probe.get_preferred_type(_OFFERED) or TEXT_HTML)


def _concrete(media_type: str) -> str:
    return LATEST_ALIASES.get(media_type, media_type)


def select_content_type(request: HttpRequest) -> str:
    """The media type to answer with: ``?format=`` first, then ``Accept``."""
    if request.META.get("QUERY_STRING"):
        requested = request.GET.get("format")
        if requested in _OFFERED:
            return _concrete(requested)
    return negotiate(request.META.get("HTTP_ACCEPT"))


def page_format(content_type: str) -> str:
    """The cache format ("html" or "json") holding the body for a media type."""
    return "json" if content_type == V1_JSON else "html"


# --- Selectors -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileLink:
    filename: str
    url: str
    sha256: str
    requires_python: str
    yanked: bool
    yanked_reason: str
    metadata_sha256: str
    size: int | None  # None: a mirrored file whose upstream gave no size
    upload_time: datetime | None  # None: a mirrored file without one
    # PEP 740: the URL of the file's provenance object; None without one.
    provenance: str | None = None


@dataclass(frozen=True, slots=True)
class ProjectListing:
    name: str
    normalized_name: str
    serial: int
    versions: list[str]
    files: list[FileLink]
    # PEP 792's project-status ("active" is not written: its absence means it).
    status: str = ProjectStatus.ACTIVE
    status_reason: str = ""
    # PEP 752's namespace key (packages.namespaces); None for a mirrored
    # project: grants are this index's, the upstream's names are not ours.
    namespace: dict | None = None


def project_listing(normalized_name: str) -> ProjectListing | None:
    """A project's releases and files in three queries, whatever their number;
    None when there is no such project. A project a moderator has quarantined
    is listed with its status and without a file (PEP 792)."""
    try:
        project = Project.objects.only(
            "name", "last_serial", "status", "status_reason", "quarantined_at", "quarantine_reason"
        ).get(normalized_name=normalized_name)
    except Project.DoesNotExist:
        return None
    project_id, name, serial = project.pk, project.name, project.last_serial
    status = project.project_status
    if status == ProjectStatus.QUARANTINED:
        return ProjectListing(
            name=name,
            normalized_name=normalized_name,
            serial=serial,
            versions=[],
            files=[],
            status=status,
            status_reason=project.project_status_reason,
        )
    releases = {
        row[0]: row[1:]
        for row in Release.objects.filter(project_id=project_id).values_list(
            "id", "version", "yanked", "yanked_reason", "requires_python"
        )
    }
    files = []
    # "provenance": the file's Provenance id, by a join on its unique file_id
    # (no query per file).
    for release_id, filename, path, sha256, metadata_sha256, size, upload_time, attested in (
        File.objects.filter(release__project_id=project_id)
        .order_by("filename")
        .values_list(
            "release_id",
            "filename",
            "path",
            "sha256_digest",
            "metadata_sha256_digest",
            "size",
            "upload_time",
            "provenance",
        )
    ):
        version, yanked, yanked_reason, requires_python = releases[release_id]
        files.append(
            FileLink(
                filename=filename,
                url=file_url(path),
                sha256=sha256,
                requires_python=requires_python,
                yanked=yanked,
                yanked_reason=yanked_reason,
                metadata_sha256=metadata_sha256,
                size=size,
                upload_time=upload_time,
                provenance=provenance_url(normalized_name, version, filename) if attested else None,
            )
        )
    versions = sorted((release[0] for release in releases.values()), key=Version)
    return ProjectListing(
        name=name,
        normalized_name=normalized_name,
        serial=serial,
        versions=versions,
        files=files,
        status=status,
        status_reason=project.project_status_reason,
    )


def _project_serial(normalized_name: str) -> int | None:
    # Quarantined projects too: a quarantine moves the serial like any change,
    # which is what tells _store that the page it just rendered is stale.
    return (
        Project.objects.filter(normalized_name=normalized_name)
        .values_list("last_serial", flat=True)
        .first()
    )


def _global_serial() -> int:
    return JournalEntry.objects.aggregate(serial=Max("id"))["serial"] or 0


def index_rows() -> Iterator[tuple[str, str, int]]:
    """(name, normalized_name, last_serial) of every visible project, by name,
    fetched ``INDEX_CHUNK_ROWS`` at a time (a server-side cursor on PostgreSQL):
    the index of half a million projects never holds them all as Python objects."""
    return (
        Project.objects.visible()
        .order_by("normalized_name")
        .values_list("name", "normalized_name", "last_serial")
        .iterator(chunk_size=INDEX_CHUNK_ROWS)
    )


# --- Rendering ------------------------------------------------------------------

_HTML_HEAD = (
    "<!DOCTYPE html>\n<html>\n  <head>\n"
    f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
)


def render_detail_html(listing: ProjectListing) -> bytes:
    title = escape(listing.normalized_name)
    parts = [
        _HTML_HEAD,
        _status_meta(listing),
        f"    <title>Links for {title}</title>\n  </head>\n  <body>\n",
        f"    <h1>Links for {title}</h1>\n",
    ]
    for link in listing.files:
        attrs = f'href="{escape(link.url)}#sha256={link.sha256}"'
        if link.requires_python:
            attrs += f' data-requires-python="{escape(link.requires_python)}"'
        if link.yanked:
            # PEP 592: the attribute's presence marks the yank; its value is the reason.
            attrs += f' data-yanked="{escape(link.yanked_reason)}"'
        if link.metadata_sha256:
            # PEP 714 renamed the attribute; the old name stays for older pip.
            metadata = f"sha256={link.metadata_sha256}"
            attrs += f' data-dist-info-metadata="{metadata}" data-core-metadata="{metadata}"'
        if link.provenance:
            attrs += f' data-provenance="{escape(link.provenance)}"'
        parts.append(f"    <a {attrs}>{escape(link.filename)}</a><br>\n")
    parts.append("  </body>\n</html>\n")
    return "".join(parts).encode()


def _file_json(link: FileLink) -> dict:
    metadata = {"sha256": link.metadata_sha256} if link.metadata_sha256 else False
    yanked: bool | str = (link.yanked_reason or True) if link.yanked else False
    data = {
        "filename": link.filename,
        "url": link.url,
        "hashes": {"sha256": link.sha256},
        "requires-python": link.requires_python or None,
        "core-metadata": metadata,
        "dist-info-metadata": metadata,
        "yanked": yanked,
        "size": link.size,
        # PEP 740: the provenance object's URL, or null.
        "provenance": link.provenance,
    }
    if link.upload_time is not None:  # PEP 700: optional
        data["upload-time"] = pep700_time(link.upload_time)
    return data


def _json_bytes(data: dict) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def render_detail_json(listing: ProjectListing) -> bytes:
    return _json_bytes(
        {
            "meta": {"api-version": API_VERSION, "_last-serial": listing.serial},
            "name": listing.normalized_name,
            "versions": listing.versions,
            "files": [_file_json(link) for link in listing.files],
            "namespace": listing.namespace,
            **_status_json(listing),
        }
    )


def _status_meta(listing: ProjectListing) -> str:
    """PEP 792's meta tags (the simple API spec, HTML project detail); none
    for an active project, which is what their absence means."""
    if listing.status == ProjectStatus.ACTIVE:
        return ""
    tags = f'    <meta name="pypi:project-status" content="{listing.status}">\n'
    if listing.status_reason:
        reason = escape(listing.status_reason)
        tags += f'    <meta name="pypi:project-status-reason" content="{reason}">\n'
    return tags


def _status_json(listing: ProjectListing) -> dict:
    """PEP 792's ``project-status`` key, with ``reason`` only when one is set;
    none for an active project."""
    if listing.status == ProjectStatus.ACTIVE:
        return {}
    return {"project-status": project_status.status_fields(listing.status, listing.status_reason)}


class _Body:
    """A page's bytes written a piece at a time, digested as they come."""

    def __init__(self):
        self._buffer = io.BytesIO()
        self._digest = hashlib.blake2b(digest_size=16)

    def write(self, text: str) -> None:
        data = text.encode()
        self._buffer.write(data)
        self._digest.update(data)

    def page(self, serial: int) -> CachedPage:
        # getvalue() hands over the buffer itself when nothing else holds it:
        # the body is not copied once more.
        return CachedPage(self._buffer.getvalue(), self._digest.hexdigest(), str(serial))


def render_index(rows: Iterable[tuple[str, str, int]], serial: int) -> dict[str, CachedPage]:
    """The index in both formats ("html", "json"), written chunk by chunk as the
    rows stream in: what it holds besides the two bodies is one chunk of rows."""
    base = reverse("simple-index")
    html, data = _Body(), _Body()
    html.write(f"{_HTML_HEAD}    <title>Simple index</title>\n  </head>\n  <body>\n")
    meta = json.dumps({"api-version": API_VERSION, "_last-serial": serial}, separators=(",", ":"))
    data.write(f'{{"meta":{meta},"projects":[')
    separator = ""
    for chunk in _chunks(rows, INDEX_CHUNK_ROWS):
        html.write(
            "".join(
                f'    <a href="{base}{normalized}/">{escape(name)}</a>\n'
                for name, normalized, _serial in chunk
            )
        )
        # The chunk's list without its brackets: json.dumps writes each entry
        # exactly as it would inside the whole document.
        entries = [{"name": name, "_last-serial": last} for name, _normalized, last in chunk]
        data.write(separator + json.dumps(entries, separators=(",", ":"))[1:-1])
        separator = ","
    html.write("  </body>\n</html>\n")
    data.write("]}")
    return {"html": html.page(serial), "json": data.page(serial)}


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


# --- Cached pages ---------------------------------------------------------------


def _page(body: bytes, serial: int, mirror: str = "", checked: str = "") -> CachedPage:
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    return CachedPage(body, digest, str(serial), mirror, checked)


def _store(
    pages: dict[str, CachedPage],
    serial,
    current_serial: Callable,
    seconds: float = PAGE_CACHE_SECONDS,
) -> None:
    cache.set_many(pages, seconds)
    # The race: this read saw serial N, then a change committed and purged
    # before the set above, which would keep the old page until it expires.
    # Every change moves the serial and purges only after its commit, so
    # reading the serial again after the set catches exactly that case.
    if current_serial() != serial:
        cache.delete_many(list(pages))
        return
    for key, page in pages.items():
        local_pages.put(key, page, len(page.body))


def _cached(key: str) -> CachedPage | None:
    # This process's copy first (no round trip), then the shared cache.
    page = local_pages.get(key)
    if page is None:
        page = cache.get(key)
        if page is not None:
            local_pages.put(key, page, len(page.body))
    return page


def cached_detail_page(normalized_name: str, fmt: str) -> CachedPage | None:
    """The project's page if the cache holds a current one; never renders."""
    return _cached(simple_detail_key(normalized_name, fmt))


def cached_index_page(fmt: str) -> CachedPage | None:
    return _cached(simple_index_key(fmt))


def detail_page(normalized_name: str, fmt: str) -> CachedPage | None:
    """The project's page in ``fmt`` ("html"/"json"), or None if no such project."""
    page = cached_detail_page(normalized_name, fmt)
    if page is not None:
        return page
    listing = project_listing(normalized_name)
    if listing is None:
        return _mirrored_detail_page(normalized_name, fmt)
    listing = _with_namespace(listing)
    html_key = simple_detail_key(normalized_name, "html")
    json_key = simple_detail_key(normalized_name, "json")
    pages = {
        html_key: _page(render_detail_html(listing), listing.serial),
        json_key: _page(render_detail_json(listing), listing.serial),
    }
    _store(pages, listing.serial, lambda: _project_serial(normalized_name))
    return pages[simple_detail_key(normalized_name, fmt)]


def _with_namespace(listing: ProjectListing) -> ProjectListing:
    # A change of grant journals every project under it, so the serial the
    # page is stored against moves with the namespace too.
    found = namespaces.project_namespace(listing.normalized_name)
    return dataclasses.replace(listing, namespace=found.as_json() if found else None)


def index_page(fmt: str) -> CachedPage:
    page = cached_index_page(fmt)
    if page is not None:
        return page
    if not mirror.enabled():
        serial = _global_serial()
        rendered = render_index(index_rows(), serial)
        pages = {simple_index_key(name): page for name, page in rendered.items()}
        _store(pages, serial, _global_serial)
        return pages[simple_index_key(fmt)]

    # The mirrored projects too. A fetch moves no serial here: it moves the
    # mirror's generation (mirror.forget), which _store checks as well.
    def version() -> tuple:
        return _global_serial(), mirror.generation()

    before = version()
    mirrored = ((name, name, 0) for name in mirror.listed_projects())
    rows = heapq.merge(index_rows(), mirrored, key=lambda row: row[1])
    rendered = render_index(rows, before[0])
    pages = {simple_index_key(name): page for name, page in rendered.items()}
    _store(pages, before, version)
    return pages[simple_index_key(fmt)]


# --- Pages of the upstream's files ------------------------------------------------------


def mirror_listing(project: UpstreamProject, *, now: datetime | None = None) -> ProjectListing:
    """The listing of what ``project`` offers (packages.mirror.offered_files),
    for the same renderers as a local project's. Its serial is 0: the
    upstream's own serials count in another journal than this index's."""
    files = mirror.offered_files(project, now=now)
    versions = sorted({file.version for file in files}, key=Version)
    links = [
        FileLink(
            filename=file.filename,
            url=mirror.mirror_file_url(file),
            sha256=file.sha256_digest,
            requires_python=file.requires_python,
            yanked=file.yanked,
            yanked_reason=file.yanked_reason,
            metadata_sha256=file.metadata_sha256_digest,
            size=file.size,
            upload_time=file.upload_time,
        )
        for file in files
    ]
    name = project.normalized_name
    return ProjectListing(
        name=name,
        normalized_name=name,
        serial=0,
        versions=versions,
        files=links,
        # PEP 792: the upstream's status, rendered as a local project's.
        status=project.status,
        status_reason=project.status_reason,
    )


def _mirrored_detail_page(normalized_name: str, fmt: str) -> CachedPage | None:
    """The page of the upstream's files for a name with no local project, or
    None (mirroring off, a reserved or local name, nothing offered, unless
    the upstream quarantined it: its status then, without a file). Raises
    UpstreamUnreachable for a name never fetched while the upstream is down."""
    if (
        not mirror.enabled()
        # Private, or under a restricted namespace grant: never the upstream's.
        or mirror.is_reserved(normalized_name)
        # Quarantined local projects too: the name is ours, never the upstream's.
        or mirror.has_local_project(normalized_name)
    ):
        return None
    project = mirror.refresh(normalized_name)  # bounded by UPSTREAM_TIMEOUT
    if project is None:
        raise UpstreamUnreachable(normalized_name)
    # Read after the refresh, whose own changes are committed by now.
    before = (None, mirror.generation())
    now = timezone.now()
    listing = mirror_listing(project, now=now)
    if not listing.files and not mirror.answers_status(project):
        return None
    if mirror.is_fresh(project, now=now):
        status = "fresh"
        age = (now - project.checked_at).total_seconds()
        seconds = settings.UPSTREAM_FRESHNESS - age
        waiting = mirror.next_offer_change(project, now=now)
        if waiting is not None:
            seconds = min(seconds, waiting)
    else:
        # The upstream could not be asked: asked again once its breaker may
        # have closed, and meanwhile this copy serves every request.
        status = "stale"
        seconds = min(settings.UPSTREAM_BREAKER_SECONDS, settings.UPSTREAM_FRESHNESS)
    checked = http_date(project.checked_at.timestamp()) if project.checked_at else ""
    html_key = simple_detail_key(normalized_name, "html")
    json_key = simple_detail_key(normalized_name, "json")
    pages = {
        html_key: _page(render_detail_html(listing), 0, status, checked),
        json_key: _page(render_detail_json(listing), 0, status, checked),
    }
    # A local project created meanwhile, or a block or quarantine (forget):
    # the page just stored is dropped again.
    _store(
        pages,
        before,
        lambda: (_project_serial(normalized_name), mirror.generation()),
        max(seconds, 1),
    )
    return pages[simple_detail_key(normalized_name, fmt)]
