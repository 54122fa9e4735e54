"""The journal: one entry, with a new global serial, for every change a mirror
must see. Always called inside the transaction that makes the change."""

from django.db import connection, transaction

from .models import JournalEntry, Project

# Arbitrary constant naming the advisory lock that orders journal writes.
_JOURNAL_LOCK_ID = 7_503_658


def _serialize_journal_writers() -> None:
    # A PostgreSQL sequence hands out ids at INSERT, but transactions commit in
    # any order: serial 41 could become visible after 42, and a mirror that has
    # already read 42 would never see 41. Holding this lock until commit makes
    # serial order and commit order the same. SQLite already has a single writer.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_JOURNAL_LOCK_ID])


def journal_append(
    *,
    project: Project,
    action: str,
    version: str = "",
    filename: str = "",
    actor=None,
    ip_address: str | None = None,
) -> JournalEntry:
    """Append an entry and move ``project.last_serial`` to its serial.

    Call it as the last write of the change's transaction: the lock it takes is
    held until commit.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("journal_append must run inside the change's transaction")
    _serialize_journal_writers()
    entry = JournalEntry.objects.create(
        name=project.name,
        version=version,
        filename=filename,
        action=action,
        submitted_by=actor,
        ip_address=ip_address,
    )
    Project.objects.filter(pk=project.pk).update(last_serial=entry.id)
    project.last_serial = entry.id
    return entry
