"""``manage.py import_distributions``: move in from pypiserver, devpi or a directory."""

import os
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.events import Actor
from accounts.models import User
from packages import importing


class Command(BaseCommand):
    help = (
        "Import existing distributions (wheels, sdists) as uploads by --owner: from "
        "directory trees (a pypiserver packages directory, a 'pip download' directory), "
        "or with --from-index from another index's simple API (a devpi index, a "
        "pypiserver, another instance of this index). Each file passes the upload's "
        "checks; a second run changes nothing. Exit status 1 if any file was refused."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "sources",
            nargs="*",
            metavar="PATH or PROJECT",
            help="Files or directories; with --from-index, the projects to copy "
            "(default: every project of that index).",
        )
        parser.add_argument(
            "--from-index",
            metavar="URL",
            help="The simple API (PEP 503/691) of the index to copy from, e.g. "
            "http://devpi.example/root/pypi/+simple/.",
        )
        parser.add_argument(
            "--owner",
            metavar="USERNAME",
            required=True,
            help="The account that uploads: Owner of each new project; it must hold a "
            "role on each project that exists already.",
        )
        parser.add_argument(
            "--upload-time-from-mtime",
            action="store_true",
            help="Take each file's modification time as its upload time (right for a "
            "pypiserver directory copied with its times kept; a 'pip download' directory "
            "has download times). Default: the time of the import.",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar on stderr.")

    def handle(self, *args, sources, from_index, owner, upload_time_from_mtime, **options):
        if not from_index and not sources:
            raise CommandError("Name the files or directories to import, or --from-index URL.")
        if from_index and upload_time_from_mtime:
            raise CommandError(
                "--upload-time-from-mtime is for files on disk; an index gives upload times."
            )
        if not from_index:
            missing = [path for path in sources if not os.path.lexists(path)]
            if missing:
                raise CommandError(f"No such file or directory: {', '.join(missing)}")
        try:
            user = User.objects.get(username=owner)
        except User.DoesNotExist:
            raise CommandError(f"No user named {owner!r}.") from None
        verbose = options["verbosity"] >= 2
        progress = tqdm(
            unit="file",
            file=sys.stderr,
            disable=options["no_progress"] or not sys.stderr.isatty(),
        )
        with progress:
            run = importing.Run(
                actor=Actor.shell(user),
                progress=progress,
                note=self._note if verbose else lambda line: None,
            )
            if from_index:
                tally = importing.index_import(run, importing.index_client(from_index), sources)
            else:
                tally = importing.paths_import(
                    run, sources, upload_time_from_mtime=upload_time_from_mtime
                )
        if tally.refused:
            self.stdout.write("Refused:")
            for name, reason in tally.refused:
                self.stdout.write(f"  {name}: {reason}")
        self.stdout.write(tally.summary().capitalize() + ".")
        if tally.refused:
            raise CommandError(f"{len(tally.refused)} refused, listed above.", returncode=1)

    def _note(self, line: str) -> None:
        # Above the bar, which is drawn again below it.
        with tqdm.external_write_mode(file=sys.stderr):
            self.stdout.write(line)
