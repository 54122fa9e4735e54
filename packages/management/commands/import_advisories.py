"""manage.py import_advisories FILE_OR_DIR... [--moderator USER]: store the
security advisories of OSV JSON files (one record or a list per file, or a
directory of *.json files as osv.dev exports them) on the projects they name."""

from collections import Counter
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.events import Actor
from accounts.models import User
from packages.advisories import (
    MAX_RECORD_BYTES,
    AdvisoryError,
    advisory_import,
    load_records,
    parse_osv,
)

# A file of records (a list) may hold many; each record is bounded on its own.
MAX_FILE_BYTES = MAX_RECORD_BYTES * 50


class Command(BaseCommand):
    help = (
        "Import security advisories from OSV JSON files or directories of them. Records "
        "about projects this index does not have are skipped; invalid ones are refused "
        "(exit status 1)."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
        parser.add_argument(
            "--moderator",
            help="The account recorded as having imported them (left out: the shell).",
        )

    def handle(self, *args, paths, moderator, **options):
        user = None
        if moderator is not None:
            user = User.objects.filter(username=moderator).first()
            if user is None:
                raise CommandError(f"No user named {moderator!r}.")
        actor = Actor.shell(user)
        files = []
        for given in paths:
            path = Path(given)
            if path.is_dir():
                files.extend(sorted(path.glob("*.json")))
            elif path.is_file():
                files.append(path)
            else:
                raise CommandError(f"No such file or directory: {given}")
        counts: Counter = Counter()
        for path in files:
            for result, line in self._import_file(path, actor):
                counts[result] += 1
                self.stdout.write(f"{result}: {line}")
        summary = ", ".join(
            f"{counts[result]} {result}"
            for result in ("created", "updated", "unchanged", "skipped", "refused")
        )
        self.stdout.write(f"{len(files)} files: {summary}.")
        if counts["refused"]:
            raise CommandError(f"{counts['refused']} refused, listed above.", returncode=1)

    def _import_file(self, path: Path, actor: Actor):
        """(result, line) for each record of the file, or one refusal."""
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise AdvisoryError(f"larger than {MAX_FILE_BYTES} bytes.")
            records = load_records(path.read_bytes())
        except (AdvisoryError, OSError) as exc:
            yield "refused", f"{path}: {getattr(exc, 'message', None) or exc}"
            return
        for data in records:
            try:
                parsed = parse_osv(data)
            except AdvisoryError as exc:
                yield "refused", f"{path}: {exc.message}"
                continue
            for outcome in advisory_import(parsed=parsed, actor=actor):
                line = f"{parsed.osv_id} for {outcome.project}"
                yield outcome.result, f"{line} ({outcome.reason})" if outcome.reason else line
