"""The embedded default's cache keeps each thread's SQLite connections from one
request to the next."""

from django.core.cache import caches, close_caches


def _connections(backend) -> list:
    return [shard._local.con for shard in backend._cache._shards]


def test_connections_outlive_the_end_of_a_request(settings, tmp_path):
    settings.CACHES = {
        "default": {"BACKEND": "pypi_site.disk_cache.SharedDiskCache", "LOCATION": str(tmp_path)}
    }
    backend = caches["default"]
    for key in range(64):  # a key in every shard opens its connection
        backend.set(f"key-{key}", key)
    before = _connections(backend)

    close_caches()  # what Django runs at the end of every request (request_finished)

    assert None not in before
    assert _connections(backend) == before
    assert backend.get("key-5") == 5
