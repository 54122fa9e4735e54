"""common.xact_lock: an advisory lock held until the transaction ends, on
PostgreSQL; nothing on SQLite, whose writers queue already."""

import pytest
from django.db import connection, transaction

from common.xact_lock import hold_until_commit

pytestmark = pytest.mark.django_db

LOCK_ID = 7_000_001


def _taken_elsewhere(lock_id: int) -> bool:
    """Whether another session finds ``lock_id`` taken (it tries, never waits)."""
    other = connection.get_new_connection(connection.get_connection_params())
    try:
        other.autocommit = True
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_id])
            got = cursor.fetchone()[0]
            if got:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])
            return not got
    finally:
        other.close()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's advisory locks")
def test_postgresql_holds_the_lock_until_the_transaction_ends():
    assert not _taken_elsewhere(LOCK_ID)
    with transaction.atomic():
        hold_until_commit(LOCK_ID)
        assert _taken_elsewhere(LOCK_ID)
        with transaction.atomic():  # an inner block's end releases nothing
            pass
        assert _taken_elsewhere(LOCK_ID)


def test_sqlite_runs_no_statement(monkeypatch):
    from common import xact_lock

    class SqliteConnection:
        vendor = "sqlite"

        def cursor(self):
            raise AssertionError("SQLite has a single writer: no lock statement")

    monkeypatch.setattr(xact_lock, "connection", SqliteConnection())
    hold_until_commit(LOCK_ID)
