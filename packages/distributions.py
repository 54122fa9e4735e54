"""What an uploaded distribution file is, judged from its name and its contents.

Pure functions, no database: the upload pipeline (``packages/upload.py``) calls
them in order and turns :class:`InvalidDistribution` into an HTTP 400 whose reason
phrase is the exception's message, so every message is one ASCII sentence that
tells the uploader what to change.

The archive readers only ever look at what they need: the zip central directory
and one member, or the tar members up to ``PKG-INFO``. Nothing is extracted to
disk and no member is read into memory beyond ``UPLOAD_METADATA_MAX_BYTES``.
"""

import fnmatch
import os
import re
import stat
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass

from django.conf import settings
from packaging.metadata import parse_email
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from packages.names import is_valid_project_name

MAX_FILENAME_LENGTH = 255
# A tar.gz is a stream: finding PKG-INFO means walking the member headers in
# order. This caps the walk for archives built to make that walk expensive.
SDIST_MAX_MEMBERS_SCANNED = 100_000

INVALID_EXTENSION = (
    "Invalid file extension: Use .tar.gz, .whl or .zip extension. "
    "See https://www.python.org/dev/peps/pep-0527 and "
    "https://peps.python.org/pep-0625/ for more information."
)
# "foo-1.0.whl.zip" ends in ".zip" but is not a zip sdist; say so rather than
# complaining about a version of "1.0.whl".
_INNER_EXTENSIONS = (".whl", ".tar", ".tar.gz", ".tgz", ".zip", ".egg", ".exe", ".msi")

# Platform tags the public index accepts (see its upload code and PEPs 513, 571,
# 599, 600, 656, 730, 738). Anything else is a wheel built for a platform where
# an installer cannot tell whether it would run, e.g. plain "linux_x86_64".
_LINUX_ARCHES = r"(x86_64|i686|aarch64|armv7l|ppc64|ppc64le|s390x|riscv64|loongarch64)"
_MACOS_ARCHES = r"(x86_64|arm64|universal|universal2|intel|fat|fat3|fat64|i386|ppc|ppc64|x86_64h)"
_PLATFORM_PATTERNS = [
    r"any",
    r"win32|win_amd64|win_arm64|win_ia64",
    r"manylinux(1|2010)_(x86_64|i686)",
    r"manylinux2014_(x86_64|i686|aarch64|armv7l|ppc64|ppc64le|s390x)",
    rf"manylinux_[0-9]+_[0-9]+_{_LINUX_ARCHES}",
    rf"musllinux_[0-9]+_[0-9]+_{_LINUX_ARCHES}",
    rf"macosx_[0-9]+_[0-9]+_{_MACOS_ARCHES}",
    # Raspberry Pi wheels (piwheels); the public index has always taken them.
    r"linux_(armv6l|armv7l)",
    r"ios_[0-9]+_[0-9]+_(arm64|x86_64)_(iphoneos|iphonesimulator)",
    r"android_[0-9]+_(armeabi_v7a|arm64_v8a|x86|x86_64)",
]
# re.ASCII so that [0-9] and friends never meet a Unicode digit.
_ALLOWED_PLATFORM = re.compile("|".join(f"(?:{p})" for p in _PLATFORM_PATTERNS), re.ASCII)

_EXTENSION = re.compile(r"(\.whl|\.tar\.gz|\.zip)\Z")
_METADATA_FILE = {"wheel": "METADATA", "sdist": "PKG-INFO"}


class InvalidDistribution(Exception):
    """Refusal with a message a person can act on (it becomes the HTTP 400 reason phrase)."""


@dataclass(frozen=True)
class DistributionFilename:
    filename: str
    packagetype: str  # "bdist_wheel" or "sdist"
    name: str  # canonical (PEP 503 normalized) project name from the filename
    version: Version
    python_version: str  # wheel: python tag(s) as in the filename; sdist: "source"
    tags: frozenset[Tag]  # packaging.tags.Tag set for wheels, empty for sdists

    @property
    def stem(self) -> str:
        """The filename without its extension."""
        return _EXTENSION.sub("", self.filename)


def _quote(value: str, limit: int = 120) -> str:
    """A user-supplied string for a message: quoted, ASCII-only, bounded."""
    if len(value) > limit:
        value = value[:limit] + "..."
    return ascii(value)


# --- filenames ------------------------------------------------------------------


def parse_distribution_filename(filename: str) -> DistributionFilename:
    """Parse an uploaded file's name as a wheel (PEP 427) or an sdist (PEP 625).

    Only ``.whl``, ``.tar.gz`` and ``.zip`` are accepted: eggs, installers and the
    other archive formats were retired by PEP 527.
    """
    if len(filename) > MAX_FILENAME_LENGTH:
        raise InvalidDistribution(
            f"Filename {_quote(filename, 40)} is too long: "
            f"use at most {MAX_FILENAME_LENGTH} characters."
        )
    if not filename.isascii() or not filename.isprintable():
        raise InvalidDistribution(
            f"Filename {_quote(filename)} must contain only printable ASCII characters."
        )
    if "/" in filename or "\\" in filename:
        raise InvalidDistribution(f"Filename {_quote(filename)} must not contain a path separator.")
    if filename.endswith(".whl"):
        return _parse_wheel_filename(filename)
    for extension in (".tar.gz", ".zip"):
        if filename.endswith(extension) and not filename[: -len(extension)].endswith(
            _INNER_EXTENSIONS
        ):
            return _parse_sdist_filename(filename)
    raise InvalidDistribution(INVALID_EXTENSION)


def _parse_wheel_filename(filename: str) -> DistributionFilename:
    try:
        name, version, _build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        # packaging says "Invalid wheel filename (wrong number of parts): ..." or
        # "Invalid project name: ..."; keep only the reason, in our own sentence.
        text = str(exc)
        found = re.search(r"\(([^)]*)\)", text)
        reason = found.group(1) if found else text.partition(":")[0].lower()
        raise InvalidDistribution(
            f"Invalid wheel filename {_quote(filename)}: {reason}. See "
            "https://packaging.python.org/specifications/binary-distribution-format/ "
            "for the format."
        ) from None
    return DistributionFilename(
        filename=filename,
        packagetype="bdist_wheel",
        name=name,
        version=version,
        python_version=filename[: -len(".whl")].split("-")[-3],
        tags=frozenset(tags),
    )


def _parse_sdist_filename(filename: str) -> DistributionFilename:
    invalid = InvalidDistribution(
        f"Invalid source distribution filename {_quote(filename)}: use "
        "'<name>-<version>.tar.gz' with the project name and a PEP 440 version. "
        "See https://peps.python.org/pep-0625/ for more information."
    )
    try:
        name, version = parse_sdist_filename(filename)
    except InvalidSdistFilename:
        raise invalid from None
    # packaging only canonicalizes the name part; it must also be a PEP 508 name.
    name_part = filename.rpartition("-")[0]
    if not is_valid_project_name(name_part):
        raise invalid
    return DistributionFilename(
        filename=filename,
        packagetype="sdist",
        name=name,
        version=version,
        python_version="source",
        tags=frozenset(),
    )


def check_filename_matches(
    parsed: DistributionFilename, *, project_name: str, version: Version
) -> None:
    """The filename must name the project and the version being uploaded.

    Names compare after PEP 503 normalization, versions as PEP 440 versions. PEP
    625 wants sdist names written normalized with underscores ("foo_bar-1.0"),
    but, like the public index, we still accept legacy spellings ("Foo.Bar-1.0",
    "foo-bar-1.0") as long as they normalize to the project's name: older build
    tools produce them and refusing them would strand those projects.
    """
    expected = canonicalize_name(project_name)
    if parsed.name != expected:
        prefix = expected.replace("-", "_")
        raise InvalidDistribution(
            f"Start filename for {_quote(project_name)} with {_quote(prefix)}."
        )
    if parsed.version != version:
        raise InvalidDistribution(
            f"Version in filename should be {_quote(str(version))} "
            f"not {_quote(str(parsed.version))}."
        )


def is_allowed_platform(platform: str) -> bool:
    """Whether a wheel platform tag is one installers can match to a real system."""
    if _ALLOWED_PLATFORM.fullmatch(platform):
        return True
    # fnmatchcase, not fnmatch: the latter folds case on Windows only.
    return any(fnmatch.fnmatchcase(platform, p) for p in settings.WHEEL_EXTRA_PLATFORMS)


def check_wheel_platforms(parsed: DistributionFilename) -> None:
    """Every platform tag of a wheel must be on the allow-list; sdists pass."""
    # Sorted so that a wheel with several bad tags always gets the same answer.
    for platform in sorted({tag.platform for tag in parsed.tags}):
        if not is_allowed_platform(platform):
            raise InvalidDistribution(
                f"Binary wheel {_quote(parsed.filename)} has an unsupported "
                f"platform tag {_quote(platform)}."
            )


# --- archive contents -------------------------------------------------------------

# What zipfile raises on a damaged archive or member, besides BadZipFile: a
# truncated or garbled deflate/bzip2/lzma stream, an encrypted member
# (RuntimeError), an unknown compression method (NotImplementedError), headers
# that do not unpack (struct.error, ValueError).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,
    NotImplementedError,
)
_TAR_ERRORS = (tarfile.TarError, zlib.error, EOFError, OSError, ValueError)
_NOT_A_ZIP = "Invalid distribution file: not a valid zip archive."
_NOT_A_TAR_GZ = "Invalid distribution file: not a valid gzip-compressed tar archive."


def _metadata_limit() -> int:
    return settings.UPLOAD_METADATA_MAX_BYTES


def _too_large(member: str) -> InvalidDistribution:
    return InvalidDistribution(f"{member} is larger than {_metadata_limit()} bytes.")


def _read_bounded(stream, member: str) -> bytes:
    """Read a member, refusing it once it passes the limit.

    The caller has already refused a member whose declared size is too large;
    this read is capped anyway because a declared size is whatever the uploader
    wrote in the header.
    """
    limit = _metadata_limit()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise _too_large(member)
    return data


def _is_unsafe_path(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]


def _check_member_name(name: str) -> None:
    if _is_unsafe_path(name):
        raise InvalidDistribution(
            f"Invalid distribution file: the archive contains the unsafe path {_quote(name)}."
        )


def _check_zip_names(names: list[str]) -> None:
    """Cheap checks over the central directory only."""
    seen = set()
    for name in names:
        _check_member_name(name)
        # Two entries with one name: tools disagree on which one counts.
        if name in seen:
            raise InvalidDistribution(
                f"Invalid distribution file: the archive contains {_quote(name)} more than once."
            )
        seen.add(name)


def _names_this_release(directory: str, suffix: str, parsed: DistributionFilename) -> bool:
    """Whether "<name>-<version><suffix>" names the filename's project and version."""
    name, sep, version = directory.removesuffix(suffix).rpartition("-")
    if not sep or canonicalize_name(name) != parsed.name:
        return False
    try:
        return Version(version) == parsed.version
    except InvalidVersion:
        return False


def _read_zip_member(archive: zipfile.ZipFile, member: str, label: str) -> bytes:
    info = archive.getinfo(member)
    # Zip archives made on Unix carry the file type; a symlink's "content" is its
    # target. Archives from elsewhere carry no type (0), which we take as a file.
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if file_type and file_type != stat.S_IFREG:
        raise InvalidDistribution(f"{label} must be a regular file, not a link or a device.")
    if info.file_size > _metadata_limit():
        raise _too_large(label)
    with archive.open(info) as stream:
        return _read_bounded(stream, label)


def _open_zip(path) -> tuple:
    """The open file and the zip read from it (the caller closes both)."""
    # Opening the file is outside the error handling on purpose: a missing temp
    # file is our fault, not the uploader's.
    handle = open(path, "rb")  # noqa: SIM115 - closed by the caller
    try:
        return handle, zipfile.ZipFile(handle)
    except _ZIP_ERRORS:
        handle.close()
        raise InvalidDistribution(_NOT_A_ZIP) from None


def read_wheel_metadata(path: str | os.PathLike, parsed: DistributionFilename) -> bytes:
    """The raw bytes of ``<name>-<version>.dist-info/METADATA`` in the wheel at *path*.

    Like pip, a wheel must have exactly one top-level ``.dist-info`` directory,
    and its name must match the filename's name and version after normalization.
    """
    handle, archive = _open_zip(path)
    with handle, archive:
        try:
            names = archive.namelist()
            _check_zip_names(names)
            dist_infos = sorted(
                {
                    name.split("/", 1)[0]
                    for name in names
                    if "/" in name and name.split("/", 1)[0].endswith(".dist-info")
                }
            )
            if len(dist_infos) > 1:
                listed = ", ".join(_quote(d) for d in dist_infos[:5])
                raise InvalidDistribution(
                    f"Wheel {_quote(parsed.filename)} must contain exactly one "
                    f".dist-info directory, not {len(dist_infos)}: {listed}."
                )
            found = [
                f"{d}/METADATA"
                for d in dist_infos
                if _names_this_release(d, ".dist-info", parsed) and f"{d}/METADATA" in names
            ]
            if not found:
                name_part, version_part = parsed.stem.split("-")[:2]
                raise InvalidDistribution(
                    f"Wheel {_quote(parsed.filename)} does not contain the required "
                    f"METADATA file: {name_part}-{version_part}.dist-info/METADATA."
                )
            return _read_zip_member(archive, found[0], "METADATA")
        except _ZIP_ERRORS:
            raise InvalidDistribution(_NOT_A_ZIP) from None


def _no_pkg_info(parsed: DistributionFilename) -> InvalidDistribution:
    return InvalidDistribution(
        f"Source distribution {_quote(parsed.filename)} does not contain PKG-INFO "
        f"in its top-level directory {_quote(parsed.stem)}."
    )


def _check_sdist_top(name: str, parsed: DistributionFilename) -> None:
    """Every member must sit in one top-level directory named after the file."""
    _check_member_name(name)
    top = name.split("/", 1)[0]
    if not _names_this_release(top, "", parsed):
        raise InvalidDistribution(
            f"Source distribution {_quote(parsed.filename)} must have a single "
            f"top-level directory named {_quote(parsed.stem)}, not {_quote(name)}."
        )


def _is_pkg_info(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and parts[1] == "PKG-INFO"


def read_sdist_metadata(path: str | os.PathLike, parsed: DistributionFilename) -> bytes:
    """The raw bytes of ``<name>-<version>/PKG-INFO`` in the sdist at *path*.

    The top-level directory must be named after the file (compared normalized,
    so legacy "Foo.Bar-1.0/" in "Foo.Bar-1.0.tar.gz" is fine). In a tar.gz only
    the members up to PKG-INFO are examined: the rest of the stream is never
    decompressed. In a zip, the whole central directory is checked (it is cheap).
    """
    if parsed.filename.endswith(".zip"):
        return _read_zip_sdist_metadata(path, parsed)
    return _read_tar_sdist_metadata(path, parsed)


def _read_zip_sdist_metadata(path, parsed: DistributionFilename) -> bytes:
    handle, archive = _open_zip(path)
    with handle, archive:
        try:
            names = archive.namelist()
            _check_zip_names(names)
            for name in names:
                _check_sdist_top(name, parsed)
            found = [name for name in names if _is_pkg_info(name)]
            if not found:
                raise _no_pkg_info(parsed)
            return _read_zip_member(archive, found[0], "PKG-INFO")
        except _ZIP_ERRORS:
            raise InvalidDistribution(_NOT_A_ZIP) from None


def _read_tar_sdist_metadata(path, parsed: DistributionFilename) -> bytes:
    # As for zips, a missing temp file is a server error, not a refusal.
    with open(path, "rb") as handle:
        try:
            with tarfile.open(fileobj=handle, mode="r:gz") as archive:
                for count, member in enumerate(archive, start=1):
                    _check_sdist_top(member.name, parsed)
                    if _is_pkg_info(member.name):
                        return _read_tar_member(archive, member)
                    if count >= SDIST_MAX_MEMBERS_SCANNED:
                        raise InvalidDistribution(
                            f"Source distribution {_quote(parsed.filename)} does not "
                            f"contain PKG-INFO within its first "
                            f"{SDIST_MAX_MEMBERS_SCANNED} files."
                        )
                raise _no_pkg_info(parsed)
        except _TAR_ERRORS:
            raise InvalidDistribution(_NOT_A_TAR_GZ) from None


def _read_tar_member(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    # A symlink or hard link would make us read some other member (or nothing).
    if not member.isreg():
        raise InvalidDistribution("PKG-INFO must be a regular file, not a link or a device.")
    if member.size > _metadata_limit():
        raise _too_large("PKG-INFO")
    return _read_bounded(archive.extractfile(member), "PKG-INFO")


# --- metadata ------------------------------------------------------------------


def check_metadata_agrees(
    metadata: bytes, *, project_name: str, version: Version, kind: str
) -> None:
    """The name and version inside the file must be the ones being uploaded.

    *kind* is "wheel" (the bytes are METADATA) or "sdist" (PKG-INFO).
    """
    label = _METADATA_FILE[kind]
    raw, unparsed = parse_email(metadata)
    for field in ("name", "version"):
        # parse_email sets aside a field that is repeated or not UTF-8.
        if field in unparsed:
            raise InvalidDistribution(
                f"The {label} in the {kind} has an unreadable {field.capitalize()} "
                "field: it must appear once and be valid UTF-8."
            )
        if not raw.get(field):
            raise InvalidDistribution(
                f"The {label} in the {kind} has no {field.capitalize()} field."
            )
    if canonicalize_name(raw["name"]) != canonicalize_name(project_name):
        raise InvalidDistribution(
            f"The {label} in the {kind} says name {_quote(raw['name'])} "
            f"but the upload says {_quote(project_name)}."
        )
    try:
        metadata_version = Version(raw["version"])
    except InvalidVersion:
        raise InvalidDistribution(
            f"The {label} in the {kind} has an invalid Version {_quote(raw['version'])}: "
            "use a PEP 440 version."
        ) from None
    if metadata_version != version:
        raise InvalidDistribution(
            f"The {label} in the {kind} says version {_quote(raw['version'])} "
            f"but the upload says {_quote(str(version))}."
        )
