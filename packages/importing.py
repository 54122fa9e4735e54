"""Moving in: distributions that exist elsewhere, imported as if each had been
uploaded with twine by the owner the operator names (``manage.py
import_distributions``).

Each file goes through the upload's own pipeline (packages.upload): its bytes
are received by the upload's handler (the same digests, the same size bound),
the form twine would send is built from the core metadata inside the file, and
``release_file_upload`` judges and commits it. So an imported file leaves what
an upload of it leaves: the File row, its digests, the PEP 658 metadata file,
the release's metadata, journal entries and events. Two differences, both on
purpose: no API token (the shell acts as the owner), and no rate limits (they
are against strangers flooding the index, not its operator moving in).

Idempotent: a file already here with the same bytes counts as already there
and changes nothing; the same filename with other bytes is refused, as an
upload of it would be.
"""

import enum
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from django.db import transaction
from django.utils.datastructures import MultiValueDict
from packaging.metadata import parse_email
from packaging.utils import (
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from accounts.events import Actor

from . import upstream
from .distributions import (
    InvalidDistribution,
    parse_distribution_filename,
    read_sdist_metadata,
    read_wheel_metadata,
)
from .models import File, Release
from .names import is_valid_project_name
from .policy import UploadError
from .services import ReleaseError, release_yank
from .upload import Outcome, human_size, release_file_upload
from .upload_handler import (
    CHUNK_SIZE,
    HashedUploadedFile,
    HashingUploadHandler,
    largest_upload_limit,
)

# What an index offers and an upload accepts; anything else in a directory
# (signatures, .egg, .exe, pypiserver's own files) is skipped, not refused.
DISTRIBUTION_SUFFIXES = (".whl", ".tar.gz", ".zip")
# Seconds one page of the source index may take, and a download may pause
# between two reads: an import is not a client waiting, unlike the mirror.
INDEX_TIMEOUT = 60
# The RawMetadata keys (packaging.metadata) that the upload form names otherwise.
_FORM_KEYS = {
    "platforms": "platform",
    "supported_platforms": "supported_platform",
    "license_files": "license_file",
}


class Result(enum.Enum):
    IMPORTED = "imported"
    ALREADY_THERE = "already there"


@dataclass(frozen=True)
class Source:
    """One distribution file to import, wherever its bytes are."""

    filename: str
    # Writes the file's bytes into a binary file, at most the given size;
    # OSError or UpstreamError when they can't be read.
    fill: Callable[[BinaryIO, int], None]
    # Announced by the source (an index): an identical file here is not fetched again.
    sha256: str = ""
    # When the source says the file was uploaded; None: now.
    upload_time: datetime | None = None


@dataclass
class Tally:
    """What an import run did, file by file."""

    imported: int = 0
    already_there: int = 0
    # (filename or project name, reason), in the order met.
    refused: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"imported {self.imported}, already there {self.already_there}, "
            f"refused {len(self.refused)}"
        )


class Run:
    """One import: the owner's actor, the tally, and where progress and notes go.

    ``progress``: a tqdm bar (its total grows as an index's pages are read);
    ``note``: one line for a person following along (``-v 2``).
    """

    def __init__(self, *, actor: Actor, progress, note: Callable[[str], None]):
        self.actor = actor
        self.progress = progress
        self.note = note
        self.tally = Tally()

    def add(self, source: Source) -> None:
        """Import ``source``; its refusal, if any, is recorded with its reason."""
        try:
            result = file_import(source, actor=self.actor)
        except UploadError as exc:
            self.tally.refused.append((source.filename, exc.message))
            self.note(f"{source.filename}: refused: {exc.message}")
        else:
            if result is Result.IMPORTED:
                self.tally.imported += 1
            else:
                self.tally.already_there += 1
            self.note(f"{source.filename}: {result.value}")
        self.progress.update(1)

    def refuse(self, name: str, reason: str) -> None:
        """A refusal of something that is not one file (a project of the source index)."""
        self.tally.refused.append((name, reason))
        self.note(f"{name}: refused: {reason}")


# --- One file -------------------------------------------------------------------------


def file_import(source: Source, *, actor: Actor) -> Result:
    """Import one file through the upload's pipeline; UploadError when refused."""
    if source.sha256 and _identical_exists(source.filename, sha256=source.sha256):
        return Result.ALREADY_THERE
    content = _receive(source)
    try:
        if _identical_exists(
            source.filename,
            sha256=content.sha256_digest,
            blake2_256=content.blake2_256_digest,
        ):
            # Before any check: a file that is here already needs no permission
            # to stay, whoever runs the import again.
            return Result.ALREADY_THERE
        outcome = release_file_upload(
            form=upload_form(content),
            content=content,
            token=None,
            actor=actor,
            rate_limited=False,
        )
    finally:
        content.close()
    # ALREADY_STORED: an identical file committed by someone else since the check above.
    imported = outcome is Outcome.STORED
    if imported and source.upload_time is not None:
        _keep_upload_time(source.filename, source.upload_time)
    return Result.IMPORTED if imported else Result.ALREADY_THERE


def _identical_exists(filename: str, *, sha256: str, blake2_256: str | None = None) -> bool:
    files = File.objects.filter(filename=filename, sha256_digest=sha256)
    if blake2_256 is not None:
        files = files.filter(blake2_256_digest=blake2_256)
    return files.exists()


class _Receiver:
    """A binary file to write into that feeds the upload's own handler, as a
    request body's chunks do: the same digests, temporary file and size bound."""

    def __init__(self, filename: str):
        self.handler = HashingUploadHandler()
        self.handler.new_file("content", filename, "application/octet-stream", None)
        self.size = 0

    def write(self, data: bytes) -> int:
        self.handler.receive_data_chunk(data, self.size)
        self.size += len(data)
        return len(data)


def _receive(source: Source) -> HashedUploadedFile:
    if "/" in source.filename or "\\" in source.filename or not source.filename.isprintable():
        raise UploadError("Cannot upload a file with '/', '\\' or control characters in the name.")
    receiver = _Receiver(source.filename)
    try:
        # The handler stops keeping bytes past the largest limit any project
        # has; one byte more is enough for the pipeline to refuse the file.
        source.fill(receiver, largest_upload_limit() + 1)
    except (OSError, upstream.UpstreamError) as exc:
        receiver.handler.file.close()
        raise UploadError(f"Could not be read: {exc}") from None
    content = receiver.handler.file_complete(receiver.size)
    if content.truncated:
        # Only its first bytes were kept: there is no archive to read the
        # project's name from, for the upload's own message.
        content.close()
        raise UploadError(
            f"File too large. The limit for the largest project is "
            f"{human_size(receiver.handler.limit)}. See /help/#file-size-limit for more "
            "information."
        )
    return content


def upload_form(content: HashedUploadedFile) -> MultiValueDict:
    """The form fields twine sends with ``content``: its core metadata (a
    wheel's METADATA, an sdist's PKG-INFO) field by field, and its digests."""
    try:
        dist = parse_distribution_filename(content.name)
        if dist.packagetype == File.PackageType.BDIST_WHEEL:
            label, metadata = "METADATA in the wheel", read_wheel_metadata
        else:
            label, metadata = "PKG-INFO in the sdist", read_sdist_metadata
        raw, unparsed = parse_email(metadata(content.temporary_file_path(), dist))
    except InvalidDistribution as exc:
        raise UploadError(str(exc)) from None
    if unparsed:
        # twine refuses to upload such a file; an import does not guess either.
        fields = ", ".join(repr(key) for key in sorted(unparsed))
        raise UploadError(
            f"The {label} has fields that can't be read: {fields} (unknown, repeated or "
            "not UTF-8). Fix the metadata and build the file again."
        )
    form = MultiValueDict(
        {
            "filetype": [dist.packagetype],
            "pyversion": [dist.python_version],
            "md5_digest": [content.md5_digest],
            "sha256_digest": [content.sha256_digest],
            "blake2_256_digest": [content.blake2_256_digest],
        }
    )
    for key, value in raw.items():
        if key == "project_urls":
            form.setlist(key, [f"{title}, {url}" for title, url in value.items()])
        elif key == "keywords":
            form[key] = ", ".join(value)
        elif isinstance(value, list):
            form.setlist(_FORM_KEYS.get(key, key), value)
        else:
            form[key] = value
    return form


def _keep_upload_time(filename: str, when: datetime) -> None:
    """The source's upload time for the file, and for its release when earlier
    (a release is as old as its first file)."""
    with transaction.atomic():
        file = File.objects.get(filename=filename)
        File.objects.filter(pk=file.pk).update(upload_time=when)
        Release.objects.filter(pk=file.release_id, created_at__gt=when).update(created_at=when)


# --- A directory tree ---------------------------------------------------------------


def is_distribution_name(filename: str) -> bool:
    return filename.endswith(DISTRIBUTION_SUFFIXES) and not filename.startswith(".")


def walk(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Every file under ``paths`` (files, or directories walked in name order)."""
    for path in map(Path, paths):
        if path.is_dir():
            for directory, subdirectories, filenames in os.walk(path):
                subdirectories.sort()
                for filename in sorted(filenames):
                    yield Path(directory, filename)
        else:
            yield path


def path_source(path: Path, *, upload_time_from_mtime: bool = False) -> Source:
    def fill(into: BinaryIO, max_bytes: int) -> None:
        with path.open("rb") as handle:
            while max_bytes > 0 and (chunk := handle.read(min(CHUNK_SIZE, max_bytes))):
                into.write(chunk)
                max_bytes -= len(chunk)

    upload_time = None
    if upload_time_from_mtime:
        upload_time = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    return Source(filename=path.name, fill=fill, upload_time=upload_time)


def paths_import(
    run: Run, paths: Iterable[str | os.PathLike], *, upload_time_from_mtime: bool = False
) -> Tally:
    """Import every distribution file found under ``paths``."""
    found = []
    for path in walk(paths):
        if is_distribution_name(path.name):
            found.append(path)
        else:
            run.note(f"{path}: skipped, not a wheel or an sdist")
    run.progress.total = len(found)
    run.progress.refresh()
    for path in found:
        try:
            source = path_source(path, upload_time_from_mtime=upload_time_from_mtime)
        except OSError as exc:
            run.refuse(path.name, f"Could not be read: {exc}")
            run.progress.update(1)
            continue
        run.add(source)
    return run.tally


# --- Another index ------------------------------------------------------------------


def index_client(url: str) -> upstream.Upstream:
    # No private patterns: the names a company keeps to itself are the very
    # ones it moves in from its old index.
    return upstream.Upstream(url, timeout=INDEX_TIMEOUT, max_concurrency=1)


def link_source(client: upstream.Upstream, link: upstream.UpstreamLink) -> Source:
    def fill(into: BinaryIO, max_bytes: int) -> None:
        client.download(link.url, sha256=link.sha256, max_bytes=max_bytes, into=into)

    return Source(
        filename=link.filename, fill=fill, sha256=link.sha256, upload_time=link.upload_time
    )


def index_import(run: Run, client: upstream.Upstream, projects: Iterable[str] = ()) -> Tally:
    """Copy ``projects`` (every project of the index when empty) from the
    index ``client`` reads."""
    names = list(projects)
    if not names:
        try:
            names = client.project_names()
        except upstream.UpstreamError as exc:
            run.refuse(client.base_url, str(exc))
            return run.tally
    run.progress.total = 0
    for name in names:
        if not is_valid_project_name(name):
            run.refuse(name, "Not a valid project name.")
            continue
        name = canonicalize_name(name)
        try:
            page = client.project_page(name)
        except upstream.UpstreamError as exc:
            run.refuse(name, str(exc))
            continue
        if page is None:
            run.refuse(name, f"The index {client.base_url} has no project {name!r}.")
            continue
        run.progress.total += len(page.links)
        run.progress.refresh()
        for link in page.links:
            run.add(link_source(client, link))
        _carry_yanks(run, name, page.links)
    return run.tally


def _version(filename: str) -> Version:
    # A page's links are wheels and sdists whose names packaging reads
    # (packages.upstream leaves out the rest).
    if filename.endswith(".whl"):
        return parse_wheel_filename(filename)[1]
    return parse_sdist_filename(filename)[1]


def _release_version(filename: str) -> str:
    return canonicalize_version(_version(filename))


def _shown_version(filename: str) -> str:
    return str(_version(filename))


def _carry_yanks(run: Run, name: str, links: list[upstream.UpstreamLink]) -> None:
    """Yank here each release whose every file the source has yanked. This
    index yanks whole releases (as the public index does): a release with only
    some files yanked at the source stays offered here, and the note says so."""
    releases = defaultdict(list)
    for link in links:
        releases[_release_version(link.filename)].append(link)
    for files in releases.values():
        yanked = [link for link in files if link.yanked]
        if not yanked:
            continue
        if len(yanked) < len(files):
            run.note(
                f"{name} {_shown_version(files[0].filename)}: only some of its files are "
                "yanked at the source; the release is not yanked here."
            )
            continue
        release = (
            Release.objects.filter(files__filename__in=[link.filename for link in files])
            .select_related("project")
            .first()
        )
        if release is None:  # its files were refused
            continue
        reason = next((link.yanked_reason for link in yanked if link.yanked_reason), "")
        try:
            release_yank(release=release, reason=reason, actor=run.actor)
        except ReleaseError:  # yanked already (a run before this one): as the source says
            continue
        run.note(f"{release.project.name} {release.version}: yanked, as at the source")
