"""The ``/legacy/`` endpoint end to end: real requests through Django's test
client, real distributions, real rows and stored objects."""

import base64
import dataclasses
import hashlib
import os
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.utils import timezone

from accounts.events import Actor
from accounts.models import ApiToken
from accounts.tokens import api_token_create, api_token_revoke
from packages.cache import simple_detail_key
from packages.models import File, FileRegistry, JournalEntry, Project, Release, Role
from packages.services import project_delete
from packages.storage import files_storage, metadata_path
from packages.upload import human_size
from packages.views.upload import file_upload
from tests.factories import (
    basic,
    core_metadata,
    make_sdist,
    make_wheel,
    path_of,
    post_upload,
)
from tests.liveserver import multipart

pytestmark = pytest.mark.django_db

URL = "/legacy/"


def stored_names(root) -> list[str]:
    found = []
    for directory, _dirs, names in os.walk(root):
        found += [os.path.join(directory, name) for name in names]
    return found


@pytest.fixture
def files_root(tmp_path):
    return tmp_path / "files"


@pytest.fixture
def maintainer_token(maintainer):
    return api_token_create(user=maintainer).secret


@pytest.fixture
def outsider_token(outsider):
    return api_token_create(user=outsider).secret


def assert_refused(response, status: int, message: str) -> None:
    assert response.status_code == status, response.content
    assert message in response.reason_phrase
    response.reason_phrase.encode("latin-1")
    assert message in response.content.decode()


def assert_nothing_stored(files_root) -> None:
    assert not File.objects.exists()
    assert not FileRegistry.objects.exists()
    assert stored_names(files_root) == []


# --- a first upload ---------------------------------------------------------------


RICH = {
    "metadata_version": "2.4",
    "summary": "A rich package",
    "description": "# Title\n\n    indented\n",
    "description_content_type": "text/markdown",
    "requires_python": ">=3.10",
    "requires_dist": ["requests>=2", 'tomli; python_version < "3.11"'],
    "project_urls": ["Homepage, https://example.org", "Source, https://git.example.org/s"],
    "classifiers": ["Programming Language :: Python :: 3", "Topic :: Utilities"],
    "keywords": "web, http",
    "license_expression": "MIT OR Apache-2.0",
    "dynamic": ["Requires-Python"],
    "author": "Ada",
}


@pytest.fixture
def first_upload(client, token, django_capture_on_commit_callbacks):
    dist = make_wheel("Sample.Project", metadata_version="2.4")
    cache.set(simple_detail_key("sample-project", "html"), "stale page")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_upload(client, dist, token, name="Sample.Project", **RICH)
    return dist, response


def test_first_upload_succeeds(first_upload):
    _dist, response = first_upload
    assert response.status_code == 200
    assert response.content == b"OK\n"


def test_first_upload_creates_the_project_with_the_name_as_given(first_upload):
    project = Project.objects.get()
    assert project.name == "Sample.Project"
    assert project.normalized_name == "sample-project"


def test_first_upload_makes_the_uploader_owner(first_upload, owner):
    role = Role.objects.get()
    assert (role.user, role.role_name) == (owner, Role.Name.OWNER)


def test_first_upload_creates_the_release_with_its_metadata(first_upload, owner):
    release = Release.objects.get()
    assert release.version == "1.0"
    assert release.canonical_version == "1"
    assert release.uploader == owner
    assert release.metadata_version == "2.4"
    assert release.summary == "A rich package"
    assert release.description == "# Title\n\n    indented\n"
    assert release.description_content_type == "text/markdown"
    assert release.requires_python == ">=3.10"
    assert release.requires_dist == ["requests>=2", 'tomli; python_version < "3.11"']
    assert release.project_urls == [
        ["Homepage", "https://example.org"],
        ["Source", "https://git.example.org/s"],
    ]
    assert release.classifiers == ["Programming Language :: Python :: 3", "Topic :: Utilities"]
    assert release.keywords == "web, http"
    assert release.license_expression == "MIT OR Apache-2.0"
    assert release.dynamic == ["Requires-Python"]
    assert release.author == "Ada"
    assert release.is_prerelease is False


def test_first_upload_creates_the_file_row_from_the_bytes(first_upload, owner):
    dist, _response = first_upload
    file = File.objects.get()
    assert file.filename == "sample_project-1.0-py3-none-any.whl"
    assert file.size == len(dist.content)
    assert file.md5_digest == dist.md5
    assert file.sha256_digest == dist.sha256
    assert file.blake2_256_digest == dist.blake2_256
    assert file.path == path_of(dist)
    assert file.packagetype == "bdist_wheel"
    assert file.python_version == "py3"
    assert file.uploader == owner


def test_wheel_metadata_digests_are_those_of_its_metadata_file(first_upload):
    dist, _response = first_upload
    data = dist.metadata.encode()
    file = File.objects.get()
    assert file.metadata_sha256_digest == hashlib.sha256(data).hexdigest()
    assert file.metadata_blake2_256_digest == hashlib.blake2b(data, digest_size=32).hexdigest()


def test_first_upload_registers_the_filename(first_upload):
    assert list(FileRegistry.objects.values_list("filename", flat=True)) == [
        "sample_project-1.0-py3-none-any.whl"
    ]


def test_first_upload_writes_the_journal_in_order(first_upload, owner):
    entries = list(JournalEntry.objects.order_by("id"))
    assert [entry.action for entry in entries] == [
        "create",
        "add Owner olivia",
        "new release",
        "add py3 file sample_project-1.0-py3-none-any.whl",
    ]
    assert {entry.name for entry in entries} == {"Sample.Project"}
    assert {entry.submitted_by for entry in entries} == {owner}
    assert {entry.ip_address for entry in entries} == {"127.0.0.1"}
    assert entries[-1].version == "1.0"
    assert entries[-1].filename == "sample_project-1.0-py3-none-any.whl"


def test_first_upload_moves_last_serial_to_the_last_entry(first_upload):
    assert Project.objects.get().last_serial == JournalEntry.objects.order_by("id").last().id


def test_first_upload_counts_the_size_in_the_project_total(first_upload):
    dist, _response = first_upload
    assert Project.objects.get().total_size == len(dist.content)


def test_first_upload_stores_the_file_and_its_metadata(first_upload):
    dist, _response = first_upload
    storage = files_storage()
    with storage.open(path_of(dist), "rb") as handle:
        assert handle.read() == dist.content
    with storage.open(metadata_path(path_of(dist)), "rb") as handle:
        assert handle.read() == dist.metadata.encode()


def test_upload_stamps_the_token_as_used(first_upload):
    assert ApiToken.objects.get().last_used_at is not None


def test_upload_purges_the_cached_simple_page(first_upload):
    assert cache.get(simple_detail_key("sample-project", "html")) is None


def test_sdist_has_no_metadata_file_and_no_metadata_digest(client, token, files_root):
    dist = make_sdist()
    response = post_upload(client, dist, token)
    assert response.status_code == 200
    file = File.objects.get()
    assert (file.packagetype, file.python_version) == ("sdist", "source")
    assert file.metadata_sha256_digest == ""
    assert file.metadata_blake2_256_digest == ""
    assert stored_names(files_root) == [str(files_root / path_of(dist))]


def test_prerelease_is_marked(client, token):
    assert post_upload(client, make_wheel(version="2.0rc1"), token).status_code == 200
    assert Release.objects.get().is_prerelease is True


def test_second_file_joins_the_release_and_adds_one_journal_entry(client, token):
    assert post_upload(client, make_sdist(), token).status_code == 200
    before = JournalEntry.objects.count()
    assert post_upload(client, make_wheel(), token).status_code == 200
    assert Release.objects.count() == 1
    assert File.objects.count() == 2
    assert list(JournalEntry.objects.values_list("action", flat=True)[before:]) == [
        "add py3 file sample_project-1.0-py3-none-any.whl"
    ]


def test_a_new_version_adds_a_release_entry(client, token):
    assert post_upload(client, make_wheel(version="1.0"), token).status_code == 200
    assert post_upload(client, make_wheel(version="1.1"), token).status_code == 200
    actions = list(JournalEntry.objects.values_list("action", "version"))
    assert actions[-2:] == [
        ("new release", "1.1"),
        ("add py3 file sample_project-1.1-py3-none-any.whl", "1.1"),
    ]


def test_wheel_for_1_0_0_joins_release_1_0(client, token):
    assert post_upload(client, make_sdist(version="1.0"), token).status_code == 200
    assert post_upload(client, make_wheel(version="1.0.0"), token).status_code == 200
    release = Release.objects.get()
    assert release.version == "1.0"
    assert release.files.count() == 2


def test_total_size_adds_up_over_uploads(client, token):
    sdist, wheel = make_sdist(), make_wheel()
    post_upload(client, sdist, token)
    post_upload(client, wheel, token)
    assert Project.objects.get().total_size == len(sdist.content) + len(wheel.content)


# --- who may upload -------------------------------------------------------------


def test_maintainer_may_upload_to_an_existing_project(client, project, maintainer_token):
    response = post_upload(client, make_wheel(), maintainer_token)
    assert response.status_code == 200
    assert File.objects.get().release.project == project


def test_upload_to_an_existing_project_does_not_touch_its_roles(client, project, token):
    post_upload(client, make_wheel(), token)
    assert Role.objects.count() == 2
    assert not JournalEntry.objects.filter(action="create").exists()


def test_existing_project_keeps_its_display_name(client, project, token):
    post_upload(client, make_wheel(), token, name="SAMPLE_project")
    assert Project.objects.get().name == "Sample.Project"


def test_outsider_may_not_upload_to_a_project(client, project, outsider_token, files_root):
    response = post_upload(client, make_wheel(), outsider_token)
    assert_refused(response, 403, "The user 'oscar' isn't allowed to upload to project")
    assert_nothing_stored(files_root)


def test_user_wide_token_may_create_a_new_project(client, outsider_token):
    assert post_upload(client, make_wheel("brand-new"), outsider_token).status_code == 200
    assert Project.objects.get().normalized_name == "brand-new"


def test_project_scoped_token_may_upload_to_its_project(client, project, owner):
    secret = api_token_create(user=owner, projects=[project]).secret
    assert post_upload(client, make_wheel(), secret).status_code == 200


def test_project_scoped_token_may_not_create_a_project(client, project, owner):
    secret = api_token_create(user=owner, projects=[project]).secret
    response = post_upload(client, make_wheel("brand-new"), secret)
    assert_refused(response, 403, "project-scoped token is not valid for project: 'brand-new'")
    assert Project.objects.count() == 1


def test_project_scoped_token_may_not_upload_to_another_project(client, project, owner):
    other = Project.objects.create(name="other", normalized_name="other")
    Role.objects.create(project=other, user=owner, role_name=Role.Name.OWNER)
    secret = api_token_create(user=owner, projects=[project]).secret
    response = post_upload(client, make_wheel("other"), secret)
    assert_refused(response, 403, "project-scoped token is not valid for project")
    assert not File.objects.exists()


def test_revoked_token_is_refused(client, owner):
    minted = api_token_create(user=owner)
    api_token_revoke(minted.token)
    assert_refused(post_upload(client, make_wheel(), minted.secret), 403, "it has been revoked")


def test_expired_token_is_refused(client, owner):
    minted = api_token_create(user=owner, expires_at=timezone.now() - timedelta(seconds=1))
    assert_refused(post_upload(client, make_wheel(), minted.secret), 403, "it has expired")


def test_garbage_token_is_refused(client, owner):
    assert_refused(post_upload(client, make_wheel(), "hunter2"), 403, "does not start with 'pypi-'")


def test_refused_token_is_not_stamped_as_used(client, owner):
    minted = api_token_create(user=owner)
    api_token_revoke(minted.token)
    post_upload(client, make_wheel(), minted.secret)
    assert ApiToken.objects.get().last_used_at is None


def test_missing_authorization_is_401_with_a_challenge(client, owner):
    dist = make_wheel()
    data = {**dist.form(), "content": SimpleUploadedFile(dist.filename, dist.content)}
    response = client.post(URL, data)
    assert_refused(response, 401, "Invalid or non-existent authentication information")
    assert response["WWW-Authenticate"] == 'Basic realm="Upload"'


def test_other_authorization_scheme_is_401(client, token):
    response = client.post(URL, {}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_refused(response, 401, "Invalid or non-existent authentication information")


def test_password_login_is_refused_and_points_to_api_tokens(client, owner):
    dist = make_wheel()
    data = {**dist.form(), "content": SimpleUploadedFile(dist.filename, dist.content)}
    response = client.post(
        URL, data, HTTP_AUTHORIZATION=basic("correct horse battery", username="olivia")
    )
    assert_refused(response, 403, "Upload with an API token")
    assert "WWW-Authenticate" not in response


def test_malformed_base64_is_401(client, owner):
    response = client.post(URL, {}, HTTP_AUTHORIZATION="Basic not*base64!")
    assert_refused(response, 401, "Malformed Authorization header")


def test_credentials_that_are_not_utf8_are_401(client, owner):
    encoded = base64.b64encode(b"__token__:\xff\xfe").decode()
    response = client.post(URL, {}, HTTP_AUTHORIZATION=f"Basic {encoded}")
    assert_refused(response, 401, "Malformed Authorization header")


def test_get_is_405_and_names_the_allowed_method(client):
    response = client.get(URL)
    assert_refused(response, 405, "Upload with a multipart POST")
    assert response["Allow"] == "POST"


def test_token_scoped_to_a_deleted_project_stays_useless(client, project, owner):
    secret = api_token_create(user=owner, projects=[project]).secret
    project_delete(project=project, actor=Actor(owner))
    response = post_upload(client, make_wheel("brand-new"), secret)
    assert response.status_code == 403


def test_refused_request_body_is_read_before_answering(owner):
    dist = make_wheel()
    request = RequestFactory().post(
        URL, {**dist.form(), "content": SimpleUploadedFile(dist.filename, dist.content)}
    )
    response = file_upload(request)
    assert response.status_code == 401
    assert request.read() == b""


# --- metadata and form refusals ---------------------------------------------------


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"metadata_version": None}, "'' is an invalid value for Metadata-Version"),
        ({"name": None}, "'' is an invalid value for Name. Error: This field is required"),
        ({"name": "-bad"}, "'-bad' is an invalid value for Name"),
        ({"name": "a b"}, "'a b' is an invalid value for Name"),
        ({"name": "ünïcode"}, "'ünïcode' is an invalid value for Name"),
        ({"version": None}, "'' is an invalid value for Version. Error: This field is required"),
        ({"version": "one.two"}, "'one.two' is an invalid value for Version"),
        ({"version": "1.0+local"}, "Can't use PEP 440 local versions"),
        ({"requires_dist": ["requests >>= 2"]}, "Invalid value for Requires-Dist"),
        ({"dynamic": ["Requires-Dist"]}, "dynamic introduced in metadata version 2.2, not 2.1"),
        ({"summary": "two\nlines"}, "is an invalid value for Summary"),
        ({"summary": "s" * 513}, "Use 512 characters or fewer"),
        ({"project_urls": ["Homepage"]}, "'Homepage' is an invalid value for Project-URL"),
        ({":action": "remove_pkg"}, "Unknown action 'remove_pkg'"),
        ({"protocol_version": "2"}, "Unknown protocol version: use protocol_version=1"),
        ({"filetype": "bdist_egg"}, "Invalid value for filetype: 'bdist_egg'"),
        ({"filetype": None}, "Invalid value for filetype: ''"),
        ({"filetype": "sdist"}, "'sdist' does not match the file"),
        ({"sha256_digest": "0" * 64}, "The digest supplied does not match"),
        ({"md5_digest": "0" * 32}, "The digest supplied does not match"),
        (
            {"md5_digest": None, "sha256_digest": None, "blake2_256_digest": None},
            "Include at least one message digest",
        ),
    ],
)
def test_invalid_form_is_refused_and_nothing_is_stored(
    client, token, files_root, overrides, message
):
    response = post_upload(client, make_wheel(), token, **overrides)
    assert_refused(response, 400, message)
    assert_nothing_stored(files_root)
    assert not Project.objects.exists()


def test_name_outside_latin_1_is_replaced_in_the_reason_but_kept_in_the_body(client, token):
    response = post_upload(client, make_wheel(), token, name="名前")
    assert response.status_code == 400
    assert response.reason_phrase.startswith("'??' is an invalid value for Name")
    assert "'名前' is an invalid value for Name" in response.content.decode()


def test_sdist_filetype_on_a_wheel_is_named_in_the_refusal(client, token):
    response = post_upload(client, make_sdist(), token, filetype="bdist_wheel")
    assert_refused(response, 400, "which is a sdist")


def test_upload_without_a_file_is_refused(client, token):
    response = client.post(URL, make_wheel().form(), HTTP_AUTHORIZATION=basic(token))
    assert_refused(response, 400, "Upload payload does not have a file")


def test_protocol_fields_may_be_omitted(client, token):
    response = post_upload(
        client, make_wheel(), token, **{":action": None, "protocol_version": None}
    )
    assert response.status_code == 200


def test_a_single_digest_is_enough_and_case_does_not_matter(client, token):
    dist = make_wheel()
    response = post_upload(
        client,
        dist,
        token,
        md5_digest=None,
        blake2_256_digest=None,
        sha256_digest=dist.sha256.upper(),
    )
    assert response.status_code == 200


def test_form_fields_over_the_memory_limit_are_refused(client, token, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    response = post_upload(client, make_wheel(), token, description="x" * 5000)
    assert_refused(response, 400, "The upload's form fields are too large")
    assert not File.objects.exists()


def test_too_many_form_fields_are_refused(client, token, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    response = post_upload(client, make_wheel(), token)
    assert_refused(response, 400, "Invalid multipart form data")


def test_broken_multipart_body_is_refused(client, token):
    # A multipart body without a boundary cannot be split into fields.
    response = client.generic(
        "POST",
        URL,
        b"--x\r\ngarbage",
        content_type="multipart/form-data",
        HTTP_AUTHORIZATION=basic(token),
    )
    assert_refused(response, 400, "Invalid multipart form data")


# --- filename and content refusals ------------------------------------------------


def post_raw_name(client, dist, secret: str, filename: str):
    """``dist`` POSTed with ``filename`` exactly as given in the multipart body
    (Django's test client would send only its last path part)."""
    content_type, segments, _length = multipart(dist.form(), filename, dist.content)
    return client.generic(
        "POST", URL, b"".join(segments), content_type=content_type, HTTP_AUTHORIZATION=basic(secret)
    )


@pytest.mark.parametrize(
    "prefix", ["../", "sub/", "..\\", "C:\\dist\\", "/tmp/", "sub&#47;", "..&#92;"]
)
def test_filename_with_a_path_is_refused_as_sent(client, token, files_root, prefix):
    # Would catch: Django's parser keeping the part after the last separator,
    # so that "../x.whl" was published as "x.whl".
    dist = make_wheel()
    response = post_raw_name(client, dist, token, prefix + dist.filename)
    assert_refused(response, 400, "Cannot upload a file with '/' or '\\' in the name.")
    assert_nothing_stored(files_root)


def test_filename_with_a_control_character_is_refused(client, token, files_root):
    dist = make_wheel()
    name = dist.filename.replace("-1.0", "\x1b-1.0")
    response = post_raw_name(client, dist, token, name)
    assert_refused(response, 400, "Cannot upload a file with control characters in the name.")
    assert_nothing_stored(files_root)


def test_form_that_is_not_multipart_is_refused(client, token):
    response = client.post(
        URL,
        "name=sample-project&version=1.0",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic(token),
    )
    assert_refused(response, 400, "Invalid multipart form data")


def test_filename_for_another_project_is_refused(client, token):
    response = post_upload(client, make_wheel("other"), token, name="sample-project")
    assert_refused(response, 400, "Start filename for 'sample-project' with 'sample_project'")


def test_filename_for_another_version_is_refused(client, token):
    response = post_upload(client, make_wheel(version="2.0"), token, version="1.0")
    assert_refused(response, 400, "Version in filename should be '1.0' not '2.0'")


@pytest.mark.parametrize(
    "filename", ["sample_project-1.0-py3.6.egg", "sample_project-1.0.win32.exe"]
)
def test_retired_formats_are_refused(client, token, files_root, filename):
    dist = dataclasses.replace(make_sdist(), filename=filename)
    response = post_upload(client, dist, token)
    assert_refused(response, 400, "Invalid file extension")
    assert_nothing_stored(files_root)


def test_wheel_for_a_plain_linux_platform_is_refused(client, token, files_root):
    response = post_upload(client, make_wheel(tag="cp311-cp311-linux_x86_64"), token)
    assert_refused(response, 400, "unsupported platform tag 'linux_x86_64'")
    assert_nothing_stored(files_root)


def test_wheel_for_an_extra_allowed_platform_is_accepted(client, token, settings):
    settings.WHEEL_EXTRA_PLATFORMS = ["linux_x86_64"]
    response = post_upload(client, make_wheel(tag="cp311-cp311-linux_x86_64"), token)
    assert response.status_code == 200
    assert File.objects.get().python_version == "cp311"


def test_wheel_that_is_not_a_zip_is_refused(client, token, files_root):
    dist = dataclasses.replace(make_wheel(), content=b"PK not really a zip")
    assert_refused(post_upload(client, dist, token), 400, "not a valid zip archive")
    assert_nothing_stored(files_root)


def test_wheel_whose_metadata_names_another_version_is_refused(client, token, files_root):
    dist = make_wheel(metadata=core_metadata("sample-project", "2.0"))
    response = post_upload(client, dist, token)
    assert_refused(response, 400, "The METADATA in the wheel says version '2.0'")
    assert_nothing_stored(files_root)


def test_wheel_whose_metadata_names_another_project_is_refused(client, token):
    dist = make_wheel(metadata=core_metadata("other-project", "1.0"))
    response = post_upload(client, dist, token)
    assert_refused(response, 400, "The METADATA in the wheel says name 'other-project'")


def test_sdist_without_pkg_info_is_refused(client, token, files_root):
    response = post_upload(client, make_sdist(include_pkg_info=False), token)
    assert_refused(response, 400, "does not contain PKG-INFO")
    assert_nothing_stored(files_root)


def test_sdist_whose_pkg_info_disagrees_is_refused(client, token):
    dist = make_sdist(metadata=core_metadata("sample-project", "1.1"))
    assert_refused(post_upload(client, dist, token), 400, "The PKG-INFO in the sdist says version")


def test_second_sdist_for_a_release_is_refused(client, token):
    assert post_upload(client, make_sdist(), token).status_code == 200
    second = dataclasses.replace(make_sdist(), filename="sample_project-1.0.zip", content=b"zip")
    response = post_upload(client, second, token)
    assert_refused(response, 400, "Only one sdist may be uploaded per release")
    assert File.objects.count() == 1


def test_second_sdist_for_an_equivalent_version_is_refused(client, token):
    assert post_upload(client, make_sdist(version="1.0"), token).status_code == 200
    response = post_upload(client, make_sdist(version="1.0.0"), token)
    assert_refused(response, 400, "Only one sdist may be uploaded per release")


def test_sdist_for_another_release_is_accepted(client, token):
    assert post_upload(client, make_sdist(version="1.0"), token).status_code == 200
    assert post_upload(client, make_sdist(version="1.1"), token).status_code == 200


# --- limits ---------------------------------------------------------------------


def test_file_over_the_upload_limit_is_refused_and_nothing_is_stored(
    client, token, settings, files_root
):
    settings.UPLOAD_MAX_BYTES = 500
    response = post_upload(client, make_wheel(), token)
    assert_refused(
        response, 400, "File too large. Limit for project 'sample-project' is 500 bytes. See"
    )
    assert_nothing_stored(files_root)
    assert not Project.objects.exists()
    assert not Release.objects.exists()


def test_file_over_this_projects_limit_but_under_anothers_is_refused(
    client, token, settings, files_root
):
    # Another project's override keeps the handler from truncating: the size
    # check itself refuses.
    settings.UPLOAD_MAX_BYTES = 500
    Project.objects.create(name="huge", normalized_name="huge", upload_limit=10**6)
    response = post_upload(client, make_wheel(), token)
    assert_refused(response, 400, "File too large")
    assert_nothing_stored(files_root)


def test_project_upload_limit_override_allows_a_bigger_file(client, project, token, settings):
    settings.UPLOAD_MAX_BYTES = 500
    Project.objects.filter(pk=project.pk).update(upload_limit=100_000)
    assert post_upload(client, make_wheel(), token).status_code == 200


def test_project_upload_limit_override_names_the_project(client, project, token, settings):
    Project.objects.filter(pk=project.pk).update(upload_limit=1000)
    response = post_upload(client, make_wheel(), token)
    assert_refused(response, 400, "Limit for project 'Sample.Project' is 1000 bytes. See")


def test_project_total_over_the_limit_is_refused(client, project, token, settings, files_root):
    dist = make_wheel()
    settings.PROJECT_MAX_BYTES = 10_000
    Project.objects.filter(pk=project.pk).update(total_size=10_000 - len(dist.content) + 1)
    response = post_upload(client, dist, token)
    assert_refused(
        response,
        400,
        "Project size too large. Limit for project 'Sample.Project' total size is "
        "9.8 KB (10,000 bytes). See",
    )
    assert_nothing_stored(files_root)


def test_project_total_exactly_at_the_limit_is_accepted(client, project, token, settings):
    dist = make_wheel()
    settings.PROJECT_MAX_BYTES = 10_000
    Project.objects.filter(pk=project.pk).update(total_size=10_000 - len(dist.content))
    assert post_upload(client, dist, token).status_code == 200
    assert Project.objects.get().total_size == 10_000


def test_new_project_over_the_total_limit_is_refused(client, token, settings):
    settings.PROJECT_MAX_BYTES = 100
    assert_refused(
        post_upload(client, make_wheel(), token),
        400,
        "Project size too large. Limit for project 'sample-project' total size is 100 bytes.",
    )


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (1, "1 byte"),
        (500, "500 bytes"),
        (1024, "1.0 KB"),
        (1536, "1.5 KB"),
        (1537, "1.5 KB (1,537 bytes)"),
        (4_000_000, "3.8 MB (4,000,000 bytes)"),
        (100 * 1024**2, "100.0 MB"),
        (10 * 1024**3, "10.0 GB"),
        (3 * 1024**5, "3.0 PB"),
    ],
)
def test_limits_are_shown_in_units_a_person_reads(size, shown):
    # Would catch: "1e-07 GB" for a small limit, or a rounded figure that hides
    # the limit actually configured.
    assert human_size(size) == shown


def test_project_total_size_limit_override_allows_more(client, project, token, settings):
    settings.PROJECT_MAX_BYTES = 10_000
    Project.objects.filter(pk=project.pk).update(total_size=10_000, total_size_limit=50_000)
    assert post_upload(client, make_wheel(), token).status_code == 200


def test_superuser_is_not_limited_in_creating_projects(
    client, owner, settings, django_capture_on_commit_callbacks
):
    # Would catch: the index's own administrator stopped at the 21st new
    # project of an import (RATELIMIT_PROJECT_CREATE, 20 an hour by default).
    assert settings.RATELIMITS["project-create"] == (20, 3600)
    owner.is_superuser = True
    owner.save(update_fields=["is_superuser"])
    secret = api_token_create(user=owner).secret
    for number in range(26):
        with django_capture_on_commit_callbacks(execute=True):
            response = post_upload(client, make_wheel(f"imported-{number}"), secret)
        assert response.status_code == 200, (number, response.reason_phrase)
    assert Project.objects.filter(normalized_name__startswith="imported-").count() == 26


def test_other_users_are_still_limited_in_creating_projects(
    client, owner, django_capture_on_commit_callbacks
):
    secret = api_token_create(user=owner).secret
    for number in range(20):
        with django_capture_on_commit_callbacks(execute=True):
            assert post_upload(client, make_wheel(f"new-{number}"), secret).status_code == 200
    assert_refused(
        post_upload(client, make_wheel("new-20"), secret), 429, "Too many new projects created"
    )


# --- duplicates -----------------------------------------------------------------


def test_identical_reupload_succeeds_without_a_second_row(client, token):
    dist = make_wheel()
    assert post_upload(client, dist, token).status_code == 200
    entries = JournalEntry.objects.count()
    response = post_upload(client, dist, token)
    assert response.status_code == 200
    assert response.content == b"OK: this file was already uploaded.\n"
    assert File.objects.count() == 1
    assert JournalEntry.objects.count() == entries


def test_identical_reupload_stamps_the_token(client, owner):
    minted = api_token_create(user=owner)
    dist = make_wheel()
    post_upload(client, dist, minted.secret)
    ApiToken.objects.update(last_used_at=None)
    post_upload(client, dist, minted.secret)
    assert ApiToken.objects.get().last_used_at is not None


def test_same_filename_with_other_bytes_is_refused(client, token):
    assert post_upload(client, make_wheel(), token).status_code == 200
    other = make_wheel(files={"extra.py": b"x = 1\n"})
    response = post_upload(client, other, token)
    assert response.status_code == 400
    assert response.reason_phrase.startswith(
        "File already exists ('sample_project-1.0-py3-none-any.whl', with blake2_256 hash"
    )
    assert File.objects.get().sha256_digest != other.sha256


def test_same_bytes_under_another_filename_are_refused(client, token):
    dist = make_wheel()
    assert post_upload(client, dist, token).status_code == 200
    renamed = dataclasses.replace(dist, filename="sample_project-1.0-py2.py3-none-any.whl")
    response = post_upload(client, renamed, token)
    assert_refused(response, 400, "File already exists ('sample_project-1.0-py3-none-any.whl'")
    assert File.objects.count() == 1


def test_filename_of_a_deleted_file_is_refused_forever(client, token):
    dist = make_wheel()
    assert post_upload(client, dist, token).status_code == 200
    File.objects.all().delete()
    response = post_upload(client, dist, token)
    assert_refused(response, 400, "This filename has already been used")
    assert not File.objects.exists()
