"""Downloads a CDN served, read from its access log (``import_download_log``).

Two formats, told apart line by line:

* the combined (or common) log format of Apache, nginx, Varnish and most CDNs::

    203.0.113.9 - - [01/May/2025:12:00:00 +0000] "GET /packages/ab/cd/<60 hex>/<file>
    HTTP/1.1" 200 1234 "-" "pip/25.0"     (one line)

* JSON, one object per line, with ``path`` (the request path, a query string
  is ignored), ``status`` (number), ``timestamp`` (ISO 8601, UTC when it has no
  offset, or seconds since the epoch) and optionally ``method`` (default GET)::

    {"path": "/packages/ab/cd/<60 hex>/<file>", "status": 200,
     "timestamp": "2025-05-01T12:00:00Z"}     (one line)

A download is a GET of ``/packages/<2 hex>/<2 hex>/<60 hex>/<filename>``
answered 200: not HEAD, not ``.metadata``, not 304 (a cache revalidating), not
206 (a partial read, mostly installers peeking at a wheel's metadata), not an
error. It counts on the UTC day of its timestamp.

Each line counts once, however often its log is imported. A log is known by
the sha256 of its bytes (decompressed) and recorded, with its size and its
first line's digest, in the same transaction as its counts:

* the same log imported again counts nothing (whatever its file name, gzipped
  or not);
* a log that begins with the whole of one imported before (a log imported
  while it was still being written, then again once complete) counts only the
  lines after that part;
* an import that fails or is killed commits nothing, so running it again
  counts the log once;
* a last line without its newline is being written: it is not counted, and
  counts when the log is imported again with it complete.

A log that shares lines with one imported before any other way (two exports
of overlapping time ranges, a part of an imported log, the lines of one log
copied into another) would count the shared lines twice: it is refused, and
nothing of it is counted. Shared lines are found by runs of ``RUN_LINES``
consecutive lines: of every ``WINDOW_RUNS`` consecutive runs of a log, the one
with the smallest hash is kept as a fingerprint (winnowing), so two logs that
share ``OVERLAP_LINES`` consecutive lines or more always share a fingerprint,
whatever else they hold, while a log keeps only about one fingerprint per 65
lines. A shorter overlap is not seen; nor is one with a log imported before
fingerprints were kept. Independent logs share a run only if ``RUN_LINES``
whole lines repeat in the same order, which the client address and time in
each line make as good as impossible (a JSON log without addresses, of one
file fetched many times a second, could: the refusal names the other log).
Two runs importing overlapping logs at the same moment do not see each other's
fingerprints before they commit: import one log at a time.
"""

import hashlib
import json
import re
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from urllib.parse import unquote, urlsplit

from django.db import IntegrityError

from .downloads import BATCH_SIZE, batched, write_batch
from .models import DownloadLogFingerprint, File, ImportedDownloadLog
from .storage import METADATA_SUFFIX, STORED_PATH_PATTERN

_COMBINED = re.compile(
    r'\S+ \S+ .*?\[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<target>\S+)[^"]*" (?P<status>\d{3})\b'
)
_CLF_TIME = re.compile(
    r"(?P<day>\d{2})/(?P<month>[A-Za-z]{3})/(?P<year>\d{4}):"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2}) (?P<sign>[+-])(?P<hh>\d{2})(?P<mm>\d{2})"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_FILE_PATH = re.compile(f"/packages/({STORED_PATH_PATTERN})")


# Overlaps (see above): runs of 16 lines, the smallest of every 128 runs kept.
RUN_LINES = 16
WINDOW_RUNS = 128
OVERLAP_LINES = RUN_LINES + WINDOW_RUNS - 1


class _Fingerprints:
    """The winnowing fingerprints of a log's lines, as they are read."""

    def __init__(self) -> None:
        self.lines: deque[bytes] = deque(maxlen=RUN_LINES)  # digests of the last lines
        # (hash, fingerprint, position) of the window's runs, hashes increasing:
        # the first is the window's smallest.
        self.window: deque[tuple[bytes, int, int]] = deque()
        self.runs = 0
        self.chosen = -1  # position of the run kept last
        self.values: set[int] = set()

    def add(self, line: bytes) -> None:
        self.lines.append(hashlib.blake2b(line, digest_size=16).digest())
        if len(self.lines) < RUN_LINES:
            return
        digest = hashlib.blake2b(b"".join(self.lines), digest_size=16).digest()
        # The first half chooses, the second is stored: the chosen runs have
        # small first halves, but their stored halves spread over all 64 bits,
        # so unrelated runs rarely share one.
        run = (digest[:8], int.from_bytes(digest[8:], "big", signed=True), self.runs)
        self.runs += 1
        while self.window and self.window[-1][0] >= run[0]:
            self.window.pop()
        self.window.append(run)
        if self.window[0][2] <= run[2] - WINDOW_RUNS:
            self.window.popleft()
        if self.runs >= WINDOW_RUNS and self.window[0][2] != self.chosen:
            _hash, value, self.chosen = self.window[0]
            self.values.add(value)


@dataclass(frozen=True)
class Hit:
    day: date
    path: str  # the storage path, as File.path holds it


@dataclass
class ImportResult:
    lines: int = 0  # read and not imported before
    downloads: int = 0  # recorded
    malformed: int = 0
    not_downloads: int = 0
    unknown_files: int = 0  # downloads of files not (or no longer) in the index
    incomplete: int = 0  # a last line still being written
    # The log imported before that this one is, or begins with.
    imported_before: ImportedDownloadLog | None = None
    lines_imported_before: int = 0
    # A log imported before that shares lines with this one otherwise: nothing
    # of this one was counted.
    overlaps: ImportedDownloadLog | None = None

    @property
    def skipped(self) -> int:
        return self.malformed + self.not_downloads + self.unknown_files

    @property
    def nothing_new(self) -> bool:
        return self.imported_before is not None and self.lines == 0


@dataclass
class _Reading:
    """A log as it is read: its digest so far and what its lines record."""

    result: ImportResult = field(default_factory=ImportResult)
    hits: Counter = field(default_factory=Counter)  # (day, storage path) -> downloads
    digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    size: int = 0
    first_line_digest: str = ""
    # size -> {digest: record} of the logs imported before that begin alike.
    known: dict[int, dict[str, ImportedDownloadLog]] = field(default_factory=dict)
    # Of the lines after those imported before.
    fingerprints: _Fingerprints = field(default_factory=_Fingerprints)

    def start(self, first_line: bytes) -> None:
        self.first_line_digest = hashlib.sha256(first_line).hexdigest()
        for record in ImportedDownloadLog.objects.filter(first_line_digest=self.first_line_digest):
            self.known.setdefault(record.size, {})[record.digest] = record

    def add(self, raw: bytes) -> None:
        self.digest.update(raw)
        self.size += len(raw)
        if line := raw.strip():
            self.fingerprints.add(line)
        self.count(raw.decode("utf-8", errors="replace").strip())
        record = self.known.get(self.size, {}).get(self.digest.hexdigest())
        if record is not None:
            # Everything read so far was imported before: start afresh after it.
            self.result = ImportResult(
                imported_before=record,
                lines_imported_before=self.result.lines_imported_before + self.result.lines,
            )
            self.hits = Counter()
            self.fingerprints = _Fingerprints()

    def count(self, line: str) -> None:
        result = self.result
        if not line:
            return
        result.lines += 1
        try:
            hit = parse_line(line)
        except (ValueError, TypeError, OverflowError):
            result.malformed += 1
            return
        if hit is None:
            result.not_downloads += 1
        else:
            self.hits[hit.day, hit.path] += 1


def _clf_day(value: str) -> date:
    match = _CLF_TIME.fullmatch(value)
    month = _MONTHS.get(match["month"].lower()) if match else None
    if month is None:
        raise ValueError(f"not a log time: {value!r}")
    offset = timedelta(hours=int(match["hh"]), minutes=int(match["mm"]))
    zone = timezone(offset if match["sign"] == "+" else -offset)
    moment = datetime(
        int(match["year"]),
        month,
        int(match["day"]),
        int(match["hour"]),
        int(match["minute"]),
        int(match["second"]),
        tzinfo=zone,
    )
    return moment.astimezone(UTC).date()


def _json_day(value) -> date:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).date()
    if not isinstance(value, str):
        raise ValueError("timestamp must be a string or a number")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date()


def _parse_json(line: str) -> tuple[str, str, int, date]:
    record = json.loads(line)  # a dict: the line starts with "{"
    method, path, status = record.get("method", "GET"), record.get("path"), record.get("status")
    if not isinstance(method, str) or not isinstance(path, str):
        raise ValueError("method and path must be strings")
    return method, path, int(status), _json_day(record.get("timestamp"))


def parse_line(line: str) -> Hit | None:
    """The download a log line records, None when it records something else;
    ValueError when it is not a log line at all."""
    if line.startswith("{"):
        method, target, status, day = _parse_json(line)
    else:
        match = _COMBINED.match(line)
        if match is None:
            raise ValueError("not a combined log line")
        method, target, status = match["method"], match["target"], int(match["status"])
        day = _clf_day(match["time"])
    if method != "GET" or status != 200:
        return None
    path = _FILE_PATH.fullmatch(unquote(urlsplit(target).path))
    if path is None or path.group(1).endswith(METADATA_SUFFIX):
        return None
    return Hit(day=day, path=path.group(1))


def import_log(stream: Iterable[bytes], *, name: str, batch_size: int = BATCH_SIZE) -> ImportResult:
    """Add the downloads recorded in the log ``stream`` (its lines as bytes)
    that no import counted before; ``name`` says which log it was."""
    reading = _Reading()
    for raw in stream:
        if not reading.size:
            reading.start(raw)
        if not raw.endswith(b"\n"):
            reading.result.incomplete += 1  # only the last line can lack it
            break
        reading.add(raw)
    result = reading.result
    if not reading.size or result.nothing_new:
        return result
    values = sorted(reading.fingerprints.values)
    for chunk in batched(values, batch_size):
        shared = DownloadLogFingerprint.objects.filter(value__in=chunk).order_by("log_id")
        if (found := shared.select_related("log").first()) is not None:
            result.overlaps = found.log
            return result

    file_ids: dict[str, int] = {}
    for chunk in batched(sorted({path for _day, path in reading.hits}), batch_size):
        file_ids.update(File.objects.filter(path__in=chunk).values_list("path", "id"))
    counts: Counter = Counter()
    for (day, path), number in reading.hits.items():
        if path in file_ids:
            counts[day, file_ids[path]] += number
        else:
            result.unknown_files += number

    def record(written: int) -> None:
        log = ImportedDownloadLog.objects.create(
            digest=reading.digest.hexdigest(),
            size=reading.size,
            first_line_digest=reading.first_line_digest,
            name=name,
            lines=result.lines_imported_before + result.lines,
            downloads=written,
        )
        DownloadLogFingerprint.objects.bulk_create(
            (DownloadLogFingerprint(log=log, value=value) for value in values),
            batch_size=batch_size,
        )

    try:
        result.downloads = write_batch(counts, batch_size=batch_size, then=record)
    except IntegrityError:
        # The same log, imported by another run since this one began: its
        # transaction counted it, ours is rolled back.
        earlier = ImportedDownloadLog.objects.filter(digest=reading.digest.hexdigest()).first()
        if earlier is None:
            raise
        return ImportResult(imported_before=earlier, lines_imported_before=earlier.lines)
    # Files deleted between the lookup above and the write.
    result.unknown_files += counts.total() - result.downloads
    return result
