"""One `migrate` at a time per database, however many machines start at once.

Two machines applying the first migrations of a fresh PostgreSQL database
together both create the same tables; the second fails with IntegrityError on
pg_type_typname_nsp_index. A session-level advisory lock, on a connection of
its own, makes the second wait; once it holds the lock it reads the applied
migrations afresh and finds nothing left to do. The lock ends with that
connection, so a machine that dies mid-migration never leaves it held.
"""

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Advisory locks are per database; this key names "the migrations" in it. It
# keeps the module's old name: machines of the previous release, migrating at the
# same time, must take the same lock.
MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"pypi_site.migrate").digest()[:8], "big", signed=True
)


@contextmanager
def migration_lock(connection, on_wait: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Hold the migration lock of ``connection``'s database; ``on_wait`` is
    called once if another process holds it, before waiting for it."""
    if connection.vendor != "postgresql":
        # SQLite is one machine's file, and its writers queue already.
        yield
        return
    session = connection.get_new_connection(connection.get_connection_params())
    try:
        session.autocommit = True
        with session.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
            if not cursor.fetchone()[0]:
                on_wait()
                cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        yield
    finally:
        session.close()  # ends the session, and with it the lock
