import argparse
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from packages import consistency

DEFAULT_GRACE_SECONDS = 3600


def non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


class Command(BaseCommand):
    help = (
        "Check the database against the file storage: File rows without their object, "
        "objects without a row (orphans), sizes that differ from the row, wheels whose "
        "<path>.metadata is missing, and named files left in FILE_UPLOAD_TEMP_DIR. "
        "Sizes are always compared; --verify-digests also reads every object and "
        "compares its sha256 and blake2b-256 (slow on a large store). Exit status 1 "
        "while any inconsistency remains."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--repair",
            action="store_true",
            help=(
                "Remove orphan objects and stray temp files older than the grace period. "
                "Rows without objects and mismatches are only reported."
            ),
        )
        parser.add_argument(
            "--grace-seconds",
            type=non_negative_int,
            default=DEFAULT_GRACE_SECONDS,
            help=(
                "Age an orphan or temp file must reach before --repair removes it "
                f"(default {DEFAULT_GRACE_SECONDS}): an upload between storing its file "
                "and committing its rows is never touched."
            ),
        )
        parser.add_argument(
            "--verify-digests",
            action="store_true",
            help="Read every object and compare its digests with its row (slow).",
        )

    def handle(self, *args, **options):
        problems = consistency.check(verify_digests=options["verify_digests"])
        for problem in problems:
            self.stdout.write(str(problem))
        repaired = []
        if options["repair"]:
            grace = timedelta(seconds=options["grace_seconds"])
            repaired = consistency.repair(problems, grace=grace)
            for problem in repaired:
                self.stdout.write(f"removed {problem.kind}: {problem.name}")
        remaining = len(problems) - len(repaired)
        if remaining:
            hint = "" if options["repair"] else " (--repair removes orphans and stray temp files)"
            raise CommandError(f"{remaining} inconsistencies remain{hint}.", returncode=1)
        done = f" ({len(repaired)} repaired)" if repaired else ""
        self.stdout.write(f"No inconsistencies{done}.")
