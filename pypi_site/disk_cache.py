"""The embedded default's cache: diskcache's Django backend, kept open.

Django closes every cache at the end of each request (``close_caches`` on
``request_finished``); for diskcache that closes each thread's SQLite
connections, and the next request opens them again and re-reads their
settings, which costs more than the cache reads it then makes. The
connections are per thread and reopened after a fork by diskcache itself, so
keeping them is safe.
"""

from diskcache import DjangoCache


class SharedDiskCache(DjangoCache):
    def close(self, **kwargs):
        """Keep the connections for the thread's next request."""
