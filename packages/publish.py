"""The rows a new file adds, as one change: its release when it is the first
file of that version, the file, its filename registered forever, the project's
grown total, their journal entries (serials) and events.

The upload's commit (``packages.upload``) writes them this way once its checks
have passed, inside its transaction and under its locks; the tests' factories
write them the same way, so a file they make is what an upload leaves.
"""

import hashlib
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F

from accounts.events import Actor, new_event, record_events

from . import descriptions
from .journal import JournalLine, journal_append_many
from .metadata import ReleaseMetadata
from .models import File, FileRegistry, Project, Release


@dataclass
class Writes:
    """The journal entries and events of one change, written together at its
    end: two INSERTs instead of one per entry (and an UPDATE per serial)."""

    # Who uploads, from where: the events and the journal record it.
    actor: Actor
    journal: list[JournalLine] = field(default_factory=list)
    events: list = field(default_factory=list)

    def event(self, tag: str, project: Project, **details) -> None:
        self.events.append(new_event(tag, project=project, actor=self.actor, **details))

    def write(self, project: Project) -> None:
        record_events(self.events)
        # Last: the journal's lock is held until the commit.
        journal_append_many(project=project, entries=self.journal, actor=self.actor)

    @property
    def user(self):
        return self.actor.user


def release_get_or_create(
    *, project: Project, metadata: ReleaseMetadata, writes: Writes
) -> Release:
    """The project's release of ``metadata``'s version; a new one takes the
    metadata as its first file declares it."""
    release = Release.objects.filter(
        project=project, canonical_version=metadata.canonical_version
    ).first()
    if release is not None:
        return release
    release = Release.objects.create(
        project=project,
        version=str(metadata.version),
        canonical_version=metadata.canonical_version,
        is_prerelease=metadata.version.is_prerelease,
        uploader=writes.user,
        metadata_version=metadata.metadata_version,
        # Rendered, and the project's search document updated, after the
        # commit (packages.descriptions), even for an empty description.
        description_renderer=descriptions.PENDING,
        **metadata.fields,
    )
    transaction.on_commit(lambda: descriptions.after_commit.submit(release.pk))
    writes.journal.append(JournalLine("new release", release.version))
    writes.event("project:release:created", project, version=release.version)
    return release


@dataclass(frozen=True)
class NewFile:
    """A distribution already stored at ``path``, with its digests."""

    filename: str
    packagetype: str
    python_version: str
    size: int
    md5_digest: str
    sha256_digest: str
    blake2_256_digest: str
    path: str
    # A wheel's METADATA, served beside it (PEP 658); empty for an sdist.
    core_metadata: bytes = b""


def release_file_add(
    *,
    project: Project,
    release: Release,
    file: NewFile,
    writes: Writes,
    token: str | None,
    publisher: str | None = None,
) -> File:
    """Add ``file`` to ``release`` of ``project``; ``token``: the display prefix
    of the API token that uploaded it, ``publisher`` the trusted publisher that
    minted it, if one did, for the project's history."""
    metadata_sha256, metadata_blake2 = metadata_digests(file.core_metadata)
    row = File.objects.create(
        release=release,
        filename=file.filename,
        packagetype=file.packagetype,
        python_version=file.python_version,
        size=file.size,
        md5_digest=file.md5_digest,
        sha256_digest=file.sha256_digest,
        blake2_256_digest=file.blake2_256_digest,
        path=file.path,
        metadata_sha256_digest=metadata_sha256,
        metadata_blake2_256_digest=metadata_blake2,
        uploader=writes.user,
    )
    FileRegistry.objects.create(filename=file.filename)
    Project.objects.filter(pk=project.pk).update(total_size=F("total_size") + file.size)
    writes.event(
        "project:file:uploaded",
        project,
        version=release.version,
        filename=file.filename,
        token=token,
        **({"publisher": publisher} if publisher else {}),
    )
    writes.journal.append(
        JournalLine(
            f"add {file.python_version} file {file.filename}", release.version, file.filename
        )
    )
    return row


def metadata_digests(core_metadata: bytes) -> tuple[str, str]:
    """The sha256 and blake2b-256 of a file's PEP 658 metadata, as its row
    records them: empty for a file without (an sdist)."""
    if not core_metadata:
        return "", ""
    return (
        hashlib.sha256(core_metadata).hexdigest(),
        hashlib.blake2b(core_metadata, digest_size=32).hexdigest(),
    )
