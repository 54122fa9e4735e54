"""What the read surfaces (the project page, the JSON API, XML-RPC) show of a
project mirrored from the upstream index (packages.mirror).

A name is mirrored only when no local project has it (quarantined or not: a
local name is local, full stop), the mirror is on, the upstream has the name
and at least one of its files may be offered (``mirror.offered_files``: not
blocked, quarantined or too young). The mirrored rows carry no core metadata
beyond what a simple page gives (filename, digest, requires-python, yank, size,
upload time), so a mirrored project is shown as versions and files only.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from django.conf import settings
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from . import mirror, surrogate
from .models import File, Project, UpstreamFile, UpstreamProject
from .names import normalize_project_name
from .releases import latest_of_ordered

_MAX_VERSION_LENGTH = UpstreamFile._meta.get_field("version").max_length


def packagetype(filename: str) -> str:
    """What the public index calls the file's kind: the mirror keeps wheels and
    sdists only (packages.upstream.is_distribution)."""
    if filename.endswith(".whl"):
        return File.PackageType.BDIST_WHEEL
    return File.PackageType.SDIST


def python_version(filename: str) -> str:
    """The wheel's python tag, as for a local file; "source" for an sdist."""
    if not filename.endswith(".whl"):
        return "source"
    # name-version(-build)?-python-abi-platform.whl
    return filename[: -len(".whl")].split("-")[-3]


def _display_version(filename: str, canonical: str) -> str:
    """The version as the filename spells it, normalized (1.0, not the
    canonical 1): what people and the upstream's JSON call the release."""
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return canonical


def _sort_key(version: str):
    try:
        return (1, Version(version))
    except InvalidVersion:
        # Rows written outside packages.mirror could hold anything; they sort first.
        return (0, version)


@dataclass
class MirroredVersion:
    """One version of a mirrored project and its offered files (by filename)."""

    version: str
    canonical_version: str
    files: list[UpstreamFile]

    @cached_property
    def is_prerelease(self) -> bool:
        key = _sort_key(self.version)
        return key[0] == 1 and key[1].is_prerelease

    @property
    def yanked(self) -> bool:
        # PEP 592 yanks files; a version counts as yanked when all of its are.
        return all(file.yanked for file in self.files)

    @property
    def yanked_reason(self) -> str:
        return next((file.yanked_reason for file in self.files if file.yanked_reason), "")

    @property
    def requires_python(self) -> str:
        """The first (by filename) its files declare; they rarely differ."""
        return next((file.requires_python for file in self.files if file.requires_python), "")

    @property
    def upload_time(self) -> datetime:
        """When its first file was published upstream (or first seen here)."""
        return min(file.published_at for file in self.files)


@dataclass
class Mirrored:
    """A mirrored project as the surfaces show it."""

    project: UpstreamProject
    versions: list[MirroredVersion]  # newest first (PEP 440)

    @property
    def name(self) -> str:
        # The upstream's pages give the normalized name only.
        return self.project.normalized_name

    @property
    def upstream_url(self) -> str:
        return settings.UPSTREAM_INDEX_URL

    @property
    def last_checked(self) -> datetime | None:
        return self.project.checked_at

    @property
    def last_serial(self) -> int | None:
        """The upstream's serial of the project, when its pages give one."""
        return self.project.upstream_serial

    @cached_property
    def latest(self) -> MirroredVersion:
        """As for a local project (packages.releases.pick_latest): the newest
        version neither yanked nor a pre-release, else the newest not yanked,
        else the newest."""
        return latest_of_ordered(self.versions)

    def find(self, version: str) -> MirroredVersion | None:
        """The version ``version`` stands for (1.0 finds 1)."""
        if len(version) > _MAX_VERSION_LENGTH:
            # No file names it; and packaging would turn thousands of digits
            # into an int, which Python refuses (ValueError).
            return None
        canonical = canonicalize_version(version)
        return next((v for v in self.versions if v.canonical_version == canonical), None)


def group_versions(files: list[UpstreamFile]) -> list[MirroredVersion]:
    """The files by version, newest version first, each version's files by filename."""
    by_version: dict[str, list[UpstreamFile]] = {}
    for file in sorted(files, key=lambda file: file.filename):
        # Canonical, so 1.0 and 1.0.0 of two files' names are one version.
        by_version.setdefault(canonicalize_version(file.version), []).append(file)
    versions = [
        MirroredVersion(
            version=_display_version(group[0].filename, canonical),
            canonical_version=canonical,
            files=group,
        )
        for canonical, group in by_version.items()
    ]
    return sorted(versions, key=lambda v: _sort_key(v.canonical_version), reverse=True)


def lookup(name: str, *, fetch: bool) -> Mirrored | None:
    """The mirrored project ``name`` stands for, or None: a local name, the
    mirror off, a name the upstream lacks, quarantined, or with nothing to offer.

    ``fetch``: ask the upstream (packages.mirror.refresh, bounded in time)
    when no copy of the name exists yet. A copy that exists is shown as it
    is, however old, with when it was last checked: reading a page or an API
    answer does not by itself send a request upstream (the simple API, which
    installers read, revalidates it).
    """
    normalized = normalize_project_name(name)
    if not mirror.enabled() or Project.objects.filter(normalized_name=normalized).exists():
        return None
    project = UpstreamProject.objects.filter(normalized_name=normalized).first()
    if project is None and fetch:
        project = mirror.refresh(normalized)
    if project is None:
        return None
    # Nothing of a project gone upstream or quarantined is offered.
    files = mirror.offered_files(project)
    if not files:
        return None
    return Mirrored(project=project, versions=group_versions(files))


def cap_edge_lifetime(headers) -> None:
    """Keep an answer about a mirrored project at an edge no longer than the
    copy is fresh (as the simple API's, packages.views.simple): no purge
    follows a change upstream, or a file coming of age, until a request here
    sees it. ``headers``: a response or a dict of its headers."""
    surrogate.cap_edge_lifetime(headers, settings.UPSTREAM_FRESHNESS)
