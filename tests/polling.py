"""Waiting in a test for what a background thread of the app does."""

import time

from django.db import OperationalError


def wait_until(condition, seconds: float = 30, interval: float = 0.02) -> bool:
    """True once ``condition()`` is true, False after ``seconds``.

    The test database on SQLite is one in-memory database shared between the
    test's connection and the thread's; a read while the thread writes fails at
    once with "database table is locked" (no busy wait in shared-cache mode),
    which only means "not yet"."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except OperationalError as exc:
            if "locked" not in str(exc):
                raise
        time.sleep(interval)
    return False
