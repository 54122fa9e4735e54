import gzip
import sys

from django.core.management.base import BaseCommand, CommandError

from packages.download_log import import_log
from packages.downloads import BATCH_SIZE
from packages.management.common import positive_int


class Command(BaseCommand):
    help = (
        "Add the downloads a CDN served, read from its access log: the combined log "
        "format or JSON lines (path, status, timestamp). '-' reads standard input; a "
        "name ending in .gz is decompressed."
    )

    def add_arguments(self, parser):
        parser.add_argument("log", help="Log file, or '-' for standard input.")
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=BATCH_SIZE,
            help="Rows written per transaction (default %(default)s).",
        )

    def handle(self, *args, log, batch_size, **options):
        if log == "-":
            result = import_log(sys.stdin, batch_size=batch_size)
        else:
            opener = gzip.open if log.endswith(".gz") else open
            try:
                with opener(log, "rt", encoding="utf-8", errors="replace") as lines:
                    result = import_log(lines, batch_size=batch_size)
            except OSError as error:
                raise CommandError(f"Cannot read {log}: {error}") from None
        self.stdout.write(
            f"Read {result.lines} lines: counted {result.downloads} downloads, "
            f"skipped {result.skipped} ({result.malformed} malformed, "
            f"{result.not_downloads} not downloads, "
            f"{result.unknown_files} of files not in the index)."
        )
