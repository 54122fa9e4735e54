import gzip
import io
import stat
import struct
import tarfile
import tracemalloc
import zipfile

import pytest
from packaging.tags import Tag
from packaging.version import Version

from packages import distributions
from packages.distributions import (
    INVALID_EXTENSION,
    InvalidDistribution,
    check_filename_matches,
    check_metadata_agrees,
    check_wheel_platforms,
    parse_distribution_filename,
    read_sdist_metadata,
    read_wheel_metadata,
)
from tests.factories import core_metadata, make_sdist, make_wheel

MiB = 1024 * 1024
NOT_A_ZIP = "Invalid distribution file: not a valid zip archive."
NOT_A_TAR_GZ = "Invalid distribution file: not a valid gzip-compressed tar archive."
METADATA = core_metadata("sample-project", "1.0").encode()
WHEEL = b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def refusal(func, *args, **kwargs) -> str:
    """Run a check that must refuse, and return its message after checking that
    it can go into an HTTP reason phrase as one sentence."""
    with pytest.raises(InvalidDistribution) as excinfo:
        func(*args, **kwargs)
    message = str(excinfo.value)
    assert message.isascii()
    assert message.isprintable()
    assert message[0].isupper()
    assert message.endswith(".")
    return message


def write(tmp_path, filename: str, content: bytes):
    path = tmp_path / filename
    path.write_bytes(content)
    return path


def zip_bytes(members: dict) -> bytes:
    """A zip whose members are {name or ZipInfo: bytes}."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_gz_bytes(members: list) -> bytes:
    """A tar.gz whose members are (name, bytes) or ready-made TarInfo objects."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def with_wheel_files(members: dict) -> dict:
    """The members, with a WHEEL beside every top-level .dist-info/METADATA."""
    added = {}
    for member in members:
        name = member.filename if isinstance(member, zipfile.ZipInfo) else member
        directory, _, base = name.rpartition("/")
        if base == "METADATA" and directory.endswith(".dist-info") and "/" not in directory:
            added.setdefault(f"{directory}/WHEEL", WHEEL)
    return {**added, **members}


def wheel_path(tmp_path, members: dict, filename="sample_project-1.0-py3-none-any.whl"):
    content = zip_bytes(with_wheel_files(members))
    return write(tmp_path, filename, content), parse_distribution_filename(filename)


def sdist_path(tmp_path, members: list, filename="sample_project-1.0.tar.gz"):
    return write(tmp_path, filename, tar_gz_bytes(members)), parse_distribution_filename(filename)


# --- parse_distribution_filename ---------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "packagetype", "name", "version", "python_version", "tags"),
    [
        (
            "sample_project-1.0-py3-none-any.whl",
            "bdist_wheel",
            "sample-project",
            "1.0",
            "py3",
            {Tag("py3", "none", "any")},
        ),
        (
            "numpy-2.1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "bdist_wheel",
            "numpy",
            "2.1.0",
            "cp311",
            {
                Tag("cp311", "cp311", "manylinux_2_17_x86_64"),
                Tag("cp311", "cp311", "manylinux2014_x86_64"),
            },
        ),
        (
            "six-1.16.0-1-py2.py3-none-any.whl",
            "bdist_wheel",
            "six",
            "1.16.0",
            "py2.py3",
            {Tag("py2", "none", "any"), Tag("py3", "none", "any")},
        ),
        ("sample_project-1.0.tar.gz", "sdist", "sample-project", "1.0", "source", set()),
        # Legacy (pre PEP 625) spellings are still taken.
        (
            "Sample.Project-1.0.post1.tar.gz",
            "sdist",
            "sample-project",
            "1.0.post1",
            "source",
            set(),
        ),
        (
            "sample-project-1.0rc1+local.zip",
            "sdist",
            "sample-project",
            "1.0rc1+local",
            "source",
            set(),
        ),
    ],
)
def test_parses_valid_filenames(filename, packagetype, name, version, python_version, tags):
    parsed = parse_distribution_filename(filename)
    assert parsed.filename == filename
    assert parsed.packagetype == packagetype
    assert parsed.name == name
    assert parsed.version == Version(version)
    assert parsed.python_version == python_version
    assert parsed.tags == frozenset(tags)


@pytest.mark.parametrize(
    "filename",
    [
        "foo-1.0.egg",
        "foo-1.0-py3.11.egg",
        "foo-1.0.win-amd64.exe",
        "foo-1.0.msi",
        "foo-1.0.tar.bz2",
        "foo-1.0.tar.xz",
        "foo-1.0.tar",
        "foo-1.0.tgz",
        "foo-1.0-1.noarch.rpm",
        "foo_1.0_all.deb",
        "foo-1.0-py3-none-any.whl.zip",
        "foo-1.0.tar.gz.zip",
        "foo-1.0.tar.zip",
        "foo-1.0.TAR.GZ",
        "foo-1.0-py3-none-any.WHL",
        "foo-1.0",
    ],
)
def test_refuses_other_extensions(filename):
    assert refusal(parse_distribution_filename, filename) == INVALID_EXTENSION


@pytest.mark.parametrize(
    ("filename", "reason"),
    [
        ("foo-1.0.whl", "Invalid wheel filename 'foo-1.0.whl': wrong number of parts."),
        (
            "foo-1.0-a-b-py3-none-any.whl",
            "Invalid wheel filename 'foo-1.0-a-b-py3-none-any.whl': wrong number of parts.",
        ),
        (
            "foo-banana-py3-none-any.whl",
            "Invalid wheel filename 'foo-banana-py3-none-any.whl': invalid version.",
        ),
        (
            "foo-1.0-x1-py3-none-any.whl",
            "Invalid wheel filename 'foo-1.0-x1-py3-none-any.whl': invalid build number.",
        ),
        (
            "foo__bar-1.0-py3-none-any.whl",
            "Invalid wheel filename 'foo__bar-1.0-py3-none-any.whl': invalid project name.",
        ),
    ],
)
def test_refuses_invalid_wheel_filenames(filename, reason):
    message = refusal(parse_distribution_filename, filename)
    assert message.startswith(reason[:-1])
    assert "binary-distribution-format" in message


@pytest.mark.parametrize(
    "filename",
    [
        "foo.tar.gz",  # no version
        "foo-banana.tar.gz",  # not PEP 440
        "-1.0.tar.gz",  # empty name
        "foo bar-1.0.tar.gz",  # not a PEP 508 name
        "-foo-1.0.zip",
        "foo.-1.0.zip",
    ],
)
def test_refuses_invalid_sdist_filenames(filename):
    message = refusal(parse_distribution_filename, filename)
    assert message.startswith(f"Invalid source distribution filename '{filename}': ")
    assert "pep-0625" in message


def test_sdist_filename_splits_on_the_last_dash():
    # PEP 440 versions have no dashes, so "foo-1.0-1" is project "foo-1.0" version
    # 1: a valid filename, which check_filename_matches then refuses for "foo".
    parsed = parse_distribution_filename("foo-1.0-1.tar.gz")
    assert (parsed.name, parsed.version) == ("foo-1-0", Version("1"))
    message = refusal(check_filename_matches, parsed, project_name="foo", version=Version("1"))
    assert message == "Start filename for 'foo' with 'foo'."


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("../foo-1.0.tar.gz", "Filename '../foo-1.0.tar.gz' must not contain a path separator."),
        ("dir/foo-1.0.tar.gz", "Filename 'dir/foo-1.0.tar.gz' must not contain a path separator."),
        (
            "c:\\x\\foo-1.0.tar.gz",
            "Filename 'c:\\\\x\\\\foo-1.0.tar.gz' must not contain a path separator.",
        ),
        (
            "foo\x00-1.0.tar.gz",
            "Filename 'foo\\x00-1.0.tar.gz' must contain only printable ASCII characters.",
        ),
        (
            "foo-1.0.tar.gz\n",
            "Filename 'foo-1.0.tar.gz\\n' must contain only printable ASCII characters.",
        ),
        (
            "f\u00f8\u00f8-1.0.tar.gz",
            "Filename 'f\\xf8\\xf8-1.0.tar.gz' must contain only printable ASCII characters.",
        ),
        (
            "\u017fample-1.0.tar.gz",  # long s: [A-Z] with IGNORECASE would take it
            "Filename '\\u017fample-1.0.tar.gz' must contain only printable ASCII characters.",
        ),
    ],
)
def test_refuses_unsafe_filenames(filename, message):
    assert refusal(parse_distribution_filename, filename) == message


def test_filename_length_limit():
    # A 200-character name (the longest project name) and a long version.
    version = "1" + ".0" * 23
    longest = f"{'a' * 200}-{version}.tar.gz"
    assert len(longest) == 255
    assert parse_distribution_filename(longest).version == Version(version)
    message = refusal(parse_distribution_filename, longest.replace("-1.", "-1.0."))
    assert message == f"Filename '{'a' * 40}...' is too long: use at most 255 characters."


def test_stem_strips_the_extension_only():
    assert parse_distribution_filename("a-1.0-py3-none-any.whl").stem == "a-1.0-py3-none-any"
    assert parse_distribution_filename("a-1.0.tar.gz").stem == "a-1.0"
    assert parse_distribution_filename("a-1.0.zip").stem == "a-1.0"


# --- check_filename_matches -----------------------------------------------------------


@pytest.mark.parametrize(
    "filename",
    [
        "sample_project-1.0-py3-none-any.whl",
        "sample_project-1.0.0-py3-none-any.whl",
        "sample_project-1.0.tar.gz",
        # Legacy sdist spellings: accepted because they normalize to the project.
        "Sample.Project-1.0.tar.gz",
        "sample-project-1.0.zip",
        "SAMPLE_PROJECT-1.0.tar.gz",
    ],
)
def test_filename_matching_project_and_version(filename):
    parsed = parse_distribution_filename(filename)
    check_filename_matches(parsed, project_name="Sample.Project", version=Version("1.0"))


@pytest.mark.parametrize(
    "filename",
    ["other-1.0-py3-none-any.whl", "sample-1.0.tar.gz", "sample_project_x-1.0.tar.gz"],
)
def test_filename_for_another_project(filename):
    parsed = parse_distribution_filename(filename)
    message = refusal(
        check_filename_matches, parsed, project_name="Sample.Project", version=Version("1.0")
    )
    assert message == "Start filename for 'Sample.Project' with 'sample_project'."


def test_filename_for_another_version():
    parsed = parse_distribution_filename("sample_project-1.0-py3-none-any.whl")
    message = refusal(
        check_filename_matches, parsed, project_name="sample-project", version=Version("1.1")
    )
    assert message == "Version in filename should be '1.1' not '1.0'."


# --- check_wheel_platforms --------------------------------------------------------------


@pytest.mark.parametrize(
    "platform",
    [
        "any",
        "win32",
        "win_amd64",
        "win_arm64",
        "win_ia64",
        "manylinux1_x86_64",
        "manylinux1_i686",
        "manylinux2010_x86_64",
        "manylinux2014_aarch64",
        "manylinux2014_s390x",
        "manylinux_2_17_x86_64.manylinux2014_x86_64",
        "manylinux_2_28_ppc64le",
        "manylinux_2_39_riscv64",
        "manylinux_2_38_loongarch64",
        "musllinux_1_2_aarch64",
        "musllinux_1_1_x86_64",
        "macosx_11_0_arm64",
        "macosx_10_9_universal2",
        "macosx_10_9_x86_64",
        "macosx_10_6_intel",
        "macosx_10_4_fat3",
        "macosx_13_0_x86_64h",
        "linux_armv6l",
        "linux_armv7l",
        "ios_13_0_arm64_iphoneos",
        "ios_13_0_x86_64_iphonesimulator",
        "android_21_arm64_v8a",
        "android_24_x86_64",
        "android_21_armeabi_v7a",
    ],
)
def test_allowed_platforms(platform):
    parsed = parse_distribution_filename(f"foo-1.0-cp311-cp311-{platform}.whl")
    check_wheel_platforms(parsed)


@pytest.mark.parametrize(
    "platform",
    [
        "linux_x86_64",
        "linux_aarch64",
        "linux_i686",
        "macosx_11_0_bogus",
        "macosx_11_arm64",
        "macosx_x_0_arm64",
        "manylinux_2_17_sparc",
        "manylinux2010_aarch64",
        "manylinux1_armv7l",
        "musllinux_1_2_sparc",
        "freebsd_13_amd64",
        "win_amd64x",
        "anyx",
        "ios_13_0_arm64",
        "android_21_mips",
        "cygwin",
    ],
)
def test_refused_platforms(platform):
    filename = f"foo-1.0-cp311-cp311-{platform}.whl"
    message = refusal(check_wheel_platforms, parse_distribution_filename(filename))
    assert message == f"Binary wheel '{filename}' has an unsupported platform tag '{platform}'."


def test_one_bad_tag_among_good_ones_refuses_the_wheel():
    filename = "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.linux_x86_64.whl"
    message = refusal(check_wheel_platforms, parse_distribution_filename(filename))
    assert message.endswith("unsupported platform tag 'linux_x86_64'.")


def test_several_bad_tags_refused_in_a_stable_order():
    filename = "foo-1.0-cp311-cp311-linux_x86_64.freebsd_13_amd64.aix_7_2.whl"
    for _ in range(5):
        message = refusal(check_wheel_platforms, parse_distribution_filename(filename))
        assert message.endswith("unsupported platform tag 'aix_7_2'.")


def test_extra_platforms_setting(settings):
    plain_linux = parse_distribution_filename("foo-1.0-cp311-cp311-linux_x86_64.whl")
    freebsd = parse_distribution_filename("foo-1.0-cp311-cp311-freebsd_13_amd64.whl")
    settings.WHEEL_EXTRA_PLATFORMS = ["linux_x86_64", "freebsd_*"]
    check_wheel_platforms(plain_linux)
    check_wheel_platforms(freebsd)
    settings.WHEEL_EXTRA_PLATFORMS = ["linux_aarch64"]
    refusal(check_wheel_platforms, plain_linux)
    refusal(check_wheel_platforms, freebsd)


def test_sdists_have_no_platform_to_check():
    check_wheel_platforms(parse_distribution_filename("foo-1.0.tar.gz"))


# --- read_wheel_metadata ---------------------------------------------------------------


def test_reads_wheel_metadata(tmp_path):
    dist = make_wheel("Sample.Project", "1.0")
    parsed = parse_distribution_filename(dist.filename)
    path = write(tmp_path, dist.filename, dist.content)
    assert read_wheel_metadata(path, parsed) == dist.metadata.encode()
    assert read_wheel_metadata(str(path), parsed) == dist.metadata.encode()


def test_dist_info_name_compared_normalized(tmp_path):
    # setuptools once wrote the unescaped name and unnormalized version.
    path, parsed = wheel_path(
        tmp_path,
        {"sample/__init__.py": b"", "Sample.Project-1.0.0.dist-info/METADATA": METADATA},
    )
    assert read_wheel_metadata(path, parsed) == METADATA


@pytest.mark.parametrize(
    "members",
    [
        {"sample/__init__.py": b""},
        {"sample_project-1.0.dist-info/RECORD": b""},
        {"sample_project-1.0.dist-info/metadata": METADATA},
        {"sample_project-1.0.dist-info": METADATA},
        {"sample_project-1.0.dist-info/sub/METADATA": METADATA},
        {"sample_project-1.1.dist-info/METADATA": METADATA},
        {"other-1.0.dist-info/METADATA": METADATA},
        {"sample_project-banana.dist-info/METADATA": METADATA},
        {"sample_project.dist-info/METADATA": METADATA},
        {"x/sample_project-1.0.dist-info/METADATA": METADATA},
    ],
)
def test_wheel_without_its_metadata(tmp_path, members):
    path, parsed = wheel_path(tmp_path, members)
    assert refusal(read_wheel_metadata, path, parsed) == (
        "Wheel 'sample_project-1.0-py3-none-any.whl' does not contain the required "
        "METADATA file: sample_project-1.0.dist-info/METADATA."
    )


def test_wheel_with_two_dist_info_directories(tmp_path):
    path, parsed = wheel_path(
        tmp_path,
        {
            "sample_project-1.0.dist-info/METADATA": METADATA,
            "vendored-2.0.dist-info/METADATA": b"Name: vendored\n",
        },
    )
    assert refusal(read_wheel_metadata, path, parsed) == (
        "Wheel 'sample_project-1.0-py3-none-any.whl' must contain exactly one .dist-info "
        "directory, not 2: 'sample_project-1.0.dist-info', 'vendored-2.0.dist-info'."
    )


@pytest.mark.parametrize(
    "content",
    [b"", b"not a zip at all", b"PK\x03\x04" + b"\x00" * 100, gzip.compress(METADATA, mtime=0)],
)
def test_wheel_that_is_not_a_zip(tmp_path, content):
    path = write(tmp_path, "sample_project-1.0-py3-none-any.whl", content)
    parsed = parse_distribution_filename(path.name)
    assert refusal(read_wheel_metadata, path, parsed) == NOT_A_ZIP


def test_truncated_wheel(tmp_path):
    content = make_wheel("sample-project", "1.0").content
    path = write(tmp_path, "sample_project-1.0-py3-none-any.whl", content[: len(content) // 2])
    parsed = parse_distribution_filename(path.name)
    assert refusal(read_wheel_metadata, path, parsed) == NOT_A_ZIP


def test_wheel_with_corrupt_metadata_stream(tmp_path):
    content = bytearray(
        zip_bytes(with_wheel_files({"sample_project-1.0.dist-info/METADATA": METADATA * 20}))
    )
    # Garble the deflate data right after the 30-byte local header and the name.
    start = 30 + len("sample_project-1.0.dist-info/METADATA")
    content[start : start + 40] = b"\xff" * 40
    path = write(tmp_path, "sample_project-1.0-py3-none-any.whl", bytes(content))
    parsed = parse_distribution_filename(path.name)
    assert refusal(read_wheel_metadata, path, parsed) == NOT_A_ZIP


def _encrypted(content: bytes) -> bytes:
    """Mark the first member "encrypted" (readable only with a password) in the
    central directory, where zipfile looks; writestr() would clear the flag."""
    content = bytearray(content)
    entry = content.index(b"PK\x01\x02")
    content[entry + 8] |= 0x1
    return bytes(content)


def test_wheel_with_encrypted_metadata(tmp_path):
    content = _encrypted(
        zip_bytes(with_wheel_files({"sample_project-1.0.dist-info/METADATA": METADATA}))
    )
    path = write(tmp_path, "sample_project-1.0-py3-none-any.whl", content)
    parsed = parse_distribution_filename(path.name)
    assert refusal(read_wheel_metadata, path, parsed) == NOT_A_ZIP


@pytest.mark.parametrize(
    "unsafe", ["../evil.py", "/etc/evil.py", "a/../../evil.py", "\\evil.py", "C:/evil.py"]
)
def test_wheel_with_unsafe_paths(tmp_path, unsafe):
    info = zipfile.ZipInfo("x")
    info.filename = unsafe  # ZipInfo() would strip the leading slash and drive
    path, parsed = wheel_path(
        tmp_path, {"sample_project-1.0.dist-info/METADATA": METADATA, info: b"boom"}
    )
    assert refusal(read_wheel_metadata, path, parsed) == (
        f"Invalid distribution file: the archive contains the unsafe path {unsafe!r}."
    )


def test_wheel_with_a_member_twice(tmp_path):
    name = "sample_project-1.0.dist-info/METADATA"
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w") as archive,
        pytest.warns(UserWarning, match="Duplicate name"),
    ):
        archive.writestr(name, METADATA)
        archive.writestr(name, b"Name: evil\n")
        archive.writestr("sample_project-1.0.dist-info/WHEEL", WHEEL)
    path = write(tmp_path, "sample_project-1.0-py3-none-any.whl", buffer.getvalue())
    parsed = parse_distribution_filename(path.name)
    assert refusal(read_wheel_metadata, path, parsed) == (
        f"Invalid distribution file: the archive contains '{name}' more than once."
    )


def _with_mode(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info


def test_wheel_metadata_symlink(tmp_path):
    info = _with_mode("sample_project-1.0.dist-info/METADATA", stat.S_IFLNK | 0o777)
    path, parsed = wheel_path(tmp_path, {info: b"/etc/passwd"})
    assert (
        refusal(read_wheel_metadata, path, parsed)
        == "METADATA must be a regular file, not a link or a device."
    )


@pytest.mark.parametrize("mode", [0, 0o644, stat.S_IFREG | 0o644])
def test_wheel_metadata_regular_file_modes(tmp_path, mode):
    info = _with_mode("sample_project-1.0.dist-info/METADATA", mode)
    path, parsed = wheel_path(tmp_path, {info: METADATA})
    assert read_wheel_metadata(path, parsed) == METADATA


def test_wheel_metadata_size_limit(tmp_path, settings):
    settings.UPLOAD_METADATA_MAX_BYTES = len(METADATA)
    path, parsed = wheel_path(tmp_path, {"sample_project-1.0.dist-info/METADATA": METADATA})
    assert read_wheel_metadata(path, parsed) == METADATA
    settings.UPLOAD_METADATA_MAX_BYTES = len(METADATA) - 1
    assert (
        refusal(read_wheel_metadata, path, parsed)
        == f"METADATA is larger than {len(METADATA) - 1} bytes."
    )


def _zip_bomb(size: int) -> bytes:
    """A wheel whose METADATA is *size* bytes of zeros, written without ever
    holding them in memory; deflate shrinks them about a thousandfold."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("sample_project-1.0.dist-info/METADATA", "w") as member:
            for _ in range(size // MiB):
                member.write(bytes(MiB))
        archive.writestr("sample_project-1.0.dist-info/WHEEL", WHEEL)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def zip_bomb():
    return _zip_bomb(50 * MiB)


def _peak_memory(func, *args):
    tracemalloc.start()
    try:
        with pytest.raises(InvalidDistribution) as excinfo:
            func(*args)
        return str(excinfo.value), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_zip_bomb_refused_by_declared_size(tmp_path, settings, zip_bomb):
    assert len(zip_bomb) < MiB  # 50 MiB of METADATA in a small upload
    settings.UPLOAD_METADATA_MAX_BYTES = 64 * 1024
    path = write(tmp_path, "sample_project-1.0-py3-none-any.whl", zip_bomb)
    parsed = parse_distribution_filename(path.name)
    message, peak = _peak_memory(read_wheel_metadata, path, parsed)
    assert message == "METADATA is larger than 65536 bytes."
    assert peak < 2 * MiB


def test_zip_bomb_with_a_lying_central_directory(tmp_path, settings, zip_bomb):
    content = bytearray(zip_bomb)
    entry = content.index(b"PK\x01\x02")  # the only central directory entry
    declared = struct.unpack_from("<I", content, entry + 24)[0]
    assert declared == 50 * MiB
    struct.pack_into("<I", content, entry + 24, 1000)  # "uncompressed size"
    settings.UPLOAD_METADATA_MAX_BYTES = 64 * 1024
    path = write(tmp_path, "sample_project-1.0-py3-none-any.whl", bytes(content))
    parsed = parse_distribution_filename(path.name)
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("sample_project-1.0.dist-info/METADATA").file_size == 1000
    message, peak = _peak_memory(read_wheel_metadata, path, parsed)
    # zipfile stops at the declared size and then finds the CRC wrong.
    assert message == NOT_A_ZIP
    assert peak < 2 * MiB


class _LyingStream(io.BytesIO):
    """A member stream that yields more than its header declared."""


@pytest.mark.parametrize(("size", "refused"), [(100, False), (101, True), (10 * MiB, True)])
def test_bounded_read_does_not_trust_declared_sizes(settings, size, refused):
    settings.UPLOAD_METADATA_MAX_BYTES = 100
    stream = _LyingStream(bytes(size))
    if refused:
        assert (
            refusal(distributions._read_bounded, stream, "METADATA")
            == "METADATA is larger than 100 bytes."
        )
        assert stream.tell() == 101  # stopped right after the limit
    else:
        assert distributions._read_bounded(stream, "METADATA") == bytes(size)


# --- read_sdist_metadata ------------------------------------------------------------------


def test_reads_sdist_metadata(tmp_path):
    dist = make_sdist("Sample.Project", "1.0")
    path = write(tmp_path, dist.filename, dist.content)
    parsed = parse_distribution_filename(dist.filename)
    assert read_sdist_metadata(path, parsed) == dist.metadata.encode()


def test_legacy_sdist_top_directory(tmp_path):
    path, parsed = sdist_path(
        tmp_path,
        [("Sample.Project-1.0.0", b""), ("Sample.Project-1.0.0/PKG-INFO", METADATA)],
        filename="Sample.Project-1.0.0.tar.gz",
    )
    assert read_sdist_metadata(path, parsed) == METADATA


def test_sdist_pkg_info_found_after_other_files(tmp_path):
    # hatchling writes PKG-INFO last.
    members = [(f"sample_project-1.0/src/m{i}.py", b"x = 1\n") for i in range(50)]
    path, parsed = sdist_path(tmp_path, [*members, ("sample_project-1.0/PKG-INFO", METADATA)])
    assert read_sdist_metadata(path, parsed) == METADATA


def test_sdist_without_pkg_info(tmp_path):
    dist = make_sdist("sample-project", "1.0", include_pkg_info=False)
    path = write(tmp_path, dist.filename, dist.content)
    assert refusal(read_sdist_metadata, path, parse_distribution_filename(dist.filename)) == (
        "Source distribution 'sample_project-1.0.tar.gz' does not contain PKG-INFO "
        "in its top-level directory 'sample_project-1.0'."
    )


def test_sdist_with_pkg_info_only_deeper_down(tmp_path):
    path, parsed = sdist_path(tmp_path, [("sample_project-1.0/sub/PKG-INFO", METADATA)])
    assert "does not contain PKG-INFO" in refusal(read_sdist_metadata, path, parsed)


@pytest.mark.parametrize(
    "outsider",
    ["other-1.0/setup.py", "sample_project-1.1/PKG-INFO", "PKG-INFO", "sample_project/x.py"],
)
def test_sdist_with_a_second_top_level_entry(tmp_path, outsider):
    path, parsed = sdist_path(
        tmp_path, [(outsider, METADATA), ("sample_project-1.0/PKG-INFO", METADATA)]
    )
    assert refusal(read_sdist_metadata, path, parsed) == (
        "Source distribution 'sample_project-1.0.tar.gz' must have a single top-level "
        f"directory named 'sample_project-1.0', not '{outsider}'."
    )


@pytest.mark.parametrize("unsafe", ["../evil.py", "/tmp/evil.py", "sample_project-1.0/../x"])
def test_sdist_with_unsafe_paths(tmp_path, unsafe):
    path, parsed = sdist_path(
        tmp_path, [(unsafe, b"boom"), ("sample_project-1.0/PKG-INFO", METADATA)]
    )
    assert refusal(read_sdist_metadata, path, parsed) == (
        f"Invalid distribution file: the archive contains the unsafe path '{unsafe}'."
    )


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE])
def test_sdist_pkg_info_must_be_a_regular_file(tmp_path, kind):
    link = tarfile.TarInfo("sample_project-1.0/PKG-INFO")
    link.type = kind
    link.linkname = "/etc/passwd"
    path, parsed = sdist_path(tmp_path, [link])
    assert (
        refusal(read_sdist_metadata, path, parsed)
        == "PKG-INFO must be a regular file, not a link or a device."
    )


def test_sdist_pkg_info_size_limit(tmp_path, settings):
    settings.UPLOAD_METADATA_MAX_BYTES = len(METADATA)
    path, parsed = sdist_path(tmp_path, [("sample_project-1.0/PKG-INFO", METADATA)])
    assert read_sdist_metadata(path, parsed) == METADATA
    settings.UPLOAD_METADATA_MAX_BYTES = len(METADATA) - 1
    assert (
        refusal(read_sdist_metadata, path, parsed)
        == f"PKG-INFO is larger than {len(METADATA) - 1} bytes."
    )


def test_sdist_pkg_info_bomb(tmp_path, settings):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("sample_project-1.0/PKG-INFO")
        info.size = 50 * MiB

        class Zeros(io.RawIOBase):
            def readable(self):
                return True

            def readinto(self, b):
                b[:] = bytes(len(b))
                return len(b)

        archive.addfile(info, io.BufferedReader(Zeros()))
    assert len(buffer.getvalue()) < MiB
    settings.UPLOAD_METADATA_MAX_BYTES = 64 * 1024
    path = write(tmp_path, "sample_project-1.0.tar.gz", buffer.getvalue())
    message, peak = _peak_memory(read_sdist_metadata, path, parse_distribution_filename(path.name))
    assert message == "PKG-INFO is larger than 65536 bytes."
    assert peak < 2 * MiB


def test_sdist_member_count_limit(tmp_path, settings):
    settings.UPLOAD_ARCHIVE_MAX_MEMBERS = 3
    files = [(f"sample_project-1.0/f{i}", b"") for i in range(2)]
    path, parsed = sdist_path(tmp_path, [*files, ("sample_project-1.0/PKG-INFO", METADATA)])
    assert read_sdist_metadata(path, parsed) == METADATA

    # Counted to the end, not only up to PKG-INFO.
    path, parsed = sdist_path(tmp_path, [("sample_project-1.0/PKG-INFO", METADATA), *files * 2])
    assert refusal(read_sdist_metadata, path, parsed) == (
        "Invalid distribution file: it has more than 3 members, "
        "the limit (UPLOAD_ARCHIVE_MAX_MEMBERS)."
    )


def test_sdist_members_after_pkg_info_are_checked(tmp_path):
    path, parsed = sdist_path(
        tmp_path, [("sample_project-1.0/PKG-INFO", METADATA), ("../evil.py", b"boom")]
    )
    assert refusal(read_sdist_metadata, path, parsed) == (
        "Invalid distribution file: the archive contains the unsafe path '../evil.py'."
    )


def test_sdist_with_pkg_info_twice(tmp_path):
    path, parsed = sdist_path(
        tmp_path,
        [("sample_project-1.0/PKG-INFO", METADATA), ("sample_project-1.0/PKG-INFO", b"x")],
    )
    assert refusal(read_sdist_metadata, path, parsed) == (
        "Invalid distribution file: the archive contains 'sample_project-1.0/PKG-INFO' "
        "more than once."
    )


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not gzip",
        gzip.compress(b"not a tar archive" * 100, mtime=0),  # one id in every worker
        zip_bytes({"sample_project-1.0/PKG-INFO": METADATA}),
    ],
)
def test_sdist_that_is_not_a_tar_gz(tmp_path, content):
    path = write(tmp_path, "sample_project-1.0.tar.gz", content)
    parsed = parse_distribution_filename(path.name)
    assert refusal(read_sdist_metadata, path, parsed) == NOT_A_TAR_GZ


def test_truncated_sdist(tmp_path):
    members = [(f"sample_project-1.0/m{i}.bin", bytes(range(256)) * 64) for i in range(20)]
    content = tar_gz_bytes([*members, ("sample_project-1.0/PKG-INFO", METADATA)])
    path = write(tmp_path, "sample_project-1.0.tar.gz", content[: len(content) // 2])
    parsed = parse_distribution_filename(path.name)
    assert refusal(read_sdist_metadata, path, parsed) == NOT_A_TAR_GZ


def test_reads_zip_sdist_metadata(tmp_path):
    content = zip_bytes({"sample_project-1.0/": b"", "sample_project-1.0/PKG-INFO": METADATA})
    path = write(tmp_path, "sample_project-1.0.zip", content)
    assert read_sdist_metadata(path, parse_distribution_filename(path.name)) == METADATA


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (
            {"sample_project-1.0/setup.py": b""},
            "Source distribution 'sample_project-1.0.zip' does not contain PKG-INFO in its "
            "top-level directory 'sample_project-1.0'.",
        ),
        (
            {"sample_project-1.0/PKG-INFO": METADATA, "extra.txt": b""},
            "Source distribution 'sample_project-1.0.zip' must have a single top-level "
            "directory named 'sample_project-1.0', not 'extra.txt'.",
        ),
        (
            {_with_mode("sample_project-1.0/PKG-INFO", stat.S_IFLNK | 0o777): b"../../x"},
            "PKG-INFO must be a regular file, not a link or a device.",
        ),
        (
            {"sample_project-1.0/PKG-INFO": METADATA, "sample_project-1.0/../x": b""},
            "Invalid distribution file: the archive contains the unsafe path "
            "'sample_project-1.0/../x'.",
        ),
    ],
)
def test_refused_zip_sdists(tmp_path, members, message):
    path = write(tmp_path, "sample_project-1.0.zip", zip_bytes(members))
    assert refusal(read_sdist_metadata, path, parse_distribution_filename(path.name)) == message


def test_zip_sdist_that_is_not_a_zip(tmp_path):
    path = write(tmp_path, "sample_project-1.0.zip", tar_gz_bytes([]))
    assert refusal(read_sdist_metadata, path, parse_distribution_filename(path.name)) == NOT_A_ZIP


def test_zip_sdist_with_corrupt_pkg_info(tmp_path):
    content = _encrypted(zip_bytes({"sample_project-1.0/PKG-INFO": METADATA}))
    path = write(tmp_path, "sample_project-1.0.zip", content)
    assert refusal(read_sdist_metadata, path, parse_distribution_filename(path.name)) == NOT_A_ZIP


def test_missing_temp_file_is_not_the_uploaders_fault(tmp_path):
    wheel = parse_distribution_filename("sample_project-1.0-py3-none-any.whl")
    sdist = parse_distribution_filename("sample_project-1.0.tar.gz")
    with pytest.raises(FileNotFoundError):
        read_wheel_metadata(tmp_path / "gone.whl", wheel)
    with pytest.raises(FileNotFoundError):
        read_sdist_metadata(tmp_path / "gone.tar.gz", sdist)


# --- check_metadata_agrees -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "project_name", "version"),
    [
        (METADATA, "sample-project", "1.0"),
        (core_metadata("Sample.Project", "1.0.0").encode(), "sample_project", "1"),
        (b"Name: sample-project\nVersion: 1.0\n", "SAMPLE-PROJECT", "1.0"),
        # A body that is not UTF-8 is the description's problem, not this check's.
        (b"Name: sample-project\nVersion: 1.0\n\n\xff\xfe", "sample-project", "1.0"),
    ],
)
def test_metadata_agrees(metadata, project_name, version):
    for kind in ("wheel", "sdist"):
        check_metadata_agrees(
            metadata, project_name=project_name, version=Version(version), kind=kind
        )


@pytest.mark.parametrize(
    ("metadata", "kind", "message"),
    [
        (
            core_metadata("other", "1.0").encode(),
            "wheel",
            "The METADATA in the wheel says name 'other' but the upload says 'sample-project'.",
        ),
        (
            core_metadata("sample-project", "1.1").encode(),
            "sdist",
            "The PKG-INFO in the sdist says version '1.1' but the upload says '1.0'.",
        ),
        (
            b"Name: sample-project\nVersion: banana\n",
            "wheel",
            "The METADATA in the wheel has an invalid Version 'banana': use a PEP 440 version.",
        ),
        (
            b"Name: s\xc3\xa4mple\nVersion: 1.0\n",
            "wheel",
            "The METADATA in the wheel says name 's\\xe4mple' but the upload says "
            "'sample-project'.",
        ),
        (b"Version: 1.0\n", "wheel", "The METADATA in the wheel has no Name field."),
        (b"Name:\nVersion: 1.0\n", "wheel", "The METADATA in the wheel has no Name field."),
        (b"Name: sample-project\n", "sdist", "The PKG-INFO in the sdist has no Version field."),
        (b"", "sdist", "The PKG-INFO in the sdist has no Name field."),
        (b"\x00\xff\xfe garbage", "wheel", "The METADATA in the wheel has no Name field."),
        (
            b"Name: sample-project\nName: evil\nVersion: 1.0\n",
            "wheel",
            "The METADATA in the wheel has an unreadable Name field: it must appear once "
            "and be valid UTF-8.",
        ),
        (
            b"Name: sample-project\nVersion: 1.0\xff\n",
            "wheel",
            "The METADATA in the wheel has an unreadable Version field: it must appear once "
            "and be valid UTF-8.",
        ),
    ],
)
def test_metadata_disagrees(metadata, kind, message):
    assert (
        refusal(
            check_metadata_agrees,
            metadata,
            project_name="sample-project",
            version=Version("1.0"),
            kind=kind,
        )
        == message
    )


def test_metadata_kind_is_wheel_or_sdist():
    with pytest.raises(KeyError):
        check_metadata_agrees(
            METADATA, project_name="sample-project", version=Version("1.0"), kind="egg"
        )


# --- archive caps ------------------------------------------------------------------------

SDIST_MEMBERS = [("sample_project-1.0/PKG-INFO", METADATA)]
WHEEL_MEMBERS = {"sample_project-1.0.dist-info/METADATA": METADATA}
TOO_MANY = (
    "Invalid distribution file: it has more than 3 members, the limit (UPLOAD_ARCHIVE_MAX_MEMBERS)."
)


def test_zip_member_count_limit(tmp_path, settings):
    settings.UPLOAD_ARCHIVE_MAX_MEMBERS = 3
    path, parsed = wheel_path(tmp_path, {**WHEEL_MEMBERS, "sample/__init__.py": b""})
    assert read_wheel_metadata(path, parsed) == METADATA  # METADATA, WHEEL, one module
    path, parsed = wheel_path(tmp_path, {**WHEEL_MEMBERS, "a.py": b"", "b.py": b""})
    assert refusal(read_wheel_metadata, path, parsed) == TOO_MANY


def _set_entry_count(content: bytes, count: int) -> bytes:
    """The zip with its end record declaring *count* entries."""
    content = bytearray(content)
    end = content.rindex(b"PK\x05\x06")
    struct.pack_into("<HH", content, end + 8, count, count)
    return bytes(content)


def test_zip_member_count_is_walked_when_the_end_record_lies(tmp_path, settings):
    settings.UPLOAD_ARCHIVE_MAX_MEMBERS = 3
    members = with_wheel_files({**WHEEL_MEMBERS, "a.py": b"", "b.py": b""})
    path = write(
        tmp_path, "sample_project-1.0-py3-none-any.whl", _set_entry_count(zip_bytes(members), 1)
    )
    parsed = parse_distribution_filename(path.name)
    assert refusal(read_wheel_metadata, path, parsed) == TOO_MANY


def _zip64_bytes(members: dict, monkeypatch) -> bytes:
    # zipfile writes the zip64 end records past 65,535 entries; lowering that
    # threshold while writing gets the same records from a few entries.
    with monkeypatch.context() as patch:
        patch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 2)
        return zip_bytes(members)


def test_zip64_member_count(tmp_path, settings, monkeypatch):
    content = _zip64_bytes(
        with_wheel_files({**WHEEL_MEMBERS, "a.py": b"", "b.py": b""}), monkeypatch
    )
    assert b"PK\x06\x06" in content
    path = write(tmp_path, "sample_project-1.0-py3-none-any.whl", content)
    parsed = parse_distribution_filename(path.name)
    assert read_wheel_metadata(path, parsed) == METADATA
    settings.UPLOAD_ARCHIVE_MAX_MEMBERS = 3
    assert refusal(read_wheel_metadata, path, parsed) == TOO_MANY


def test_zip64_end_record_with_a_bad_signature(tmp_path, monkeypatch):
    members = with_wheel_files({**WHEEL_MEMBERS, "a.py": b""})
    content = bytearray(_zip64_bytes(members, monkeypatch))
    record = content.rindex(b"PK\x06\x06")
    content[record : record + 4] = b"PK\x00\x00"
    path = write(tmp_path, "sample_project-1.0-py3-none-any.whl", bytes(content))
    assert refusal(read_wheel_metadata, path, parse_distribution_filename(path.name)) == NOT_A_ZIP


@pytest.mark.parametrize("where", ["size", "signature", "truncated", "short"])
def test_zip_with_a_broken_central_directory(tmp_path, where):
    content = bytearray(zip_bytes(with_wheel_files(WHEEL_MEMBERS)))
    end = content.rindex(b"PK\x05\x06")
    if where == "size":
        struct.pack_into("<L", content, end + 12, end + 1)  # larger than what precedes it
    elif where == "signature":
        entry = content.index(b"PK\x01\x02")
        content[entry : entry + 4] = b"PK\x00\x00"
    elif where == "truncated":
        size = struct.unpack_from("<L", content, end + 12)[0]
        struct.pack_into("<L", content, end + 12, size + 20)  # ends inside a header
    else:
        struct.pack_into("<L", content, end + 12, 10)  # starts 10 bytes before the end record
    path = write(tmp_path, "sample_project-1.0-py3-none-any.whl", bytes(content))
    assert refusal(read_wheel_metadata, path, parse_distribution_filename(path.name)) == NOT_A_ZIP


def test_zip_with_a_truncated_end_record(tmp_path):
    content = zip_bytes(with_wheel_files(WHEEL_MEMBERS))
    path = write(tmp_path, "sample_project-1.0-py3-none-any.whl", content[:-10])
    assert refusal(read_wheel_metadata, path, parse_distribution_filename(path.name)) == NOT_A_ZIP


def test_tiny_zip_without_zip64_records(tmp_path):
    # An empty zip is its end record alone: too short to hold zip64 records.
    path = write(tmp_path, "sample_project-1.0.zip", zip_bytes({}))
    assert len(path.read_bytes()) == 22
    assert refusal(read_sdist_metadata, path, parse_distribution_filename(path.name)) == (
        "Source distribution 'sample_project-1.0.zip' does not contain PKG-INFO in its "
        "top-level directory 'sample_project-1.0'."
    )


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_zip_members_compressed_otherwise_are_refused(tmp_path, method):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in with_wheel_files(WHEEL_MEMBERS).items():
            archive.writestr(name, data)
        archive.writestr("sample/__init__.py", b"x = 1\n", compress_type=method)
    path = write(tmp_path, "sample_project-1.0-py3-none-any.whl", buffer.getvalue())
    assert refusal(read_wheel_metadata, path, parse_distribution_filename(path.name)) == (
        f"Invalid distribution file: 'sample/__init__.py' is compressed with method {method}; "
        "use stored or deflate."
    )


def test_stored_members_are_accepted(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in with_wheel_files(WHEEL_MEMBERS).items():
            archive.writestr(name, data)
    path = write(tmp_path, "sample_project-1.0-py3-none-any.whl", buffer.getvalue())
    assert read_wheel_metadata(path, parse_distribution_filename(path.name)) == METADATA


RATIO = (
    "Invalid distribution file: it exceeds the compression ratio of 50 "
    "(UPLOAD_ARCHIVE_MAX_RATIO), like a decompression bomb."
)
TOTAL = (
    "Invalid distribution file: it expands to more than 100000 bytes, "
    "the limit (UPLOAD_ARCHIVE_MAX_UNCOMPRESSED_BYTES)."
)


def test_wheel_compression_ratio(tmp_path, settings):
    settings.UPLOAD_ARCHIVE_RATIO_MIN_BYTES = 64 * 1024
    path, parsed = wheel_path(tmp_path, {**WHEEL_MEMBERS, "sample/zeros": bytes(MiB)})
    assert refusal(read_wheel_metadata, path, parsed) == RATIO
    # Below the size where the ratio counts, compressing well is fine.
    settings.UPLOAD_ARCHIVE_RATIO_MIN_BYTES = 2 * MiB
    assert read_wheel_metadata(path, parsed) == METADATA


def test_wheel_total_uncompressed_size(tmp_path, settings):
    settings.UPLOAD_ARCHIVE_MAX_UNCOMPRESSED_BYTES = 100_000
    data = bytes(range(256)) * 390  # 99,840 bytes
    path, parsed = wheel_path(tmp_path, {**WHEEL_MEMBERS, "sample/data": data})
    assert refusal(read_wheel_metadata, path, parsed) == TOTAL
    settings.UPLOAD_ARCHIVE_MAX_UNCOMPRESSED_BYTES = 200_000
    assert read_wheel_metadata(path, parsed) == METADATA


def test_sdist_compression_ratio(tmp_path, settings):
    settings.UPLOAD_ARCHIVE_RATIO_MIN_BYTES = 64 * 1024
    path, parsed = sdist_path(tmp_path, [*SDIST_MEMBERS, ("sample_project-1.0/z", bytes(MiB))])
    assert refusal(read_sdist_metadata, path, parsed) == RATIO
    settings.UPLOAD_ARCHIVE_RATIO_MIN_BYTES = 2 * MiB
    assert read_sdist_metadata(path, parsed) == METADATA


def test_sdist_total_uncompressed_size_is_checked_before_the_member_is_skipped(tmp_path, settings):
    settings.UPLOAD_ARCHIVE_MAX_UNCOMPRESSED_BYTES = 100_000
    # A header declaring 1 TiB of data that isn't there: refused on the
    # declaration, without decompressing (or waiting for) a terabyte.
    huge = tarfile.TarInfo("sample_project-1.0/huge")
    huge.size = 1 << 40
    content = tar_gz_bytes([*SDIST_MEMBERS])
    raw = gzip.decompress(content)
    header = huge.tobuf(format=tarfile.GNU_FORMAT)
    forged = gzip.compress(raw[:1024] + header + bytes(4096))
    path = write(tmp_path, "sample_project-1.0.tar.gz", forged)
    assert refusal(read_sdist_metadata, path, parse_distribution_filename(path.name)) == TOTAL


def _pax_bomb(declared: int) -> bytes:
    """A tar.gz whose first member is a pax header declaring *declared* bytes,
    followed by a few zeros: what tarfile would try to read whole."""
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = declared
    return gzip.compress(header.tobuf(format=tarfile.USTAR_FORMAT) + bytes(MiB))


def test_pax_header_size_limit(tmp_path):
    path = write(tmp_path, "sample_project-1.0.tar.gz", _pax_bomb(1 << 30))
    message, peak = _peak_memory(read_sdist_metadata, path, parse_distribution_filename(path.name))
    assert message == (
        "Invalid distribution file: a tar header declares 1073741824 bytes, more than the "
        "limit of 1048576 (UPLOAD_ARCHIVE_MAX_HEADER_BYTES)."
    )
    assert peak < 2 * MiB


def test_pax_headers_within_the_limit_are_read(tmp_path, settings):
    settings.UPLOAD_ARCHIVE_MAX_HEADER_BYTES = 4096
    long_name = "sample_project-1.0/" + "d/" * 80 + "module.py"  # over ustar's 100 characters
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for name, data in [(long_name, b"x = 1\n"), ("sample_project-1.0/PKG-INFO", METADATA)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    path = write(tmp_path, "sample_project-1.0.tar.gz", buffer.getvalue())
    assert read_sdist_metadata(path, parse_distribution_filename(path.name)) == METADATA


def test_pkg_info_larger_than_the_header_limit_is_read(tmp_path, settings):
    settings.UPLOAD_ARCHIVE_MAX_HEADER_BYTES = 512
    pkg_info = METADATA + b"A long README.\n" * 100
    path, parsed = sdist_path(tmp_path, [("sample_project-1.0/PKG-INFO", pkg_info)])
    assert read_sdist_metadata(path, parsed) == pkg_info


# --- WHEEL ---------------------------------------------------------------------------------


def test_wheel_without_its_wheel_file(tmp_path):
    path = write(tmp_path, "sample_project-1.0-py3-none-any.whl", zip_bytes(WHEEL_MEMBERS))
    assert refusal(read_wheel_metadata, path, parse_distribution_filename(path.name)) == (
        "Wheel 'sample_project-1.0-py3-none-any.whl' does not contain the required "
        "WHEEL file: sample_project-1.0.dist-info/WHEEL."
    )


def _wheel_with(tmp_path, wheel: bytes, filename="sample_project-1.0-py3-none-any.whl"):
    members = {**WHEEL_MEMBERS, "sample_project-1.0.dist-info/WHEEL": wheel}
    return wheel_path(tmp_path, members, filename=filename)


@pytest.mark.parametrize(
    ("filename", "tags"),
    [
        ("sample_project-1.0-py3-none-any.whl", ["py3-none-any"]),
        ("sample_project-1.0-py2.py3-none-any.whl", ["py2-none-any", "py3-none-any"]),
        ("sample_project-1.0-py2.py3-none-any.whl", ["py3-none-any", "py2.py3-none-any"]),
        ("sample_project-1.0-py3-none-any.whl", []),  # no Tag line: nothing disagrees
    ],
)
def test_wheel_tags_agreeing_with_the_filename(tmp_path, filename, tags):
    wheel = b"Wheel-Version: 1.0\n" + b"".join(f"Tag: {t}\n".encode() for t in tags)
    path, parsed = _wheel_with(tmp_path, wheel, filename=filename)
    assert read_wheel_metadata(path, parsed) == METADATA


@pytest.mark.parametrize(
    ("tags", "listed"),
    [
        (["cp311-cp311-manylinux_2_17_x86_64"], "'cp311-cp311-manylinux_2_17_x86_64'"),
        (["py3-none-any", "py2-none-any"], "'py2-none-any', 'py3-none-any'"),
        (["garbage"], "'garbage'"),
    ],
)
def test_wheel_tags_disagreeing_with_the_filename(tmp_path, tags, listed):
    wheel = b"Wheel-Version: 1.0\n" + b"".join(f"Tag: {t}\n".encode() for t in tags)
    path, parsed = _wheel_with(tmp_path, wheel)
    assert refusal(read_wheel_metadata, path, parsed) == (
        f"The WHEEL file of 'sample_project-1.0-py3-none-any.whl' declares the tags {listed}, "
        "which do not match the tags in the filename."
    )


def test_wheel_file_that_is_not_utf8(tmp_path):
    path, parsed = _wheel_with(tmp_path, b"Wheel-Version: 1.0\nTag: py3-none-\xff\n")
    assert refusal(read_wheel_metadata, path, parsed) == (
        "The WHEEL file of 'sample_project-1.0-py3-none-any.whl' is not valid UTF-8."
    )


# --- python tag length -----------------------------------------------------------------


def test_python_tag_longer_than_its_column(tmp_path):
    python_tag = ".".join(f"cp3{i}" for i in range(10, 36))  # 129 characters
    filename = f"sample_project-1.0-{python_tag}-none-any.whl"
    assert len(filename) <= 255
    assert refusal(parse_distribution_filename, filename) == (
        f"Invalid wheel filename {filename[:40] + '...'!r}: its python tag is {len(python_tag)} "
        "characters long; use at most 100."
    )


def _empty_members_zip(members: int, declared: int) -> bytes:
    """A zip of *members* empty stored members whose end record declares
    *declared*, written record by record (zipfile is slow at this size)."""
    local = struct.Struct("<4s5H3L2H")
    central = struct.Struct("<4s6H3L5H2L")
    out, directory = io.BytesIO(), io.BytesIO()
    for index in range(members):
        name = f"{index:x}".encode()
        offset = out.tell()
        out.write(local.pack(b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name)
        entry = (b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0, 0, offset)
        directory.write(central.pack(*entry) + name)
    start = out.tell()
    out.write(directory.getvalue())
    size = out.tell() - start
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, declared, declared, size, start, 0))
    return out.getvalue()


def test_many_members_refused_before_zipfile_reads_them(tmp_path):
    # 200,000 members declared as 200: zipfile would make an object for each
    # (1.1 million of them took a worker to 743 MiB); the walk stops at the
    # limit, one 46-byte header at a time.
    path = write(tmp_path, "sample_project-1.0.zip", _empty_members_zip(200_000, 200))
    message, peak = _peak_memory(read_sdist_metadata, path, parse_distribution_filename(path.name))
    assert message == (
        "Invalid distribution file: it has more than 100000 members, "
        "the limit (UPLOAD_ARCHIVE_MAX_MEMBERS)."
    )
    assert peak < MiB
