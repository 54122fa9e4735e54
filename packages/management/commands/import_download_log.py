import gzip
import sys

from django.core.management.base import BaseCommand, CommandError

from packages.download_log import ImportResult, import_log
from packages.downloads import BATCH_SIZE
from packages.management.common import positive_int


class Command(BaseCommand):
    help = (
        "Add the downloads a CDN served, read from its access log: the combined log "
        "format or JSON lines (path, status, timestamp). '-' reads standard input; a "
        "name ending in .gz is decompressed. Each line counts once: a log imported "
        "before counts nothing again, a longer copy of it only its new lines, and a log "
        "sharing other lines with one imported before is refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("log", help="Log file, or '-' for standard input.")
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=BATCH_SIZE,
            help="Rows written per statement (default %(default)s); the whole log is "
            "written in one transaction.",
        )

    def handle(self, *args, log, batch_size, **options):
        if log == "-":
            result = import_log(sys.stdin.buffer, name="standard input", batch_size=batch_size)
        else:
            opener = gzip.open if log.endswith(".gz") else open
            try:
                with opener(log, "rb") as lines:
                    result = import_log(lines, name=log, batch_size=batch_size)
            except (OSError, EOFError) as error:
                raise CommandError(f"Cannot read {log}: {error}") from None
        if result.overlaps is not None:
            raise CommandError(self.refusal(result))
        self.stdout.write(self.summary(result))

    @staticmethod
    def refusal(result: ImportResult) -> str:
        other = result.overlaps
        when = other.imported_at.strftime("%Y-%m-%d %H:%M UTC")
        return (
            f"Refused: this log shares lines with {other.name}, imported on {when}; "
            "counting it would count those downloads twice, so nothing of it was counted. "
            "Import only the lines that log does not hold (a longer copy of a log imported "
            "before is fine: only its new lines count)."
        )

    @staticmethod
    def summary(result: ImportResult) -> str:
        before = result.imported_before
        parts = []
        if before is not None:
            when = before.imported_at.strftime("%Y-%m-%d %H:%M UTC")
            if result.nothing_new:
                parts.append(f"Already imported on {when} as {before.name}: nothing counted again.")
            else:
                parts.append(
                    f"The first {result.lines_imported_before} lines were imported on {when} "
                    f"as {before.name}; counting the lines after them."
                )
        if not result.nothing_new:
            parts.append(
                f"Read {result.lines} lines: counted {result.downloads} downloads, "
                f"skipped {result.skipped} ({result.malformed} malformed, "
                f"{result.not_downloads} not downloads, "
                f"{result.unknown_files} of files not in the index)."
            )
        if result.incomplete:
            parts.append("The last line is incomplete: it counts when the log is imported again.")
        return " ".join(parts)
