"""Purging the edge caches (Varnish, Fastly) by surrogate key, reliably.

Pages are cached at the edge under the keys of their ``Surrogate-Key`` header
(``packages.views``). A change that alters what is served names the keys to
forget through ``enqueue``, inside the change's own transaction: the keys are
an ``EdgePurge`` row (an outbox), so a committed change always has its purge
waiting, and a rolled-back change has none. After the commit:

* the process that made the change tries the purge at once, so the edge
  forgets within a fraction of a second: a serving process hands the row to a
  thread of its own (a request never waits for an edge), any other process (a
  management command) purges before it goes on, within ``EDGE_PURGE_TIMEOUT``;
* ``manage.py worker`` takes every row still there once it is due (a first
  attempt that failed, or never ran because the process died), retrying with a
  growing delay until every edge has taken it. Due rows are coalesced: one
  request per edge carries the keys of many changes. A second row, due
  ``EDGE_PURGE_ECHO_SECONDS`` after the change, repeats the purge from the
  worker: an answer rendered from what was read just before the commit may
  reach an edge after the first purge.

Taking rows is a claim: one UPDATE moves their ``due_at`` past the claim's
end and marks them with the claim's token, so two workers never purge the same
row at once (on PostgreSQL the rows are first locked with SKIP LOCKED, so
workers on several machines pass each other instead of waiting; SQLite has one
writer, whose UPDATE re-reads the condition). A worker killed mid-purge holds
its rows only until the claim ends. Purging twice is harmless: a purge is
idempotent.

A target is any object with ``purge(keys)`` raising ``PurgeError`` on failure
and a ``max_keys`` per request; ``targets()`` builds them from the settings.
"""

import atexit
import collections
import http.client
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from .models import EdgePurge

logger = logging.getLogger(__name__)

# Rows one claim takes: their keys go out together.
BATCH_SIZE = 100
# How long a claim holds its rows: longer than the requests it makes may take.
CLAIM_SECONDS = 120
# The worker leaves a new row this long to the process that made the change.
FIRST_ATTEMPT_SECONDS = 10
# Retries wait 5 s, 10 s, 20 s... up to 10 minutes.
RETRY_BASE_SECONDS = 5
RETRY_MAX_SECONDS = 600
# Longest error text kept on a row.
ERROR_MAX_LENGTH = 1000
# The serving thread works the echoes this long after they are due: their
# due_at is on the database's clock, which a few milliseconds may separate.
ECHO_MARGIN_SECONDS = 0.05


# --- Keys ------------------------------------------------------------------------------


def project_keys(normalized_name: str, *, files: bool = False) -> list[str]:
    """The surrogate keys of what a change to the project may alter: its simple
    and JSON pages (and their 404s), its web page and feed, the list of all
    projects and the global feeds; with ``files``, the project's files and
    their metadata (deleted, hidden by a quarantine, or shown again)."""
    name = normalized_name
    keys = ["simple-index", f"simple-{name}", f"json-{name}", f"project-{name}", "rss"]
    keys.append(f"rss-{name}")
    if files:
        keys.append(f"files-{name}")
    return keys


# --- Targets ---------------------------------------------------------------------------


class PurgeError(Exception):
    pass


class Target(Protocol):
    max_keys: int

    def purge(self, keys: Sequence[str]) -> None: ...


def _request(method: str, url: str, headers: dict[str, str]) -> bytes:
    """One request with the purge timeout; a failure or any answer but 2xx
    raises PurgeError. No proxy from the environment applies: an edge is
    reached directly."""
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    try:
        client = connection_class(parts.netloc, timeout=settings.EDGE_PURGE_TIMEOUT)
    except http.client.InvalidURL as exc:
        raise PurgeError(f"{method} {url}: {exc}") from exc
    try:
        client.request(method, parts.path or "/", headers=headers)
        response = client.getresponse()
        body = response.read(4096)
    except (OSError, http.client.HTTPException) as exc:
        raise PurgeError(f"{method} {url}: {exc or type(exc).__name__}") from exc
    finally:
        client.close()
    if not 200 <= response.status < 300:
        text = body.decode("utf-8", "replace").strip()[:200]
        raise PurgeError(f"{method} {url}: {response.status} {response.reason}: {text}")
    return body


@dataclass(frozen=True)
class Varnish:
    """A Varnish edge running edge/default.vcl: ``PURGE /`` with the keys in
    ``xkey-purge`` (a hard purge: the next request goes to the app, so a yank
    shows at once)."""

    base_url: str
    # Varnish refuses request headers over 8 KiB (http_req_hdr_len).
    max_keys = 100

    def purge(self, keys: Sequence[str]) -> None:
        _request("PURGE", self.base_url.rstrip("/") + "/", {"xkey-purge": " ".join(keys)})


@dataclass(frozen=True)
class Fastly:
    """Fastly's batch purge by surrogate key (``POST /service/<id>/purge``)."""

    api_url: str
    service_id: str
    token: str = ""
    soft: bool = True
    # Fastly's limit for one batch purge.
    max_keys = 256

    def purge(self, keys: Sequence[str]) -> None:
        headers = {"Fastly-Key": self.token, "Surrogate-Key": " ".join(keys)}
        if self.soft:
            headers["Fastly-Soft-Purge"] = "1"
        url = f"{self.api_url.rstrip('/')}/service/{quote(self.service_id, safe='')}/purge"
        _request("POST", url, headers)


def targets() -> list[Target]:
    """Every edge the settings configure."""
    found: list[Target] = [Varnish(url) for url in settings.EDGE_PURGE_URLS]
    if settings.FASTLY_API_TOKEN and settings.FASTLY_SERVICE_ID:
        found.append(
            Fastly(
                settings.FASTLY_API_URL,
                settings.FASTLY_SERVICE_ID,
                settings.FASTLY_API_TOKEN,
                settings.FASTLY_SOFT_PURGE,
            )
        )
    return found


def purge_everywhere(keys: Sequence[str]) -> None:
    """Purge ``keys`` at every edge, in requests of at most each edge's
    ``max_keys``; raises PurgeError naming every edge that failed."""
    errors = []
    for target in targets():
        size = target.max_keys
        try:
            for start in range(0, len(keys), size):
                target.purge(keys[start : start + size])
        except PurgeError as exc:
            errors.append(str(exc))
    if errors:
        raise PurgeError("; ".join(errors))


# --- The outbox ------------------------------------------------------------------------


def enqueue(keys: Iterable[str]) -> EdgePurge | None:
    """Queue a purge of ``keys`` in the current transaction; it is tried once
    the transaction commits. Nothing is queued when no edge is configured."""
    if not targets():
        return None
    now = timezone.now()
    keys = " ".join(dict.fromkeys(keys))
    row = EdgePurge.objects.create(
        keys=keys, created_at=now, due_at=now + timedelta(seconds=FIRST_ATTEMPT_SECONDS)
    )
    transaction.on_commit(lambda: purger.submit(row.pk))
    if settings.EDGE_PURGE_ECHO_SECONDS > 0:
        # The same keys again, a little later, by the worker: a request that
        # read the database before the commit may bring its old answer to an
        # edge just after the first purge, which would then keep it for
        # hours (Surrogate-Control).
        echo = now + timedelta(seconds=settings.EDGE_PURGE_ECHO_SECONDS)
        EdgePurge.objects.create(keys=keys, created_at=now, due_at=echo)
    return row


def _claim(condition: Q, limit: int) -> tuple[str, list[EdgePurge]]:
    token = uuid.uuid4().hex
    now = timezone.now()
    with transaction.atomic():
        candidates = (
            EdgePurge.objects.select_for_update(skip_locked=True)
            .filter(condition)
            .order_by("due_at")
            .values_list("pk", flat=True)[:limit]
        )
        # The condition again in the UPDATE: on SQLite nothing was locked, and
        # another worker may have claimed a row since it was read.
        EdgePurge.objects.filter(condition, pk__in=list(candidates)).update(
            claim=token,
            due_at=now + timedelta(seconds=CLAIM_SECONDS),
            attempts=F("attempts") + 1,
        )
    return token, list(EdgePurge.objects.filter(claim=token))


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** (attempts - 1), RETRY_MAX_SECONDS))


def _work(token: str, rows: list[EdgePurge]) -> int:
    """Purge the rows' keys together; delete them, or record the failure and
    when to retry. Returns the rows done."""
    if not rows:
        return 0
    keys = list(dict.fromkeys(key for row in rows for key in row.keys.split()))
    try:
        purge_everywhere(keys)
    except PurgeError as exc:
        error = str(exc)[:ERROR_MAX_LENGTH]
        logger.warning("Edge purge of %d keys failed (retried later): %s", len(keys), error)
        now = timezone.now()
        for row in rows:
            EdgePurge.objects.filter(pk=row.pk, claim=token).update(
                claim="", last_error=error, due_at=now + retry_delay(row.attempts)
            )
        return 0
    EdgePurge.objects.filter(pk__in=[row.pk for row in rows], claim=token).delete()
    return len(rows)


def attempt(pks: Sequence[int]) -> int:
    """The first attempt at the rows ``pks`` (just committed); rows some
    worker has taken already are left to it. Returns the rows done."""
    return _work(*_claim(Q(pk__in=pks, attempts=0), len(pks)))


def work_all_due() -> int:
    """Claims until none is due (rows that fail are due later); returns the
    rows done."""
    done = 0
    while True:
        token, rows = _claim(Q(due_at__lte=timezone.now()), BATCH_SIZE)
        if not rows:
            return done
        done += _work(token, rows)


class Purger:
    """Runs the first attempt after a commit. In a serving process
    (``pypi_site.wsgi``) a thread of its own takes the rows, so no request
    waits for an edge; idle for ``idle_seconds``, it also works the rows that
    are due (retries, repeated purges), so one machine needs no separate
    worker. It drains what is left at a graceful exit. Elsewhere the attempt
    runs at once."""

    def __init__(self, *, idle_seconds: float = 30) -> None:
        self.serving = False
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def serve(self) -> None:
        self.serving = True
        atexit.register(self.stop)

    def submit(self, pk: int) -> None:
        if not self.serving:
            self._attempt([pk])
            return
        self._queue.put(pk)
        with self._lock:
            # A forked worker finds its parent's thread dead: it starts its own.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="edge-purge", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        # When the echoes of the purges this thread made fall due (monotonic
        # clock, in order): it wakes for them instead of waiting to be idle,
        # so the echo reaches the edges on time on a machine with no worker.
        echoes: collections.deque[float] = collections.deque()
        while True:
            now = time.monotonic()
            if echoes and echoes[0] <= now:
                while echoes and echoes[0] <= now:
                    echoes.popleft()
                self._guarded(work_all_due)
                continue
            try:
                timeout = echoes[0] - now if echoes else self.idle_seconds
                items = [self._queue.get(timeout=timeout)]
            except queue.Empty:
                if not echoes:
                    self._guarded(work_all_due)
                continue
            # Whatever else committed meanwhile goes in the same requests.
            while not self._queue.empty():
                items.append(self._queue.get())
            pks = [item for item in items if item is not None]
            if pks:
                self._attempt(pks)
                if settings.EDGE_PURGE_ECHO_SECONDS > 0:
                    due = time.monotonic() + settings.EDGE_PURGE_ECHO_SECONDS
                    echoes.append(due + ECHO_MARGIN_SECONDS)
            if None in items:
                return

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=settings.EDGE_PURGE_TIMEOUT * 2)
            self._thread = None

    def _attempt(self, pks: list[int]) -> None:
        self._guarded(lambda: attempt(pks))

    def _guarded(self, work) -> None:
        try:
            work()
        except Exception:
            # After the commit nothing may fail the change: the rows stay for
            # the worker.
            logger.exception("Could not purge the edges now; the worker will")
        if self.serving:
            # The thread keeps no connection open between purges.
            connection.close()


purger = Purger()
