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
error. It counts on the UTC day of its timestamp. Importing the same log twice
counts it twice: import each rotated log once.
"""

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from urllib.parse import unquote, urlsplit

from .downloads import BATCH_SIZE, add_counts, batched
from .models import File
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


@dataclass(frozen=True)
class Hit:
    day: date
    path: str  # the storage path, as File.path holds it


@dataclass
class ImportResult:
    lines: int = 0
    downloads: int = 0  # recorded
    malformed: int = 0
    not_downloads: int = 0
    unknown_files: int = 0  # downloads of files not (or no longer) in the index

    @property
    def skipped(self) -> int:
        return self.malformed + self.not_downloads + self.unknown_files


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


def import_log(lines: Iterable[str], *, batch_size: int = BATCH_SIZE) -> ImportResult:
    """Add the downloads recorded in ``lines`` to the database."""
    result = ImportResult()
    by_path: Counter = Counter()
    for line in lines:
        line = line.strip()
        if not line:
            continue
        result.lines += 1
        try:
            hit = parse_line(line)
        except (ValueError, TypeError, OverflowError):
            result.malformed += 1
            continue
        if hit is None:
            result.not_downloads += 1
        else:
            by_path[hit.day, hit.path] += 1
    file_ids: dict[str, int] = {}
    for chunk in batched(sorted({path for _day, path in by_path}), batch_size):
        file_ids.update(File.objects.filter(path__in=chunk).values_list("path", "id"))
    counts: Counter = Counter()
    for (day, path), number in by_path.items():
        if path in file_ids:
            counts[day, file_ids[path]] += number
        else:
            result.unknown_files += number
    result.downloads = add_counts(counts, batch_size=batch_size)
    # Files deleted between the lookup above and the write.
    result.unknown_files += counts.total() - result.downloads
    return result
