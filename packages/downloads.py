"""Download counts: counted in the cache on the download path, written to the
database in batches, read back as a project's last day, week and month.

A download must never wait on a database write, so a served file only bumps a
counter keyed by (day, file); ``DownloadCount`` rows are written later, in
batches, off the request path. Days are UTC. A count is taken when the file is
answered (a 200 to a GET), not when the client has read it all: that is what
a CDN's access log says too. HEAD, 304 and ``.metadata`` answers are not
downloads. The app never answers a Range request with 206 (Django serves the
whole file, and counts it); in a CDN log a 206 is not counted, because the
common partial reads are installers peeking at a wheel's metadata, not installs.

Two stores, chosen by the deployment:

* **Redis** (``REDIS_URL`` set: many machines). Every worker does one atomic
  ``HINCRBY`` on one hash, field ``<YYYY-MM-DD>:<file id>`` (one command, so one
  round trip: nothing to pipeline). ``manage.py flush_download_counts`` (cron,
  every minute) takes a Redis lock so that one flush runs at a time, ``RENAME``s
  the hash to a "flushing" key (atomic: an increment lands either before, and
  is flushed now, or after, in a new hash flushed next time), reads it, and for
  each batch commits the upsert, then ``HDEL``s the batch's fields. A flush
  that dies before a commit leaves its fields in the flushing key, and the next
  flush applies them before taking new ones: nothing is lost. The one window
  left is between a batch's commit and its ``HDEL`` (one Redis round trip):
  dying there counts that batch twice. Counting twice in that rare case was
  chosen over ever losing counts; closing the window would need the batch's
  id recorded in the same database transaction (a table of applied batches).

* **Local memory** (no Redis: one machine, several worker processes). Each
  process has its own cache, which no other process (and so no management
  command) can read, so every process keeps its counters in memory and writes
  them itself, from a background thread: every ``DOWNLOAD_COUNTS_FLUSH_SECONDS``,
  sooner when ``LOCAL_FLUSH_THRESHOLD`` downloads are pending, and when the
  process exits normally (gunicorn's graceful stop and restart). A failed write
  puts the counts back for the next try. A process killed outright (SIGKILL,
  out of memory) loses what it had not written yet: at most one interval.
  ``flush_download_counts`` has nothing to move in this mode.

Both write with one upsert that adds to the existing row for (file, day),
``INSERT ... ON CONFLICT (file_id, day) DO UPDATE SET count = count +
excluded.count``, understood alike by SQLite and PostgreSQL (Django's
``bulk_create(update_conflicts=True)`` would replace the count, not add to it).
Counts of files deleted since are dropped: the batch is written only for files
that still exist, and should a file be deleted between that read and the
commit, the batch is rolled back and written again without it.

``import_download_log`` adds the downloads a CDN served, read from its logs,
through the same upsert.
"""

import atexit
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
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
SUMMARY_CACHE_SECONDS = 300
# Pending downloads that wake a local-memory process's writer before its interval.
LOCAL_FLUSH_THRESHOLD = 1000
REDIS_LOCK_SECONDS = 300


def batched(items: Iterable, size: int):
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def today() -> date:
    return timezone.now().date()


def count_download(file_id: int) -> None:
    """Count one download of the file ``file_id`` now. No database access."""
    if not settings.DOWNLOAD_COUNTS:
        return
    if settings.REDIS_URL:
        _redis_count(file_id, today())
    else:
        local_counter.add((today(), file_id))


# --- Writing to the database -----------------------------------------------------


def add_counts(counts: Counts, *, batch_size: int = BATCH_SIZE) -> int:
    """Add ``counts`` to the database in batches; returns the downloads written
    (those of deleted files are dropped)."""
    written = 0
    # A fixed order, so that two writers lock rows in the same order on PostgreSQL.
    ordered = sorted(counts.items(), key=lambda item: (item[0][1], item[0][0]))
    for batch in batched(ordered, batch_size):
        written += write_batch(dict(batch))
    return written


def write_batch(counts: Counts) -> int:
    """Add one batch of counts in one transaction; returns the downloads written."""
    try:
        return _write_batch(counts)
    except IntegrityError:
        # A file of the batch was deleted after it was read below (its row is
        # checked at commit): read again, which leaves it out.
        logger.info("A file was deleted while its downloads were written; retrying")
        return _write_batch(counts)


def _write_batch(counts: Counts) -> int:
    file_ids = {file_id for _day, file_id in counts}
    with transaction.atomic():
        projects = dict(
            File.objects.filter(id__in=file_ids).values_list("id", "release__project_id")
        )
        rows = [
            (file_id, projects[file_id], day, count)
            for (day, file_id), count in counts.items()
            if file_id in projects and count > 0
        ]
        if rows:
            _upsert(rows)
    return sum(row[3] for row in rows)


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


# --- Redis ---------------------------------------------------------------------------


def _redis():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def _redis_key(name: str) -> str:
    # Through the cache's own prefix, so that sites sharing a Redis keep apart.
    return cache.make_key(f"downloads:{name}")


def _redis_count(file_id: int, day: date) -> None:
    from redis.exceptions import RedisError

    try:
        _redis().hincrby(_redis_key("live"), f"{day.isoformat()}:{file_id}", 1)
    except RedisError:
        # A download must not fail because its count can't be kept.
        logger.warning("Could not count a download of file %s", file_id, exc_info=True)


def _parse_field(field: bytes) -> tuple[date, int]:
    day, _, file_id = field.decode().partition(":")
    return date.fromisoformat(day), int(file_id)


def _drain(conn, key: str, lock, batch_size: int) -> int:
    written = 0
    for batch in batched(sorted(conn.hgetall(key).items()), batch_size):
        written += write_batch({_parse_field(field): int(value) for field, value in batch})
        # Only once committed: dying before this line counts the batch twice,
        # dying before the commit leaves it here for the next flush.
        conn.hdel(key, *(field for field, _value in batch))
        lock.reacquire()
    return written


def flush_redis(*, batch_size: int = BATCH_SIZE) -> int | None:
    """Move the Redis counters to the database; returns the downloads written,
    or None when another flush holds the lock."""
    conn = _redis()
    live, flushing = _redis_key("live"), _redis_key("flushing")
    lock = conn.lock(_redis_key("flush-lock"), timeout=REDIS_LOCK_SECONDS)
    if not lock.acquire(blocking=False):
        return None
    try:
        # First the leftovers of a flush that died (under the lock nobody else
        # touches the flushing key), then what has been counted since.
        written = _drain(conn, flushing, lock, batch_size)
        if conn.exists(live):
            conn.rename(live, flushing)
            written += _drain(conn, flushing, lock, batch_size)
    finally:
        lock.release()
    return written


# --- Local memory --------------------------------------------------------------------


class LocalCounter:
    """One process's pending counts and the thread that writes them."""

    def __init__(self, *, autostart: bool = True):
        self.autostart = autostart
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter = Counter()
        self._pending = 0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, key: tuple[date, int]) -> None:
        with self._lock:
            self._counts[key] += 1
            self._pending += 1
            if self._thread is None and self.autostart:
                self._start()
            if self._pending >= LOCAL_FLUSH_THRESHOLD:
                self._wake.set()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="download-counts", daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            self._wake.wait(settings.DOWNLOAD_COUNTS_FLUSH_SECONDS)
            self._wake.clear()
            self.flush()
            # The thread keeps no connection open between writes.
            connection.close()

    def take(self) -> Counter:
        with self._lock:
            counts, self._counts, self._pending = self._counts, Counter(), 0
        return counts

    def flush(self) -> int:
        """Write this process's pending counts; returns the downloads written."""
        counts = self.take()
        if not counts:
            return 0
        try:
            return add_counts(counts)
        except Exception:
            # Kept for the next try rather than lost (the database may be
            # restarting), and never raised: the writer thread must outlive
            # any failure, or the process would stop recording downloads.
            logger.exception("Could not write %d download counts; keeping them", len(counts))
            with self._lock:
                self._counts.update(counts)
                self._pending += counts.total()
            return 0

    def pending(self) -> Counter:
        with self._lock:
            return Counter(self._counts)

    def after_fork(self) -> None:
        # A forked worker inherits the parent's counts (the parent writes
        # them) but not its thread.
        self._reset()


local_counter = LocalCounter()
os.register_at_fork(after_in_child=lambda: local_counter.after_fork())


def flush(*, batch_size: int = BATCH_SIZE) -> int | None:
    """Write the counters this process can reach: Redis's, or its own."""
    if settings.REDIS_URL:
        return flush_redis(batch_size=batch_size)
    return local_counter.flush()


# --- Reading ---------------------------------------------------------------------------


def summary_cache_key(project_id: int, day: date) -> str:
    return f"downloads:summary:{project_id}:{day.isoformat()}"


def download_summary(project) -> dict[str, int]:
    """Downloads of ``project``'s files: today, the last 7 and the last 30 days
    (UTC, today included), as recorded in the database."""
    day = today()
    key = summary_cache_key(project.pk, day)
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
