"""Hostile uploads through ``/legacy/``: every one is answered 400 with a
message naming the field or the limit, and leaves nothing behind. Run on
SQLite and on PostgreSQL (DATABASE_URL), where a NUL or an over-long value
used to reach the database and answer 500."""

import gzip
import io
import os
import tarfile
import zipfile

import pytest

from packages.models import File, FileRegistry, Project, Release
from tests.factories import Dist, make_sdist, make_wheel, post_upload, wheel_stem

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024


def stored_names(root) -> list[str]:
    return [os.path.join(d, n) for d, _dirs, names in os.walk(root) for n in names]


def assert_refused(response, message: str, tmp_path) -> None:
    assert response.status_code == 400, response.content
    assert message in response.content.decode()
    response.reason_phrase.encode("latin-1")
    assert not File.objects.exists()
    assert not FileRegistry.objects.exists()
    assert not Release.objects.exists()
    assert stored_names(tmp_path / "files") == []


# --- metadata fields --------------------------------------------------------------------

SINGLE_FIELDS = {
    "summary": "Summary",
    "description": "Description",
    "author": "Author",
    "author_email": "Author-Email",
    "maintainer": "Maintainer",
    "maintainer_email": "Maintainer-Email",
    "license": "License",
    "keywords": "Keywords",
    "home_page": "Home-Page",
    "download_url": "Download-URL",
    "requires_python": "Requires-Python",
    "description_content_type": "Description-Content-Type",
}
LIST_FIELDS = {
    "classifiers": "Classifier",
    "platform": "Platform",
    "requires_dist": "Requires-Dist",
    "provides_extra": "Provides-Extra",
    "project_urls": "Project-URL",
    "requires_external": "Requires-External",
    "provides_dist": "Provides-Dist",
    "obsoletes_dist": "Obsoletes-Dist",
}


@pytest.mark.parametrize("field", [*SINGLE_FIELDS, *LIST_FIELDS])
def test_nul_in_a_metadata_field(client, token, tmp_path, field):
    value = "x\x00y"
    response = post_upload(
        client, make_wheel(), token, **{field: [value] if field in LIST_FIELDS else value}
    )
    title = {**SINGLE_FIELDS, **LIST_FIELDS}[field]
    assert_refused(response, f"is an invalid value for {title}. Error: NUL characters", tmp_path)
    assert not Project.objects.exists()


def test_escape_character_in_a_summary(client, token, tmp_path):
    response = post_upload(client, make_wheel(), token, summary="red \x1b[31m text")
    assert_refused(
        response,
        "for Summary. Error: Control characters such as '\\x1b' are not allowed.",
        tmp_path,
    )


def test_line_break_in_an_author(client, token, tmp_path):
    response = post_upload(client, make_wheel(), token, author="Ada\nX-Injected: yes")
    assert_refused(response, "for Author. Error: Use a single line only.", tmp_path)


def test_version_longer_than_its_column(client, token, tmp_path):
    version = "1." + "1" * 99
    dist = make_wheel(version=version, filename=f"sample_project-{version}-py3-none-any.whl")
    response = post_upload(client, dist, token)
    assert_refused(response, "for Version. Error: Use 100 characters or fewer.", tmp_path)


def test_description_content_type_longer_than_its_column(client, token, tmp_path):
    value = "text/plain; charset=UTF-8; x=" + "y" * 100
    response = post_upload(client, make_wheel(), token, description_content_type=value)
    assert_refused(
        response, "for Description-Content-Type. Error: Use 128 characters or fewer.", tmp_path
    )


def test_python_tag_longer_than_its_column(client, token, tmp_path):
    python_tag = ".".join(f"cp3{i}" for i in range(10, 36))
    dist = make_wheel(tag=f"{python_tag}-none-any")
    response = post_upload(client, dist, token)
    assert_refused(
        response, f"its python tag is {len(python_tag)} characters long; use at most 100.", tmp_path
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"author_email": "Ada Lovelace"}, "'Ada Lovelace' is an invalid value for Author-Email"),
        ({"maintainer_email": "max@"}, "for Maintainer-Email. Error: Use e-mail addresses"),
        ({"home_page": "example.org"}, "for Home-Page. Error: Use an http or https URL."),
        ({"download_url": "ftp://x.org/a"}, "for Download-URL. Error: Use an http or https URL."),
        ({"project_urls": ["Docs, docs.example.org"]}, "for Project-URL. Error: Use an http"),
        (
            {"requires_dist": ["evil @ https://example.org/evil.whl"]},
            "for Requires-Dist. Error: Can't have direct dependency",
        ),
    ],
)
def test_metadata_the_public_index_refuses(client, token, tmp_path, fields, message):
    response = post_upload(client, make_wheel(), token, **fields)
    assert_refused(response, message, tmp_path)


# --- archives ---------------------------------------------------------------------------


def _wheel(members: dict, name="sample-project", version="1.0", tag="py3-none-any") -> Dist:
    template = make_wheel(name, version, tag=tag)
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(template.content)) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for info in source.infolist():
            if info.filename not in members:
                archive.writestr(info, source.read(info))
        for name_or_info, data in members.items():
            if data is not None:
                archive.writestr(name_or_info, data)
    return Dist(template.filename, buffer.getvalue(), template.metadata, template.fields)


def test_wheel_without_wheel_file(client, token, tmp_path):
    dist = _wheel({"sample_project-1.0.dist-info/WHEEL": None})
    response = post_upload(client, dist, token)
    assert_refused(
        response,
        "does not contain the required WHEEL file: sample_project-1.0.dist-info/WHEEL.",
        tmp_path,
    )


def test_wheel_whose_tags_disagree_with_its_filename(client, token, tmp_path):
    wheel = b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-win_amd64\n"
    dist = _wheel({"sample_project-1.0.dist-info/WHEEL": wheel})
    response = post_upload(client, dist, token)
    assert_refused(response, "declares the tags 'cp311-cp311-win_amd64'", tmp_path)


def test_wheel_with_a_bzip2_member(client, token, tmp_path):
    info = zipfile.ZipInfo("sample_project/data.bin")
    info.compress_type = zipfile.ZIP_BZIP2
    dist = _wheel({info: b"data"})
    response = post_upload(client, dist, token)
    assert_refused(
        response, "'sample_project/data.bin' is compressed with method 12; use stored", tmp_path
    )


def _zeros_wheel(size: int) -> Dist:
    """A wheel with *size* bytes of zeros, written a MiB at a time."""
    template = make_wheel()
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(template.content)) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for info in source.infolist():
            archive.writestr(info, source.read(info))
        with archive.open("sample_project/zeros.bin", "w") as member:
            for _ in range(size // MiB):
                member.write(bytes(MiB))
    return Dist(template.filename, buffer.getvalue(), template.metadata, template.fields)


def test_wheel_of_200_mib_of_zeros(client, token, tmp_path):
    dist = _zeros_wheel(200 * MiB)
    assert len(dist.content) < MiB
    response = post_upload(client, dist, token)
    assert_refused(
        response, "exceeds the compression ratio of 50 (UPLOAD_ARCHIVE_MAX_RATIO)", tmp_path
    )


def test_zip_with_more_members_than_allowed(client, token, tmp_path, settings):
    settings.UPLOAD_ARCHIVE_MAX_MEMBERS = 10
    dist = _wheel({f"sample_project/m{i}.py": b"" for i in range(10)})
    response = post_upload(client, dist, token)
    assert_refused(
        response, "more than 10 members, the limit (UPLOAD_ARCHIVE_MAX_MEMBERS)", tmp_path
    )


def test_sdist_whose_first_member_is_a_pax_header_of_1_gib(client, token, tmp_path):
    template = make_sdist()
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 1 << 30
    content = gzip.compress(header.tobuf(format=tarfile.USTAR_FORMAT) + bytes(MiB))
    dist = Dist(template.filename, content, template.metadata, template.fields)
    response = post_upload(client, dist, token)
    assert_refused(
        response,
        "a tar header declares 1073741824 bytes, more than the limit of 1048576 "
        "(UPLOAD_ARCHIVE_MAX_HEADER_BYTES).",
        tmp_path,
    )


def test_sdist_expanding_past_the_total_limit(client, token, tmp_path, settings):
    settings.UPLOAD_ARCHIVE_MAX_UNCOMPRESSED_BYTES = 10_000
    template = make_sdist()
    top = f"{wheel_stem('sample-project')}-1.0"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in [
            (f"{top}/PKG-INFO", template.metadata.encode()),
            (f"{top}/big", bytes(20_000)),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    dist = Dist(template.filename, buffer.getvalue(), template.metadata, template.fields)
    response = post_upload(client, dist, token)
    assert_refused(response, "expands to more than 10000 bytes", tmp_path)
