"""Cache keys for rendered pages, and their purge after a change commits.

The simple pages are rendered once per change and then served from the cache;
every service that changes what a page shows calls ``purge_project_on_commit``
in its transaction, so no reader sees a page older than the database: the
pages are deleted from the cache after the commit, and the project's surrogate
keys are queued for the edge caches in the same transaction (packages.purges).

Every configuration's cache is shared by all processes (Redis, or on one
machine the disk cache of pypi_site.settings), so a purge is a delete that
every process sees at once.
"""

from django.core.cache import cache
from django.db import transaction

from .purges import enqueue, project_keys

SIMPLE_FORMATS = ("html", "json")
# Part of every page key. Moved whenever packages.simple.CachedPage changes
# shape, so a process of the new release never unpickles an old release's
# pages still in a shared cache (a tuple of another length fails to load).
PAGE_FORMAT = 2


def simple_detail_key(normalized_name: str, fmt: str) -> str:
    return f"simple:{PAGE_FORMAT}:detail:{fmt}:{normalized_name}"


def simple_index_key(fmt: str) -> str:
    return f"simple:{PAGE_FORMAT}:index:{fmt}"


def purge_project(normalized_name: str) -> None:
    keys = [simple_detail_key(normalized_name, fmt) for fmt in SIMPLE_FORMATS]
    keys += [simple_index_key(fmt) for fmt in SIMPLE_FORMATS]
    cache.delete_many(keys)


def purge_project_on_commit(normalized_name: str, *, files: bool = False) -> None:
    """``files``: the change also removes, hides or shows again the project's
    files (a delete, a quarantine), which the edges must then forget too."""
    transaction.on_commit(lambda: purge_project(normalized_name))
    enqueue(project_keys(normalized_name, files=files))
