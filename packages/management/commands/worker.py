import logging
import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from packages import descriptions, downloads, purges
from packages.downloads import flusher

logger = logging.getLogger(__name__)

# Seconds between two looks at the queue.
POLL_SECONDS = 1.0


class Command(BaseCommand):
    help = (
        "The background worker: renders the descriptions of new releases, purges the edge "
        "caches from the durable queue (retrying "
        "failed purges until they succeed) and moves download counts to the database. Runs "
        "until SIGTERM or SIGINT, finishing what it is doing; any number may run, on any "
        "number of machines."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Work what is due now, then exit.")

    def handle(self, *args, once, **options):
        if once:
            descriptions.render_all_pending()
            done = purges.work_all_due()
            if settings.DOWNLOAD_COUNTS_FLUSH_SECONDS:
                flusher.tick()
            else:
                # Counts left to cron: --once is that cron job.
                downloads.flush()
            self.stdout.write(f"Purged {done} queued changes.")
            return
        stopping = threading.Event()
        previous = {
            signum: signal.signal(signum, lambda *_: stopping.set())
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        self.stdout.write("Worker started.")
        flush_every = settings.DOWNLOAD_COUNTS_FLUSH_SECONDS / 2
        next_flush = time.monotonic()
        try:
            while not stopping.is_set():
                flush = bool(flush_every) and time.monotonic() >= next_flush
                self.tick(flush=flush)
                if flush:
                    next_flush = time.monotonic() + flush_every
                stopping.wait(POLL_SECONDS)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        self.stdout.write("Worker stopped.")

    @staticmethod
    def tick(*, flush: bool) -> None:
        try:
            # Renders first: each queues the purge of its project's pages.
            descriptions.render_all_pending()
            purges.work_all_due()
            if flush:
                # The serving processes' own tick: one flush per interval for
                # all of them and all the workers.
                flusher.tick()
        except Exception:
            # The database or the cache may be restarting: the work waits.
            logger.exception("The worker could not work its queue")
            connection.close()
