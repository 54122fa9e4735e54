"""Cache keys for rendered pages, and their purge after a change commits.

The simple pages are rendered once per change and then served from the cache;
every service that changes what a page shows calls ``purge_project_on_commit``
in its transaction, so no reader sees a page older than the database: the
pages are deleted from the cache after the commit, and the project's surrogate
keys are queued for the edge caches in the same transaction (packages.purges).

Every configuration's cache is shared by all processes (Redis, or on one
machine the disk cache of pypi_site.settings), so a purge is a delete that
every process sees at once. In front of it each process keeps the pages it
served last in its own memory (``local_pages``) for at most
``PAGE_LOCAL_CACHE_SECONDS``: a hot page then costs no round trip to Redis or
the disk, and a purge made by another process reaches this one within that time.
"""

import threading
from collections import OrderedDict
from time import monotonic

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from .purges import enqueue, project_keys
from .surrogate import purges_configured

SIMPLE_FORMATS = ("html", "json")
# Part of every page key. Moved whenever packages.simple.CachedPage changes
# shape, so a process of the new release never unpickles an old release's
# pages still in a shared cache (a tuple of another length fails to load), and
# whenever the pages' contents change for every project (4: api-version 1.5,
# with project-status and namespace; 5: PEP 740's provenance on every file), so
# the new release never serves a page the old one rendered.
PAGE_FORMAT = 5

# Bounds of each process's copies: a few hundred hot pages of big projects
# (a 1,000-file page is about 250 KB of HTML) fit, and a worker stays small.
LOCAL_MAX_BYTES = 64 * 1024 * 1024
LOCAL_MAX_ENTRIES = 4096
# What an entry costs besides its body (key, tuple, dict slot), counted so
# that many tiny pages are bounded too.
_ENTRY_OVERHEAD = 256


def simple_detail_key(normalized_name: str, fmt: str) -> str:
    return f"simple:{PAGE_FORMAT}:detail:{fmt}:{normalized_name}"


def simple_index_key(fmt: str) -> str:
    return f"simple:{PAGE_FORMAT}:index:{fmt}"


def local_seconds() -> float:
    """How long a process may serve its own copy of a page.

    A change purges the edges right after its commit and once more
    ``EDGE_PURGE_ECHO_SECONDS`` later, so that an edge that fetched the old page
    in between forgets it too. A copy kept here is an old page another process
    may still hand to an edge after the first purge: it must be gone before
    the echo, or the edge would keep it for hours. So with edges to purge the
    copy lives under the echo (none at all when the echo is 0 or 1 s).
    """
    seconds = settings.PAGE_LOCAL_CACHE_SECONDS
    if purges_configured():
        seconds = min(seconds, settings.EDGE_PURGE_ECHO_SECONDS - 1)
    return max(seconds, 0)


class LocalPages:
    """A least-recently-used map of this process's page copies, each kept until
    its deadline; bounded in bytes and entries. Shared by a worker's threads."""

    def __init__(self, max_bytes: int, max_entries: int):
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, object, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str):
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            deadline, value, _size = entry
            if monotonic() >= deadline:
                self._pop(key)
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: str, value, size: int) -> None:
        seconds = local_seconds()
        size += _ENTRY_OVERHEAD
        if seconds <= 0 or size > self.max_bytes:
            return
        with self._lock:
            self._pop(key)
            self._entries[key] = (monotonic() + seconds, value, size)
            self._bytes += size
            while self._bytes > self.max_bytes or len(self._entries) > self.max_entries:
                self._pop(next(iter(self._entries)))

    def discard(self, keys) -> None:
        with self._lock:
            for key in keys:
                self._pop(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _pop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[2]

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        return self._bytes


local_pages = LocalPages(LOCAL_MAX_BYTES, LOCAL_MAX_ENTRIES)


def purge_project(normalized_name: str) -> None:
    keys = [simple_detail_key(normalized_name, fmt) for fmt in SIMPLE_FORMATS]
    keys += [simple_index_key(fmt) for fmt in SIMPLE_FORMATS]
    cache.delete_many(keys)
    # This process's copies at once; the other processes' within local_seconds().
    local_pages.discard(keys)


def purge_project_on_commit(normalized_name: str, *, files: bool = False) -> None:
    """``files``: the change also removes, hides or shows again the project's
    files (a delete, a quarantine), which the edges must then forget too."""
    transaction.on_commit(lambda: purge_project(normalized_name))
    enqueue(project_keys(normalized_name, files=files))
