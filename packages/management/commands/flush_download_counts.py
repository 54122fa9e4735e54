from django.core.management.base import BaseCommand

from packages import downloads
from packages.management.common import positive_int


class Command(BaseCommand):
    help = (
        "Move the download counters from the cache to the database now. The server "
        "processes do it themselves every DOWNLOAD_COUNTS_FLUSH_SECONDS; cron needs this "
        "command only where that is set to 0."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=downloads.BATCH_SIZE,
            help="Rows written per transaction (default %(default)s).",
        )

    def handle(self, *args, batch_size, **options):
        written = downloads.flush(batch_size=batch_size)
        if written is None:
            self.stdout.write("Another flush is running; nothing done.")
        else:
            self.stdout.write(f"Recorded {written} downloads.")
