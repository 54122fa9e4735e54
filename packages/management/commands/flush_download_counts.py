from django.conf import settings
from django.core.management.base import BaseCommand

from packages import downloads
from packages.management.common import positive_int


class Command(BaseCommand):
    help = (
        "Move the download counters from Redis to the database (run it from cron, "
        "every minute or so). Without Redis each server process writes its own."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=downloads.BATCH_SIZE,
            help="Rows written per transaction (default %(default)s).",
        )

    def handle(self, *args, batch_size, **options):
        if not settings.REDIS_URL:
            self.stdout.write(
                "No Redis: each server process writes its own download counts every "
                f"{settings.DOWNLOAD_COUNTS_FLUSH_SECONDS} s; nothing to move here."
            )
            return
        written = downloads.flush(batch_size=batch_size)
        if written is None:
            self.stdout.write("Another flush is running; nothing done.")
        else:
            self.stdout.write(f"Recorded {written} downloads.")
