"""Download counts: counted in the cache on the download path, moved to the
database by the server processes themselves, read back as a project's last
day, week and month.

A download must never wait on a database write, so a served file only bumps a
counter in the cache; ``DownloadCount`` rows are written later, in batches,
off the request path. Days are UTC. A count is taken when the file is answered
(a 200 to a GET), not when the client has read it all: that is what a CDN's
access log says too. HEAD, 304 and ``.metadata`` answers are not downloads.
The app never answers a Range request with 206 (Django serves the whole file,
and counts it); in a CDN log a 206 is not counted, because the common partial
reads are installers peeking at a wheel's metadata, not installs.

One path for every cache that all processes share and that increments
atomically (Redis, or the machine's disk cache of the embedded default), using
nothing but Django's cache API:

* **Counting.** One ``incr`` of the key ``(day, file)``. The first download of
  a file on a day finds no key: it enters the file in that day's list (a
  numbered list: ``incr`` of its length, then the item), and only then creates
  the counter, so no counter exists that a flush cannot find. Two processes
  may both enter the same file; the flush reads the list as a set.

* **Moving to the database.** Every server process runs a thread that wakes
  every ``DOWNLOAD_COUNTS_FLUSH_SECONDS / 2``; the first to wake in each
  interval of ``DOWNLOAD_COUNTS_FLUSH_SECONDS`` claims it (``cache.add`` of the
  interval's key) and flushes, so one flush runs per interval for all the
  processes of all the machines, without cron. A flush takes a lock in the
  cache, reads the lists of yesterday and today and their counters, and for
  each batch first takes the counts out of the cache (``decr`` by what it read:
  downloads counted meanwhile stay, as ``decr`` is atomic), then adds them to
  the database in one transaction; a failed write puts them back. A process
  killed between the ``decr`` and the commit loses that batch: losing one batch
  in that instant was preferred over ever counting one twice. A flush reads
  every counter of yesterday and today (two ``get_many`` per batch of files).

* **Reading.** Pages and the JSON API read the database only, never the
  counters still in the cache: a reader adding both could count a batch twice
  (read after the commit, but before the ``decr``) or miss it (read between
  the two), while the database alone moves once per batch, at its commit. The
  sums are kept in the cache for ``SUMMARY_CACHE_SECONDS`` under a key naming
  that span of time, so no backend's clock or expiry can keep them longer.
  Hence a download shows after at most one and a half flush intervals plus
  ``SUMMARY_CACHE_SECONDS``: 45 s with the defaults.

The upsert adds to the existing row for (file, day), ``INSERT ... ON CONFLICT
(file_id, day) DO UPDATE SET count = count + excluded.count``, understood alike
by SQLite and PostgreSQL (Django's ``bulk_create(update_conflicts=True)``
would replace the count, not add to it). Counts of files deleted since are
dropped: the batch is written only for files that still exist, and should a
file be deleted between that read and the commit, the batch is rolled back
and written again without it.

``import_download_log`` adds the downloads a CDN served, read from its logs,
through the same upsert.
"""

import atexit
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from itertools import islice

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from .models import DownloadCount, File

logger = logging.getLogger(__name__)

# (day, file id) -> downloads
Counts = Mapping[tuple[date, int], int]

BATCH_SIZE = 500
SUMMARY_CACHE_SECONDS = 15
# Counters and day lists outlive their day, so that a flush after midnight
# still finds yesterday's.
COUNTER_SECONDS = 3 * 24 * 60 * 60
# Longer than any flush; a flush that outlives it could run beside another.
LOCK_SECONDS = 300
LOCK_KEY = "downloads:flush-lock"


def batched(items: Iterable, size: int):
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def today() -> date:
    return timezone.now().date()


def time_slot(seconds: int) -> int:
    """The number of the span of ``seconds`` seconds we are in."""
    return int(timezone.now().timestamp()) // seconds


def _counter_key(day: date, file_id: int) -> str:
    return f"downloads:count:{day.isoformat()}:{file_id}"


def _list_length_key(day: date) -> str:
    return f"downloads:files:{day.isoformat()}"


def _list_item_key(day: date, index: int) -> str:
    return f"downloads:files:{day.isoformat()}:{index}"


def _add(key: str, amount: int) -> None:
    """Add ``amount`` to the integer at ``key``, creating it; atomic."""
    if not cache.add(key, amount, COUNTER_SECONDS):
        cache.incr(key, amount)


# --- Counting ------------------------------------------------------------------------


def count_download(file_id: int) -> None:
    """Count one download of the file ``file_id`` now. No database access."""
    if not settings.DOWNLOAD_COUNTS:
        return
    try:
        _count(today(), file_id)
    except Exception:
        # A download must not fail because its count can't be kept.
        logger.warning("Could not count a download of file %s", file_id, exc_info=True)
    flusher.start()


def _count(day: date, file_id: int) -> None:
    key = _counter_key(day, file_id)
    try:
        cache.incr(key)
        return
    except ValueError:
        pass
    # The first download of this file today (or its counter was evicted).
    length_key = _list_length_key(day)
    index = 1 if cache.add(length_key, 1, COUNTER_SECONDS) else cache.incr(length_key)
    cache.set(_list_item_key(day, index), file_id, COUNTER_SECONDS)
    _add(key, 1)


# --- Writing to the database -----------------------------------------------------


def write_batch(
    counts: Counts,
    *,
    batch_size: int = BATCH_SIZE,
    then: Callable[[int], object] | None = None,
) -> int:
    """Add ``counts`` in one transaction, ``batch_size`` rows a statement, and
    call ``then`` with the downloads written before it commits; returns them."""
    try:
        return _write_batch(counts, batch_size, then)
    except IntegrityError:
        # A file of the batch was deleted after it was read below (its row is
        # checked at commit): read again, which leaves it out.
        logger.info("A file was deleted while its downloads were written; retrying")
        return _write_batch(counts, batch_size, then)


def _write_batch(counts: Counts, batch_size: int, then: Callable[[int], object] | None) -> int:
    file_ids = sorted({file_id for _day, file_id in counts})
    with transaction.atomic():
        projects = {}
        for chunk in batched(file_ids, batch_size):
            projects.update(
                File.objects.filter(id__in=chunk).values_list("id", "release__project_id")
            )
        rows = [
            (file_id, projects[file_id], day, count)
            # A fixed order, so that two writers lock rows in the same order on PostgreSQL.
            for (day, file_id), count in sorted(counts.items(), key=lambda item: item[0][::-1])
            if file_id in projects and count > 0
        ]
        for chunk in batched(rows, batch_size):
            _upsert(chunk)
        written = sum(row[3] for row in rows)
        if then is not None:
            then(written)
    return written


def _upsert(rows: list[tuple[int, int, date, int]]) -> None:
    quote = connection.ops.quote_name
    table = quote(DownloadCount._meta.db_table)
    count = quote("count")
    values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    sql = (
        f"INSERT INTO {table} ({quote('file_id')}, {quote('project_id')}, {quote('day')}, "  # noqa: S608
        f"{count}) VALUES {values} ON CONFLICT ({quote('file_id')}, {quote('day')}) "
        f"DO UPDATE SET {count} = {table}.{count} + excluded.{count}"
    )
    params = []
    for file_id, project_id, day, number in rows:
        params += [file_id, project_id, connection.ops.adapt_datefield_value(day), number]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- Moving the cache's counts to the database ---------------------------------------


def _flushed_days() -> list[date]:
    day = today()
    return [day - timedelta(days=1), day]


def _listed_files(day: date, batch_size: int) -> list[int]:
    length = cache.get(_list_length_key(day)) or 0
    files: set[int] = set()
    for batch in batched(range(1, length + 1), batch_size):
        files.update(cache.get_many([_list_item_key(day, index) for index in batch]).values())
    return sorted(files)


def _read_counters(day: date, file_ids: list[int]) -> dict[tuple[date, int], int]:
    keys = {_counter_key(day, file_id): file_id for file_id in file_ids}
    return {(day, keys[key]): value for key, value in cache.get_many(keys).items() if value > 0}


def _move(counts: dict[tuple[date, int], int]) -> int:
    # Taken out of the cache before the commit, by a decrement of what was read
    # (atomic against the downloads' increments, which stay). The race left: a
    # process killed between a decrement and the commit loses the batch, where
    # the other order would count it twice. Readers see only the commit.
    taken: dict[tuple[date, int], int] = {}
    try:
        for (day, file_id), number in counts.items():
            cache.decr(_counter_key(day, file_id), number)
            taken[day, file_id] = number
        return write_batch(taken)
    except Exception:
        # Nothing of the batch was committed: back to the cache for the next flush.
        for (day, file_id), number in taken.items():
            _add(_counter_key(day, file_id), number)
        raise


def flush(*, batch_size: int = BATCH_SIZE) -> int | None:
    """Move the counts from the cache to the database; returns the downloads
    written, or None when another flush holds the lock."""
    token = uuid.uuid4().hex
    if not cache.add(LOCK_KEY, token, LOCK_SECONDS):
        return None
    try:
        written = 0
        for day in _flushed_days():
            for batch in batched(_listed_files(day, batch_size), batch_size):
                counts = _read_counters(day, batch)
                if counts:
                    written += _move(counts)
        return written
    finally:
        # Not someone else's lock, taken after ours expired.
        if cache.get(LOCK_KEY) == token:
            cache.delete(LOCK_KEY)


class Flusher:
    """The thread of a server process that flushes, at most once per interval
    for all the processes sharing the cache. Started by the first download
    counted or summary read in a process that serves (``pypi_site.wsgi``)."""

    def __init__(self) -> None:
        self.serving = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def serve(self) -> None:
        self.serving = True
        atexit.register(self.stop)

    def start(self) -> None:
        if not self.serving or settings.DOWNLOAD_COUNTS_FLUSH_SECONDS == 0:
            return
        with self._lock:
            # A forked worker finds its parent's thread dead: it starts its own.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="download-counts", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(settings.DOWNLOAD_COUNTS_FLUSH_SECONDS / 2):
            self.tick()
            # The thread keeps no connection open between flushes.
            connection.close()

    def tick(self) -> int | None:
        """Flush unless this interval's flush was claimed by a process already;
        returns the downloads written, None when no flush ran."""
        interval = settings.DOWNLOAD_COUNTS_FLUSH_SECONDS
        if not cache.add(f"downloads:flush-due:{time_slot(interval)}", 1, 2 * interval):
            return None
        return self._flush()

    def stop(self) -> None:
        """At a graceful exit: what was counted is written now, which matters
        when the cache is the process's own."""
        if self._thread is not None:
            self._stopping.set()
            self._thread.join()
            self._thread = None
            self._flush()

    @staticmethod
    def _flush() -> int | None:
        try:
            return flush()
        except Exception:
            # Never raised: the thread must outlive any failure (the database
            # may be restarting); the counts wait in the cache.
            logger.exception("Could not move the download counts to the database")
            return None


flusher = Flusher()


# --- Reading ---------------------------------------------------------------------------


def summary_cache_key(project_id: int) -> str:
    return f"downloads:summary:{project_id}:{time_slot(SUMMARY_CACHE_SECONDS)}"


def download_summary(project) -> dict[str, int]:
    """Downloads of ``project``'s files: today, the last 7 and the last 30 days
    (UTC, today included), as recorded in the database."""
    flusher.start()
    day = today()
    key = summary_cache_key(project.pk)
    summary = cache.get(key)
    if summary is None:
        sums = DownloadCount.objects.filter(
            project=project, day__gt=day - timedelta(days=30), day__lte=day
        ).aggregate(
            last_day=Sum("count", filter=Q(day=day)),
            last_week=Sum("count", filter=Q(day__gt=day - timedelta(days=7))),
            last_month=Sum("count"),
        )
        summary = {name: value or 0 for name, value in sums.items()}
        cache.set(key, summary, SUMMARY_CACHE_SECONDS)
    return summary
