"""manage.py import_advisories FILE_OR_DIR... [--moderator USER]: store the
security advisories of OSV JSON files (one record or a list per file, a
directory of *.json files, or osv.dev's all.zip export of an ecosystem) on the
projects they name."""

import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
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
# What reading a file or an archive's member may raise: unreadable, not a zip,
# a corrupt or encrypted member, a compression zipfile can't read.
_READ_ERRORS = (
    AdvisoryError,
    OSError,
    zipfile.BadZipFile,
    zlib.error,
    RuntimeError,
    NotImplementedError,
)


def _bounded(read: Callable[[int], bytes], size: int) -> bytes:
    # The size a zip's directory declares may lie: read one byte more than allowed.
    if size > MAX_FILE_BYTES:
        raise AdvisoryError(f"larger than {MAX_FILE_BYTES} bytes.")
    data = read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise AdvisoryError(f"larger than {MAX_FILE_BYTES} bytes.")
    return data


def _read_file(path: Path) -> bytes:
    with path.open("rb") as file:
        return _bounded(file.read, path.stat().st_size)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    with archive.open(info) as member:
        return _bounded(member.read, info.file_size)


class Command(BaseCommand):
    help = (
        "Import security advisories from OSV JSON files, directories of them or osv.dev's "
        "all.zip. Records about projects this index does not have are skipped; invalid "
        "ones are refused (exit status 1)."
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
        self.files_read = 0
        for path in files:
            for result, line in self._import_path(path, actor):
                counts[result] += 1
                self.stdout.write(f"{result}: {line}")
        summary = ", ".join(
            f"{counts[result]} {result}"
            for result in ("created", "updated", "unchanged", "skipped", "refused")
        )
        files_read = f"{self.files_read} file{'' if self.files_read == 1 else 's'}"
        self.stdout.write(f"{files_read}: {summary}.")
        if counts["refused"]:
            raise CommandError(f"{counts['refused']} refused, listed above.", returncode=1)

    def _import_path(self, path: Path, actor: Actor) -> Iterator[tuple[str, str]]:
        if path.suffix != ".zip":
            yield from self._import_text(str(path), lambda: _read_file(path), actor)
            return
        try:
            archive = zipfile.ZipFile(path)
        except _READ_ERRORS as exc:
            self.files_read += 1
            yield "refused", f"{path}: {exc}"
            return
        with archive:
            for info in sorted(archive.infolist(), key=lambda info: info.filename):
                if not info.is_dir() and info.filename.endswith(".json"):
                    label = f"{path}:{info.filename}"
                    yield from self._import_text(
                        label, lambda info=info: _read_member(archive, info), actor
                    )

    def _import_text(
        self, label: str, read: Callable[[], bytes], actor: Actor
    ) -> Iterator[tuple[str, str]]:
        """(result, line) for each record of one file, or one refusal."""
        self.files_read += 1
        try:
            records = load_records(read())
        except _READ_ERRORS as exc:
            yield "refused", f"{label}: {getattr(exc, 'message', None) or exc}"
            return
        for data in records:
            try:
                parsed = parse_osv(data)
            except AdvisoryError as exc:
                yield "refused", f"{label}: {exc.message}"
                continue
            for outcome in advisory_import(parsed=parsed, actor=actor):
                line = f"{parsed.osv_id} for {outcome.project}"
                yield outcome.result, f"{line} ({outcome.reason})" if outcome.reason else line
