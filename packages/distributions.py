"""What an uploaded distribution file is, judged from its name and its contents.

Pure functions, no database: the upload pipeline (``packages/upload.py``) calls
them in order and turns :class:`InvalidDistribution` into an HTTP 400 whose reason
phrase is the exception's message, so every message is one ASCII sentence that
tells the uploader what to change.

The archive readers only ever look at what they need: the zip central directory
and two members, or the tar headers and ``PKG-INFO``. Nothing is extracted to
disk, no member is read into memory beyond ``UPLOAD_METADATA_MAX_BYTES``, and
every archive is held to the ``UPLOAD_ARCHIVE_*`` caps (members, header size,
uncompressed size, compression ratio) before it can cost more than that.
"""

import email.parser
import email.policy
import fnmatch
import gzip
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
from packaging.tags import Tag, parse_tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from packages.models import File
from packages.names import is_valid_project_name

MAX_FILENAME_LENGTH = File._meta.get_field("filename").max_length
# The python tag(s) of a wheel are stored in File.python_version.
MAX_PYTHON_TAG_LENGTH = File._meta.get_field("python_version").max_length

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
    python_tag = filename[: -len(".whl")].split("-")[-3]
    if len(python_tag) > MAX_PYTHON_TAG_LENGTH:
        raise InvalidDistribution(
            f"Invalid wheel filename {_quote(filename, 40)}: its python tag is "
            f"{len(python_tag)} characters long; use at most {MAX_PYTHON_TAG_LENGTH}."
        )
    return DistributionFilename(
        filename=filename,
        packagetype="bdist_wheel",
        name=name,
        version=version,
        python_version=python_tag,
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
# truncated or garbled deflate stream, an encrypted member (RuntimeError),
# headers that do not unpack (struct.error, ValueError).
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
# Installers only promise to read these two (binary distribution format spec),
# and the public index refuses the others.
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}

# Zip records (APPNOTE.TXT 4.3.12-4.3.16), read before zipfile sees the file.
_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIGNATURE = b"PK\x05\x06"
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_EOCD64_SIGNATURE = b"PK\x06\x06"
_CENTRAL_ENTRY = struct.Struct("<4s4B4HL2L5H2L")
_CENTRAL_ENTRY_SIGNATURE = b"PK\x01\x02"


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


def _too_many_members() -> InvalidDistribution:
    limit = settings.UPLOAD_ARCHIVE_MAX_MEMBERS
    return InvalidDistribution(
        f"Invalid distribution file: it has more than {limit} members, "
        f"the limit (UPLOAD_ARCHIVE_MAX_MEMBERS)."
    )


def _check_expanded_size(expanded: int, compressed: int) -> None:
    """The archive's uncompressed size against the total and ratio caps."""
    limit = settings.UPLOAD_ARCHIVE_MAX_UNCOMPRESSED_BYTES
    if expanded > limit:
        raise InvalidDistribution(
            f"Invalid distribution file: it expands to more than {limit} bytes, "
            f"the limit (UPLOAD_ARCHIVE_MAX_UNCOMPRESSED_BYTES)."
        )
    ratio = settings.UPLOAD_ARCHIVE_MAX_RATIO
    # Small archives may compress well (a wheel of empty __init__.py files);
    # only past this size is a high ratio the sign of a decompression bomb.
    if expanded > settings.UPLOAD_ARCHIVE_RATIO_MIN_BYTES and expanded > ratio * compressed:
        raise InvalidDistribution(
            f"Invalid distribution file: it exceeds the compression ratio of {ratio} "
            f"(UPLOAD_ARCHIVE_MAX_RATIO), like a decompression bomb."
        )


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


def _central_directory(handle) -> tuple[int, int, int]:
    """(declared entries, start, size) of the zip's central directory, read from
    its end records as zipfile will read them."""
    end = handle.seek(0, os.SEEK_END)
    tail_size = min(end, _EOCD.size + 0xFFFF)  # the record, then a comment of <64 KiB
    handle.seek(end - tail_size)
    tail = handle.read(tail_size)
    found = tail.rfind(_EOCD_SIGNATURE)
    if found < 0 or found + _EOCD.size > len(tail):
        raise zipfile.BadZipFile
    record = end - tail_size + found
    *_, entries, size, _offset, _comment = _EOCD.unpack_from(tail, found)
    if record >= _EOCD64_LOCATOR.size + _EOCD64.size:
        handle.seek(record - _EOCD64_LOCATOR.size)
        locator = _EOCD64_LOCATOR.unpack(handle.read(_EOCD64_LOCATOR.size))
        if locator[0] == _EOCD64_LOCATOR_SIGNATURE:
            # Zip64: past 65,535 entries or 4 GiB the real numbers are here.
            record -= _EOCD64_LOCATOR.size + _EOCD64.size
            handle.seek(record)
            zip64 = _EOCD64.unpack(handle.read(_EOCD64.size))
            if zip64[0] != _EOCD64_SIGNATURE:
                raise zipfile.BadZipFile
            entries, size = zip64[7], zip64[8]
    if size > record:
        raise zipfile.BadZipFile
    return entries, record - size, size


def _check_zip_member_count(handle) -> None:
    """At most UPLOAD_ARCHIVE_MAX_MEMBERS entries, counted before zipfile builds
    an object for each of them (1.1 million empty entries took 743 MiB).

    The declared count is checked first; then the entries are walked one
    header at a time, because zipfile reads entries until the directory's
    declared size is used up, whatever the count says.
    """
    limit = settings.UPLOAD_ARCHIVE_MAX_MEMBERS
    declared, start, size = _central_directory(handle)
    if declared > limit:
        raise _too_many_members()
    handle.seek(start)
    position, count = 0, 0
    while position < size:
        # A short read (the directory runs off the end) raises struct.error.
        fields = _CENTRAL_ENTRY.unpack(handle.read(_CENTRAL_ENTRY.size))
        if fields[0] != _CENTRAL_ENTRY_SIGNATURE:
            raise zipfile.BadZipFile
        count += 1
        if count > limit:
            raise _too_many_members()
        variable = fields[12] + fields[13] + fields[14]  # name, extra field, comment
        handle.seek(variable, os.SEEK_CUR)
        position += _CENTRAL_ENTRY.size + variable


def _check_zip_contents(archive: zipfile.ZipFile, compressed: int) -> None:
    infos = archive.infolist()
    _check_zip_names([info.filename for info in infos])
    for info in infos:
        if info.compress_type not in _ZIP_METHODS:
            raise InvalidDistribution(
                f"Invalid distribution file: {_quote(info.filename)} is compressed with "
                f"method {info.compress_type}; use stored or deflate."
            )
    # The declared sizes: what an installer will write out. Only METADATA and
    # WHEEL are ever decompressed here, and those reads are bounded anyway.
    _check_expanded_size(sum(info.file_size for info in infos), compressed)


def _open_zip(path) -> tuple:
    """The open file and the zip read from it (the caller closes both), after
    the archive-wide checks."""
    # Opening the file is outside the error handling on purpose: a missing temp
    # file is our fault, not the uploader's.
    handle = open(path, "rb")  # noqa: SIM115 - closed by the caller
    try:
        _check_zip_member_count(handle)
        handle.seek(0)
        archive = zipfile.ZipFile(handle)
    except InvalidDistribution:
        handle.close()
        raise
    except _ZIP_ERRORS:
        handle.close()
        raise InvalidDistribution(_NOT_A_ZIP) from None
    try:
        _check_zip_contents(archive, os.fstat(handle.fileno()).st_size)
    except InvalidDistribution:
        archive.close()
        handle.close()
        raise
    return handle, archive


def _wheel_tags(data: bytes, parsed: DistributionFilename) -> None:
    """The ``Tag`` lines of WHEEL must be the filename's tags (installers pick
    a wheel by its filename, then some of them trust WHEEL)."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise InvalidDistribution(
            f"The WHEEL file of {_quote(parsed.filename)} is not valid UTF-8."
        ) from None
    headers = email.parser.Parser(policy=email.policy.compat32).parsestr(text, headersonly=True)
    lines = [value.strip() for value in headers.get_all("Tag") or []]
    if not lines:
        # Never written without tags by any known builder; nothing disagrees.
        return
    declared: set[Tag] = set()
    for line in lines:
        try:
            declared |= parse_tag(line)
        except ValueError:
            declared.add(Tag(line, "?", "?"))
    if declared != parsed.tags:
        listed = ", ".join(sorted(_quote(line, 60) for line in lines)[:5])
        raise InvalidDistribution(
            f"The WHEEL file of {_quote(parsed.filename)} declares the tags {listed}, "
            "which do not match the tags in the filename."
        )


def read_wheel_metadata(path: str | os.PathLike, parsed: DistributionFilename) -> bytes:
    """The raw bytes of ``<name>-<version>.dist-info/METADATA`` in the wheel at *path*.

    Like pip, a wheel must have exactly one top-level ``.dist-info`` directory,
    and its name must match the filename's name and version after normalization.
    It must hold METADATA and WHEEL, and WHEEL's tags must be the filename's.
    """
    handle, archive = _open_zip(path)
    with handle, archive:
        try:
            names = archive.namelist()
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
            ours = [d for d in dist_infos if _names_this_release(d, ".dist-info", parsed)]
            name_part, version_part = parsed.stem.split("-")[:2]
            for required in ("METADATA", "WHEEL"):
                if not any(f"{d}/{required}" in names for d in ours):
                    raise InvalidDistribution(
                        f"Wheel {_quote(parsed.filename)} does not contain the required "
                        f"{required} file: {name_part}-{version_part}.dist-info/{required}."
                    )
            metadata = _read_zip_member(archive, f"{ours[0]}/METADATA", "METADATA")
            _wheel_tags(_read_zip_member(archive, f"{ours[0]}/WHEEL", "WHEEL"), parsed)
            return metadata
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
    so legacy "Foo.Bar-1.0/" in "Foo.Bar-1.0.tar.gz" is fine). Every member
    header is checked; member contents are skipped, never held in memory.
    """
    if parsed.filename.endswith(".zip"):
        return _read_zip_sdist_metadata(path, parsed)
    return _read_tar_sdist_metadata(path, parsed)


def _read_zip_sdist_metadata(path, parsed: DistributionFilename) -> bytes:
    handle, archive = _open_zip(path)
    with handle, archive:
        try:
            names = archive.namelist()
            for name in names:
                _check_sdist_top(name, parsed)
            found = [name for name in names if _is_pkg_info(name)]
            if not found:
                raise _no_pkg_info(parsed)
            return _read_zip_member(archive, found[0], "PKG-INFO")
        except _ZIP_ERRORS:
            raise InvalidDistribution(_NOT_A_ZIP) from None


class _BoundedReads:
    """The decompressed tar stream as tarfile sees it, refusing any single read
    larger than ``limit`` before it is made.

    tarfile reads a pax header, or a GNU long name, whole, with the size the
    header declares: a 1 MB upload declaring a 1 GiB pax header took a worker
    to 1.1 GiB. Member data is skipped by seeking (gzip decompresses and drops
    it in small chunks), so only headers and PKG-INFO are ever read.
    """

    def __init__(self, stream, limit: int):
        self._stream = stream
        self.limit = limit

    def read(self, size: int) -> bytes:
        if size > self.limit:
            raise InvalidDistribution(
                f"Invalid distribution file: a tar header declares {size} bytes, more than "
                f"the limit of {self.limit} (UPLOAD_ARCHIVE_MAX_HEADER_BYTES)."
            )
        return self._stream.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()


def _read_tar_sdist_metadata(path, parsed: DistributionFilename) -> bytes:
    # As for zips, a missing temp file is a server error, not a refusal.
    with open(path, "rb") as handle:
        compressed = os.fstat(handle.fileno()).st_size
        try:
            with gzip.GzipFile(fileobj=handle, mode="rb") as unzipped:
                stream = _BoundedReads(unzipped, settings.UPLOAD_ARCHIVE_MAX_HEADER_BYTES)
                with tarfile.open(fileobj=stream, mode="r:") as archive:
                    return _walk_tar(archive, stream, parsed, compressed)
        except _TAR_ERRORS:
            raise InvalidDistribution(_NOT_A_TAR_GZ) from None


def _walk_tar(archive: tarfile.TarFile, stream: _BoundedReads, parsed, compressed: int) -> bytes:
    metadata = None
    count = 0
    while (member := archive.next()) is not None:
        count += 1
        if count > settings.UPLOAD_ARCHIVE_MAX_MEMBERS:
            raise _too_many_members()
        # Where this member's data ends in the uncompressed stream: checked
        # before tarfile seeks there for the next header.
        _check_expanded_size(member.offset_data + member.size, compressed)
        _check_sdist_top(member.name, parsed)
        if _is_pkg_info(member.name):
            if metadata is not None:
                raise InvalidDistribution(
                    f"Invalid distribution file: the archive contains "
                    f"{_quote(member.name)} more than once."
                )
            metadata = _read_tar_member(archive, member, stream)
        # tarfile keeps every member it has read; only the count matters here.
        archive.members.clear()
    if metadata is None:
        raise _no_pkg_info(parsed)
    return metadata


def _read_tar_member(
    archive: tarfile.TarFile, member: tarfile.TarInfo, stream: _BoundedReads
) -> bytes:
    # A symlink or hard link would make us read some other member (or nothing).
    if not member.isreg():
        raise InvalidDistribution("PKG-INFO must be a regular file, not a link or a device.")
    if member.size > _metadata_limit():
        raise _too_large("PKG-INFO")
    header_limit = stream.limit
    stream.limit = max(header_limit, member.size)
    try:
        return _read_bounded(archive.extractfile(member), "PKG-INFO")
    finally:
        stream.limit = header_limit


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
