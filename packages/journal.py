"""The journal: one entry, with a new global serial, for every change a mirror
must see. Always called inside the transaction that makes the change."""

from collections.abc import Sequence
from typing import NamedTuple

from django.db import transaction

from accounts.events import Actor
from common.xact_lock import hold_until_commit

from .cache import purge_project_on_commit
from .models import JournalEntry, Project

# Arbitrary constant naming the advisory lock that orders journal writes.
_JOURNAL_LOCK_ID = 7_503_658


def _serialize_journal_writers() -> None:
    # A PostgreSQL sequence hands out ids at INSERT, but transactions commit in
    # any order: serial 41 could become visible after 42, and a mirror that has
    # already read 42 would never see 41. Holding this lock until commit makes
    # serial order and commit order the same. SQLite already has a single writer.
    hold_until_commit(_JOURNAL_LOCK_ID)


def journal_append(
    *,
    project: Project,
    action: str,
    version: str = "",
    filename: str = "",
    actor: Actor,
) -> JournalEntry:
    """Append an entry, by ``actor`` (the account and address it records), and
    move ``project.last_serial`` to its serial.

    Call it as the last write of the change's transaction: the lock it takes is
    held until commit.
    """
    (entry,) = journal_append_many(
        project=project,
        entries=[JournalLine(action, version, filename)],
        actor=actor,
    )
    return entry


class JournalLine(NamedTuple):
    action: str
    version: str = ""
    filename: str = ""


def journal_append_many(
    *,
    project: Project,
    entries: Sequence[JournalLine],
    actor: Actor,
) -> list[JournalEntry]:
    """``journal_append`` for several entries of one change (an upload that
    creates a project, its release and its file), in their order: one INSERT
    and one UPDATE of ``last_serial`` (to the last one's serial) for them all."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("journal_append must run inside the change's transaction")
    _serialize_journal_writers()
    # Rows of one INSERT get their ids in the order given (both databases
    # return them), so the serials keep the entries' order.
    written = JournalEntry.objects.bulk_create(
        JournalEntry(
            name=project.name,
            version=line.version,
            filename=line.filename,
            action=line.action,
            submitted_by=actor.user,
            ip_address=actor.ip_address,
        )
        for line in entries
    )
    last_serial = max(entry.id for entry in written)
    Project.objects.filter(pk=project.pk).update(last_serial=last_serial)
    project.last_serial = last_serial
    return written


def journal_and_purge(*, project: Project, entries: Sequence[JournalLine], actor: Actor) -> None:
    """The last steps of a change to what ``project``'s pages show: its journal
    entries (the serial moves: mirrors and the serial-keyed JSON bodies see the
    change) and, once the transaction commits, its pages purged here and at
    the edges."""
    journal_append_many(project=project, entries=entries, actor=actor)
    purge_project_on_commit(project.normalized_name)
