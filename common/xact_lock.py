"""Advisory locks held until the transaction ends, which order writers that
must not interleave (the journal's serials, overlapping namespace grants)."""

from django.db import connection


def hold_until_commit(lock_id: int) -> None:
    """Take the advisory lock ``lock_id`` until the current transaction ends,
    waiting while another transaction holds it. Only PostgreSQL needs one:
    SQLite has a single writer, and a transaction that read before another's
    write fails to write instead of interleaving."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
