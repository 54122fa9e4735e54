import logging
import uuid

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from packages.storage import StorageUnavailable, check_bucket, files_storage

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "ok", 10)
    if cache.get(key) != "ok":
        raise RuntimeError("value written to the cache could not be read back")
    cache.delete(key)


def _check_storage() -> None:
    # A missing bucket first, by name: the write below would only say ClientError.
    check_bucket()
    storage = files_storage()
    name = storage.save(f"_health/{uuid.uuid4().hex}", ContentFile(b"ok"))
    try:
        with storage.open(name) as handle:
            if handle.read() != b"ok":
                raise RuntimeError("file written to storage could not be read back")
    finally:
        storage.delete(name)


CHECKS = {"database": _check_database, "cache": _check_cache, "storage": _check_storage}


@require_safe
@never_cache
def health(request):
    """200 when every dependency answers, 503 naming the ones that don't."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
        except StorageUnavailable as exc:  # what to do about it, for the operator
            logger.warning("health check %s failed: %s", name, exc)
            results[name] = f"error: {exc}"
        except Exception as exc:  # any failure of a dependency is a failed check
            logger.warning("health check %s failed: %s", name, exc)
            results[name] = f"error: {exc.__class__.__name__}"
        else:
            results[name] = "ok"
    healthy = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": results},
        status=200 if healthy else 503,
    )
