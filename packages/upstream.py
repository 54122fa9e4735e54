"""The client of another index's simple API: the upstream a company index mirrors
(UPSTREAM_INDEX_URL, packages.mirror) and the source ``import_distributions
--from-index`` copies from.

Specifications followed: PEP 503 (HTML pages), PEP 691 (JSON pages, asked for
first), PEP 592 (yanks), PEP 658/714 (core metadata), PEP 700 (size,
upload-time), PEP 792 (project status: JSON ``project-status``, HTML
``pypi:project-status`` meta tags), PEP 629 (the repository version is not
checked: a page we can read is used).

Every request is bounded: a page is fetched within ``timeout`` seconds in all,
at most ``max_concurrency`` fetches run at once in a process (more wait, within
the same bound), and a circuit breaker shared by every process (the cache)
stops asking an upstream that failed ``breaker_failures`` times in a row, for
``breaker_seconds``. A failure is an UpstreamError whose message says what
happened in words a person can act on.
"""

import fnmatch
import functools
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import BinaryIO, Final
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import urllib3
from django.conf import settings
from django.core.cache import cache
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from .models import ProjectStatus
from .project_status import STATUS_REASON_MAX_LENGTH

# PEP 691 JSON first; HTML from an index that only has that (pypiserver).
PAGE_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, "
    "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
)
V1_JSON = "application/vnd.pypi.simple.v1+json"
# The largest page read: the public index's biggest project pages are a few
# tens of MB; anything larger is refused rather than held in memory.
PAGE_MAX_BYTES = 64 * 1024 * 1024
# The index of every project (import_distributions only) is larger still.
INDEX_MAX_BYTES = 512 * 1024 * 1024
READ_BLOCK = 1024 * 1024
MAX_REDIRECTS = 3
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Who is asking, for the upstream's logs.
_BASE_HEADERS = {"User-Agent": "pypi-site mirror (+packages.upstream)"}


class UpstreamError(Exception):
    """The upstream could not give an answer; the message says why."""


class DigestMismatch(UpstreamError):
    """Downloaded bytes whose sha256 is not the one the page announced."""


class _NotModified:
    def __repr__(self) -> str:
        return "NOT_MODIFIED"


# The page did not change since the ETag given to project_page.
NOT_MODIFIED: Final = _NotModified()


@dataclass(frozen=True, slots=True)
class UpstreamLink:
    filename: str
    url: str  # absolute, without the fragment
    sha256: str
    requires_python: str
    yanked: bool
    yanked_reason: str
    metadata_sha256: str  # "" when no core metadata is offered
    size: int | None
    upload_time: datetime | None


@dataclass(frozen=True, slots=True)
class UpstreamPage:
    normalized_name: str
    links: list[UpstreamLink]
    etag: str
    serial: int | None
    # PEP 792: one of ProjectStatus, and its reason ("" for none, always for active).
    status: str = ProjectStatus.ACTIVE
    status_reason: str = ""


def normalize_pattern(pattern: str) -> str:
    """A glob of names in PEP 503 form: "Acme_*" matches what "acme-*" does."""
    return re.sub(r"[-_.]+", "-", pattern.strip().lower())


def is_private(normalized_name: str, patterns: Iterable[str] | None = None) -> bool:
    """Whether the name matches PRIVATE_NAME_PATTERNS (or ``patterns``): such a
    name is never asked of the upstream."""
    if patterns is None:
        patterns = settings.PRIVATE_NAME_PATTERNS
    return any(fnmatch.fnmatchcase(normalized_name, normalize_pattern(p)) for p in patterns)


def is_distribution(filename: str) -> bool:
    """A wheel or an sdist whose name packaging can read: the files an index offers."""
    try:
        if filename.endswith(".whl"):
            parse_wheel_filename(filename)
        elif filename.endswith((".tar.gz", ".zip")):
            parse_sdist_filename(filename)
        else:
            return False
    except (InvalidWheelFilename, InvalidSdistFilename):
        return False
    return True


# --- Parsing ----------------------------------------------------------------------


def _upload_time(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _metadata_sha256(value) -> str:
    # PEP 691: a dict of hashes, or true (offered, digest unknown), or false.
    # Offered without a sha256 can't be checked, so it counts as not offered.
    if isinstance(value, dict):
        digest = str(value.get("sha256", "")).lower()
        return digest if _SHA256.fullmatch(digest) else ""
    if isinstance(value, str) and value.startswith("sha256="):
        digest = value[len("sha256=") :].lower()
        return digest if _SHA256.fullmatch(digest) else ""
    return ""


def _link(
    *,
    filename: str,
    url: str,
    sha256: str,
    requires_python,
    yanked,
    metadata,
    size=None,
    upload_time=None,
) -> UpstreamLink | None:
    sha256 = sha256.lower()
    # No sha256, no way to check the bytes we would serve as ours: left out.
    if not _SHA256.fullmatch(sha256) or not is_distribution(filename):
        return None
    if isinstance(yanked, str):
        is_yanked, reason = True, yanked
    else:
        is_yanked, reason = bool(yanked), ""
    return UpstreamLink(
        filename=filename,
        url=url,
        sha256=sha256,
        requires_python=requires_python if isinstance(requires_python, str) else "",
        yanked=is_yanked,
        yanked_reason=reason,
        metadata_sha256=_metadata_sha256(metadata),
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        upload_time=_upload_time(upload_time),
    )


def page_status(status, reason) -> tuple[str, str]:
    """PEP 792's (status, reason) from what a page says. None is active (PEP
    792: a project without a status is active); one that is none of its four
    is not carried either, so a page here never says what local pages can't.
    The reason is kept on one line and as long as a local project's may be."""
    if not isinstance(status, str) or status not in ProjectStatus.values:
        return ProjectStatus.ACTIVE, ""
    if status == ProjectStatus.ACTIVE or not isinstance(reason, str):
        return status, ""
    return status, " ".join(reason.split())[:STATUS_REASON_MAX_LENGTH]


def json_page_status(data: dict) -> tuple[str, str]:
    """PEP 792's ``project-status`` of a PEP 691 project page."""
    found = data.get("project-status")
    if not isinstance(found, dict):
        return ProjectStatus.ACTIVE, ""
    return page_status(found.get("status"), found.get("reason"))


def _json_page(body: bytes, page_url: str) -> dict:
    try:
        data = json.loads(body)
        files = data["files"]
        if not isinstance(files, list):
            raise TypeError("files is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise UpstreamError(
            f"The upstream's page {page_url} is not a PEP 691 page: {exc}"
        ) from None
    return data


def parse_json_page(data: dict, page_url: str) -> tuple[list[UpstreamLink], int | None]:
    """The links and the serial of a PEP 691 project page (read by _json_page)."""
    files = data["files"]
    links = []
    for entry in files:
        if not isinstance(entry, dict):
            continue
        url, filename, hashes = entry.get("url"), entry.get("filename"), entry.get("hashes")
        if (
            not isinstance(url, str)
            or not isinstance(filename, str)
            or not isinstance(hashes, dict)
        ):
            continue
        link = _link(
            filename=filename,
            url=urldefrag(urljoin(page_url, url)).url,
            sha256=str(hashes.get("sha256", "")),
            requires_python=entry.get("requires-python"),
            yanked=entry.get("yanked", False),
            metadata=entry.get("core-metadata", entry.get("dist-info-metadata")),
            size=entry.get("size"),
            upload_time=entry.get("upload-time"),
        )
        if link is not None:
            links.append(link)
    meta = data.get("meta")
    serial = meta.get("_last-serial") if isinstance(meta, dict) else None
    return links, serial if isinstance(serial, int) and not isinstance(serial, bool) else None


class _Anchors(HTMLParser):
    """The <a> elements of a PEP 503 page: their attributes and text; and its
    <meta> elements' contents by name (the first of each name)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self.metas: dict[str, str | None] = {}
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._current, self._text = dict(attrs), []
        elif tag == "meta":
            attributes = dict(attrs)
            name = attributes.get("name")
            if name is not None:
                self.metas.setdefault(name, attributes.get("content"))

    def handle_data(self, data):
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._current is not None:
            self.anchors.append((self._current, "".join(self._text).strip()))
            self._current = None


def _parse_html(body: bytes) -> _Anchors:
    parser = _Anchors()
    parser.feed(body.decode("utf-8", errors="replace"))
    parser.close()
    return parser


def _anchors(body: bytes) -> list[tuple[dict[str, str | None], str]]:
    return _parse_html(body).anchors


def html_page_status(metas: dict[str, str | None]) -> tuple[str, str]:
    """PEP 792's meta tags of a PEP 503 project page."""
    return page_status(metas.get("pypi:project-status"), metas.get("pypi:project-status-reason"))


def parse_html_page(anchors, page_url: str) -> list[UpstreamLink]:
    """The links of a PEP 503 project page's anchors (PEP 592, 658 and 714
    attributes read)."""
    links = []
    for attrs, _text in anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, fragment = urldefrag(urljoin(page_url, href))
        algorithm, _, digest = fragment.partition("=")
        filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        yanked = (attrs["data-yanked"] or True) if "data-yanked" in attrs else False
        link = _link(
            filename=filename,
            url=url,
            sha256=digest if algorithm == "sha256" else "",
            requires_python=attrs.get("data-requires-python"),
            yanked=yanked,
            metadata=attrs.get("data-core-metadata") or attrs.get("data-dist-info-metadata"),
        )
        if link is not None:
            links.append(link)
    return links


def _index_names(body: bytes, content_type: str, url: str) -> list[str]:
    if content_type == V1_JSON:
        try:
            projects = json.loads(body)["projects"]
            names = [entry["name"] for entry in projects]
        except (ValueError, KeyError, TypeError) as exc:
            raise UpstreamError(f"The index page {url} is not a PEP 691 page: {exc}") from None
    else:
        names = [text for _attrs, text in _anchors(body)]
    return sorted({canonicalize_name(name) for name in names if isinstance(name, str) and name})


# --- The circuit breaker -----------------------------------------------------------


class _Breaker:
    """Failures in a row of one upstream, counted in the shared cache."""

    def __init__(self, base_url: str, failures: int, seconds: int):
        digest = hashlib.blake2b(base_url.encode(), digest_size=8).hexdigest()
        self.key = f"upstream-breaker:{digest}"
        self.failures = failures
        self.seconds = seconds

    def check(self, base_url: str) -> None:
        state = cache.get(self.key)
        if state is None:
            return
        count, opened_until = state
        wait = opened_until - time.time()
        if count >= self.failures and wait > 0:
            raise UpstreamError(
                f"The upstream index {base_url} failed {count} times in a row; "
                f"it is not asked again for {int(wait) + 1} s."
            )

    def failed(self) -> None:
        count, _ = cache.get(self.key) or (0, 0.0)
        count += 1
        # The breaker opens at the threshold and each failure after it (the one
        # trial request let through when it closes) opens it again.
        opened_until = time.time() + self.seconds if count >= self.failures else 0.0
        cache.set(self.key, (count, opened_until), max(self.seconds * 4, 60))

    def succeeded(self) -> None:
        cache.delete(self.key)


# --- The client ---------------------------------------------------------------------


class Upstream:
    """One upstream index, at ``base_url`` (its /simple/ URL, ending in "/")."""

    def __init__(
        self,
        base_url: str,
        *,
        private_patterns: Iterable[str] = (),
        timeout: float = 5,
        max_concurrency: int = 8,
        breaker_failures: int = 5,
        breaker_seconds: int = 30,
    ):
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.private_patterns = tuple(private_patterns)
        self.timeout = timeout
        # Pages and files wait for separate slots: long downloads never hold
        # up the pages pip asks for first.
        self._slots = threading.BoundedSemaphore(max(max_concurrency, 1))
        self._file_slots = threading.BoundedSemaphore(max(max_concurrency, 1))
        self._breaker = _Breaker(self.base_url, max(breaker_failures, 1), breaker_seconds)
        self._pool = urllib3.PoolManager(
            num_pools=4,
            maxsize=2 * max(max_concurrency, 1),
            retries=urllib3.Retry(total=MAX_REDIRECTS, connect=0, read=0, status=0, other=0),
            headers=_BASE_HEADERS,
        )

    def __repr__(self) -> str:
        return f"Upstream({self.base_url!r})"

    # -- pages

    def project_page(self, normalized_name: str, *, etag: str = ""):
        """The upstream's page for the name: an UpstreamPage, NOT_MODIFIED (the
        page still has ``etag``), or None when the upstream has no such project
        or the name is private (then nothing is asked at all)."""
        if is_private(normalized_name, self.private_patterns):
            return None
        url = urljoin(self.base_url, f"{normalized_name}/")
        headers = {"Accept": PAGE_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        status, response_headers, body, final_url = self._get(url, headers, PAGE_MAX_BYTES)
        if status == 304:
            return NOT_MODIFIED
        if status in (404, 410):
            return None
        if status != 200:
            raise UpstreamError(f"The upstream index answered {status} for {url}.")
        content_type = response_headers.get("Content-Type", "").split(";")[0].strip().lower()
        serial = _serial(response_headers.get("X-PyPI-Last-Serial"))
        if content_type == V1_JSON:
            data = _json_page(body, final_url)
            links, page_serial = parse_json_page(data, final_url)
            serial = page_serial if page_serial is not None else serial
            status, reason = json_page_status(data)
        else:
            parsed = _parse_html(body)
            links = parse_html_page(parsed.anchors, final_url)
            status, reason = html_page_status(parsed.metas)
        return UpstreamPage(
            normalized_name=normalized_name,
            links=links,
            etag=response_headers.get("ETag", ""),
            serial=serial,
            status=status,
            status_reason=reason,
        )

    def project_names(self) -> list[str]:
        """Every project of the index (its /simple/ page), PEP 503 normalized."""
        status, headers, body, final_url = self._get(
            self.base_url, {"Accept": PAGE_ACCEPT}, INDEX_MAX_BYTES, deadline_factor=12
        )
        if status != 200:
            raise UpstreamError(
                f"The index {self.base_url} answered {status} for its project list."
            )
        content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
        return _index_names(body, content_type, final_url)

    def _get(self, url: str, headers: dict, max_bytes: int, deadline_factor: int = 1):
        """(status, headers, body, final URL) of a GET, read whole within the
        deadline; a 5xx, a timeout or a broken connection is an UpstreamError."""
        deadline = time.monotonic() + self.timeout * deadline_factor
        with self._slot(deadline):
            self._breaker.check(self.base_url)
            try:
                response = self._pool.request(
                    "GET",
                    url,
                    # A request's headers replace the pool's: the User-Agent again.
                    headers={**_BASE_HEADERS, **headers},
                    preload_content=False,
                    timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                    redirect=True,
                )
                try:
                    if response.status >= 500 or response.status in (401, 403, 429):
                        raise UpstreamError(
                            f"The upstream index answered {response.status} for {url}."
                        )
                    body = self._read(response, url, max_bytes, deadline)
                except BaseException:
                    # What is left unread of the body must not be read as the
                    # next answer on this connection.
                    response.close()
                    raise
                finally:
                    response.release_conn()
            except UpstreamError:
                self._breaker.failed()
                raise
            except urllib3.exceptions.HTTPError as exc:
                self._breaker.failed()
                raise UpstreamError(
                    f"The upstream index could not be reached at {url}: {exc}"
                ) from None
            self._breaker.succeeded()
            return response.status, response.headers, body, urljoin(url, response.url or url)

    @staticmethod
    def _read(response, url: str, max_bytes: int, deadline: float) -> bytes:
        chunks, size = [], 0
        for chunk in response.stream(READ_BLOCK):
            size += len(chunk)
            if size > max_bytes:
                raise UpstreamError(f"The upstream's answer for {url} is over {max_bytes} bytes.")
            if time.monotonic() > deadline:
                raise UpstreamError(f"The upstream index took too long to answer {url}.")
            chunks.append(chunk)
        return b"".join(chunks)

    # -- files

    def download(self, url: str, *, sha256: str, max_bytes: int, into: BinaryIO) -> int:
        """Write the file at ``url`` into ``into`` and return its size, once its
        sha256 is the one expected. The caller discards ``into`` on any error:
        DigestMismatch, or UpstreamError (unreachable, too large, a pause
        longer than the timeout between two reads)."""
        with _Slot(self._file_slots, time.monotonic() + self.timeout, self.base_url):
            return self._download(url, sha256, max_bytes, into)

    def _download(self, url: str, sha256: str, max_bytes: int, into: BinaryIO) -> int:
        self._breaker.check(self.base_url)
        digest = hashlib.sha256()
        size = 0
        try:
            response = self._pool.request(
                "GET",
                url,
                preload_content=False,
                timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                redirect=True,
            )
            try:
                if response.status != 200:
                    if response.status >= 500:
                        raise UpstreamError(f"The upstream answered {response.status} for {url}.")
                    # The upstream answered: a missing file is not its failure.
                    self._breaker.succeeded()
                    raise _Gone(f"The upstream no longer has {url} ({response.status}).")
                for chunk in response.stream(READ_BLOCK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise _Gone(f"{url} is over the {max_bytes} bytes a file may have here.")
                    digest.update(chunk)
                    into.write(chunk)
            except BaseException:
                response.close()
                raise
            finally:
                response.release_conn()
        except _Gone as exc:
            raise UpstreamError(str(exc)) from None
        except UpstreamError:
            self._breaker.failed()
            raise
        except urllib3.exceptions.HTTPError as exc:
            self._breaker.failed()
            raise UpstreamError(f"The upstream could not be reached for {url}: {exc}") from None
        self._breaker.succeeded()
        if digest.hexdigest() != sha256.lower():
            raise DigestMismatch(
                f"{url} has sha256 {digest.hexdigest()}, not the {sha256} its index announced;"
                " refused."
            )
        return size

    def _slot(self, deadline: float) -> "_Slot":
        return _Slot(self._slots, deadline, self.base_url)


class _Gone(Exception):
    """Not an availability failure: the breaker does not count it."""


class _Slot:
    def __init__(self, semaphore: threading.BoundedSemaphore, deadline: float, base_url: str):
        self.semaphore, self.deadline, self.base_url = semaphore, deadline, base_url

    def __enter__(self):
        if not self.semaphore.acquire(timeout=max(self.deadline - time.monotonic(), 0)):
            raise UpstreamError(
                f"Too many requests to the upstream index {self.base_url} at once; try again."
            )
        return self

    def __exit__(self, *exc_info):
        self.semaphore.release()


def _serial(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@functools.lru_cache(maxsize=4)
def _configured(base_url: str, patterns: tuple, timeout, concurrency, failures, seconds):
    return Upstream(
        base_url,
        private_patterns=patterns,
        timeout=timeout,
        max_concurrency=concurrency,
        breaker_failures=failures,
        breaker_seconds=seconds,
    )


def configured() -> Upstream | None:
    """The upstream of the settings (one client per process), or None when
    UPSTREAM_INDEX_URL is unset."""
    if not settings.UPSTREAM_INDEX_URL:
        return None
    return _configured(
        settings.UPSTREAM_INDEX_URL,
        tuple(settings.PRIVATE_NAME_PATTERNS),
        settings.UPSTREAM_TIMEOUT,
        settings.UPSTREAM_MAX_CONCURRENCY,
        settings.UPSTREAM_BREAKER_FAILURES,
        settings.UPSTREAM_BREAKER_SECONDS,
    )
