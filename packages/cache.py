"""Cache keys for rendered pages, and their purge after a change commits.

The simple pages are rendered once per change and then served from the cache;
every service that changes what a page shows calls ``purge_project`` through
``transaction.on_commit`` so no reader sees a page older than the database.

A shared cache (Redis) makes a purge visible to every process at once. The
embedded default keeps a cache per process, which another process's purge can't
reach; there the purge also moves a generation counter that every process of
the machine reads (a few bytes of a file, no query), and a page cached under an
older generation is not served.
"""

import fcntl
import os
from functools import cache as memoize
from pathlib import Path

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction

SIMPLE_FORMATS = ("html", "json")
_COUNTER_BYTES = 8


def simple_detail_key(normalized_name: str, fmt: str) -> str:
    return f"simple:detail:{fmt}:{normalized_name}"


def simple_index_key(fmt: str) -> str:
    return f"simple:index:{fmt}"


def cache_is_per_process() -> bool:
    return isinstance(caches["default"], LocMemCache)


class Generation:
    """A counter in a file, shared by the processes of one machine."""

    def __init__(self, path: Path):
        self.path = path
        self._fd = None
        self._pid = None

    def _descriptor(self) -> int:
        # One descriptor per process: flock() locks belong to the open file,
        # which a forked worker would otherwise share with its parent.
        if self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd

    def read(self) -> int:
        return int.from_bytes(os.pread(self._descriptor(), _COUNTER_BYTES, 0), "little")

    def bump(self) -> None:
        fd = self._descriptor()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            value = self.read() + 1
            os.pwrite(fd, value.to_bytes(_COUNTER_BYTES, "little"), 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


@memoize
def _generation_at(path: str) -> Generation:
    return Generation(Path(path))


def generation() -> Generation:
    return _generation_at(str(settings.CACHE_GENERATION_FILE))


def current_generation() -> int:
    """The generation a page rendered now belongs to (0 with a shared cache)."""
    return generation().read() if cache_is_per_process() else 0


def purge_project(normalized_name: str) -> None:
    keys = [simple_detail_key(normalized_name, fmt) for fmt in SIMPLE_FORMATS]
    keys += [simple_index_key(fmt) for fmt in SIMPLE_FORMATS]
    cache.delete_many(keys)
    if cache_is_per_process():
        generation().bump()


def purge_project_on_commit(normalized_name: str) -> None:
    transaction.on_commit(lambda: purge_project(normalized_name))
