"""The JSON API: /pypi/<name>/json, /pypi/<name>/<version>/json and the
OpenAPI schema at /api/openapi.json."""

import json
from datetime import UTC, datetime

import jsonschema
import pytest
from django.utils import timezone
from drf_spectacular.validation import validate_schema

from accounts.events import Actor
from packages import json_api
from packages.models import JournalEntry, Project, Release, Role
from packages.services import release_yank
from tests.factories import add_file, make_release, make_sdist, make_wheel, post_upload

pytestmark = pytest.mark.django_db

URL = "/pypi/sample-project/json"
BASE = "http://testserver"
UPLOADED = datetime(2024, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

RICH = {
    "summary": "A sample project",
    "description": "# Sample\n\nLong text.",
    "description_content_type": "text/markdown",
    "author": "A. Author",
    "author_email": "author@example.com",
    "maintainer": "M. Maintainer",
    "maintainer_email": "maintainer@example.com",
    "license": "MIT",
    "license_expression": "MIT",
    "license_files": ["LICENSE"],
    "keywords": "sample,test",
    "classifiers": ["Programming Language :: Python :: 3"],
    "platform": ["linux", "win32"],
    "home_page": "https://example.com/",
    "download_url": "https://example.com/download",
    "project_urls": [["Source", "https://example.com/src"], ["Docs", "https://example.com/d"]],
    "requires_python": ">=3.9",
    "requires_dist": ["requests>=2", "pytest; extra == 'test'"],
    "provides_extra": ["test"],
    "dynamic": ["Requires-Dist"],
}


def release_with_files(project, version="1.0", *, upload_time=UPLOADED, **fields):
    """A release with a wheel and an sdist, as the upload leaves them."""
    release = make_release(project, version, **fields)
    wheel = add_file(release, make_wheel(version=version), upload_time=upload_time)
    sdist = add_file(release, make_sdist(version=version), upload_time=upload_time)
    return release, wheel, sdist


def get(client, url=URL, **extra):
    return client.get(url, **extra)


def get_json(client, url=URL, **extra) -> dict:
    response = get(client, url, **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def expected_file(file, release) -> dict:
    return {
        "comment_text": "",
        "digests": {
            "blake2b_256": file.blake2_256_digest,
            "md5": file.md5_digest,
            "sha256": file.sha256_digest,
        },
        "downloads": -1,
        "filename": file.filename,
        "has_sig": False,
        "md5_digest": file.md5_digest,
        "packagetype": file.packagetype,
        "python_version": file.python_version,
        "requires_python": release.requires_python or None,
        "size": file.size,
        "upload_time": "2024-03-01T12:30:45",
        "upload_time_iso_8601": "2024-03-01T12:30:45.123456Z",
        "url": f"{BASE}/packages/{file.path}",
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason or None,
    }


@pytest.fixture
def downloads(monkeypatch):
    """What packages.downloads says of the project (its own tests cover it)."""
    seen = []

    def summary(project):
        seen.append(project.pk)
        return {"last_day": 1, "last_week": 7, "last_month": 30}

    monkeypatch.setattr(json_api, "download_summary", summary)
    return seen


# --- Fields -------------------------------------------------------------------------


def test_info_has_every_field_of_the_latest_release(client, project, downloads):
    release_with_files(project, **RICH)
    Project.objects.filter(pk=project.pk).update(last_serial=41)

    data = get_json(client)

    assert data["info"] == {
        "author": "A. Author",
        "author_email": "author@example.com",
        "bugtrack_url": None,
        "classifiers": ["Programming Language :: Python :: 3"],
        "deprecated": False,
        "deprecated_reason": None,
        "description": "# Sample\n\nLong text.",
        "description_content_type": "text/markdown",
        "docs_url": None,
        "download_url": "https://example.com/download",
        "downloads": {"last_day": 1, "last_week": 7, "last_month": 30},
        "dynamic": ["Requires-Dist"],
        "home_page": "https://example.com/",
        "keywords": "sample,test",
        "license": "MIT",
        "license_expression": "MIT",
        "license_files": ["LICENSE"],
        "maintainer": "M. Maintainer",
        "maintainer_email": "maintainer@example.com",
        "name": "Sample.Project",
        "package_url": f"{BASE}/project/Sample.Project/",
        "platform": "linux",
        "project_url": f"{BASE}/project/Sample.Project/",
        "project_urls": {"Source": "https://example.com/src", "Docs": "https://example.com/d"},
        "provides_extra": ["test"],
        "release_url": f"{BASE}/project/Sample.Project/1.0/",
        "requires_dist": ["requests>=2", "pytest; extra == 'test'"],
        "requires_python": ">=3.9",
        "summary": "A sample project",
        "version": "1.0",
        "yanked": False,
        "yanked_reason": None,
        "project_status": {"status": "active"},
    }
    assert set(downloads) == {project.pk}  # the cache key and the body read it
    assert data["last_serial"] == 41
    assert data["vulnerabilities"] == []
    assert data["ownership"] == {
        "roles": [{"role": "Owner", "user": "olivia"}, {"role": "Maintainer", "user": "max"}],
        "organization": None,
    }


def test_empty_metadata_is_null_where_the_public_index_says_null(client, project, downloads):
    release_with_files(project)

    info = get_json(client)["info"]

    for key in (
        "description_content_type",
        "dynamic",
        "license_expression",
        "license_files",
        "platform",
        "project_urls",
        "provides_extra",
        "requires_dist",
        "yanked_reason",
    ):
        assert info[key] is None, key
    assert info["requires_python"] == ""
    assert info["classifiers"] == []
    assert info["keywords"] == ""


def test_wheel_and_sdist_files_field_by_field(client, project, downloads):
    release, wheel, sdist = release_with_files(project, requires_python=">=3.9")

    data = get_json(client)

    expected = [expected_file(wheel, release), expected_file(sdist, release)]
    expected.sort(key=lambda file: file["filename"])
    assert data["urls"] == expected
    assert data["releases"] == {"1.0": expected}
    assert {file["packagetype"] for file in expected} == {"bdist_wheel", "sdist"}
    assert {file["python_version"] for file in expected} == {"py3", "source"}


def test_file_urls_on_another_origin_are_kept(client, project, settings, downloads):
    settings.FILES_URL = "https://files.example.org"
    _release, wheel, _sdist = release_with_files(project)

    urls = {file["url"] for file in get_json(client)["urls"]}

    assert f"https://files.example.org/packages/{wheel.path}" in urls


def test_real_download_summary_is_what_info_shows(client, project):
    from packages.downloads import download_summary

    release_with_files(project)

    assert get_json(client)["info"]["downloads"] == download_summary(project)


def test_yanked_release_says_so_with_its_reason(client, project, downloads):
    release_with_files(project, "1.0")
    release_with_files(project, "2.0", yanked=True, yanked_reason="Broken build")

    data = get_json(client)
    release_data = get_json(client, "/pypi/sample-project/2.0/json")

    # A yanked release is not the latest while another one is not yanked.
    assert data["info"]["version"] == "1.0"
    assert [file["yanked"] for file in data["releases"]["2.0"]] == [True, True]
    assert {file["yanked_reason"] for file in data["releases"]["2.0"]} == {"Broken build"}
    assert release_data["info"]["yanked"] is True
    assert release_data["info"]["yanked_reason"] == "Broken build"
    assert all(file["yanked"] for file in release_data["urls"])


def test_pre_release_is_listed_but_not_the_latest(client, project, downloads):
    release_with_files(project, "1.0")
    make_release(project, "2.0b1", is_prerelease=True)

    data = get_json(client)

    assert data["info"]["version"] == "1.0"
    assert set(data["releases"]) == {"1.0", "2.0b1"}
    # A release without files is listed with none, as on the public index.
    assert data["releases"]["2.0b1"] == []


def test_project_with_only_pre_releases_shows_the_newest(client, project, downloads):
    release_with_files(project, "1.0a1", is_prerelease=True)
    release_with_files(project, "1.0b2", is_prerelease=True)

    data = get_json(client)

    assert data["info"]["version"] == "1.0b2"
    assert {file["filename"] for file in data["urls"]} == {
        "sample_project-1.0b2-py3-none-any.whl",
        "sample_project-1.0b2.tar.gz",
    }


def test_releases_keys_are_sorted_as_the_public_index_sorts_them(client, project, downloads):
    for version in ("1.9", "1.10", "1.2"):
        make_release(project, version)

    response = get(client)

    # The public index renders with sort_keys: string order, compact separators.
    body = response.content.decode()
    assert body.index('"1.10"') < body.index('"1.2"') < body.index('"1.9"')
    assert ", " not in body and ": " not in body
    assert list(json.loads(body)["releases"]) == ["1.10", "1.2", "1.9"]
    assert json.loads(body)["info"]["version"] == "1.10"


def test_version_endpoint_describes_that_release_only(client, project, downloads):
    old, old_wheel, old_sdist = release_with_files(project, "1.0", summary="Old")
    release_with_files(project, "2.0", summary="New")

    data = get_json(client, "/pypi/sample-project/1.0/json")

    assert "releases" not in data
    assert data["info"]["version"] == "1.0"
    assert data["info"]["summary"] == "Old"
    assert data["info"]["release_url"] == f"{BASE}/project/Sample.Project/1.0/"
    assert data["urls"] == sorted(
        [expected_file(old_wheel, old), expected_file(old_sdist, old)],
        key=lambda file: file["filename"],
    )
    assert set(data) == {"info", "last_serial", "mirror", "ownership", "urls", "vulnerabilities"}
    assert data["mirror"] is None  # a project of this index (packages.mirrored: the others)


# --- Redirects and errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("/pypi/Sample.Project/json", URL),
        ("/pypi/SAMPLE_project/json", URL),
        ("/pypi/Sample_Project/1.0/json", "/pypi/sample-project/1.0/json"),
        ("/pypi/sample-project/1.0.0/json", "/pypi/sample-project/1.0/json"),
        ("/pypi/Sample.Project/1.0.0/json", "/pypi/sample-project/1.0/json"),
    ],
)
def test_other_spellings_redirect_permanently(client, project, url, location, downloads):
    release_with_files(project, "1.0")

    response = get(client, url)

    assert response.status_code == 301
    assert response["Location"] == location
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Surrogate-Key"] == "json json-sample-project"


@pytest.mark.parametrize(
    ("url", "surrogate_key"),
    [
        ("/pypi/no-such-project/json", "json json-no-such-project"),
        ("/pypi/No_Such.Project/json", "json json-no-such-project"),
        ("/pypi/no-such-project/1.0/json", "json json-no-such-project"),
        ("/pypi/sample-project/9.9/json", "json json-sample-project"),
        ("/pypi/sample-project/not%20a%20version/json", "json json-sample-project"),
        ("/pypi/-not-a-name-/json", "json"),
        ("/pypi/bad%0Aname/1.0/json", "json"),
    ],
)
def test_unknown_projects_and_versions_are_json_404s(
    client, project, url, surrogate_key, downloads
):
    release_with_files(project, "1.0")

    response = get(client, url)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"message": "Not Found"}
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Surrogate-Key"] == surrogate_key


def test_project_without_releases_is_a_404(client, project):
    response = get(client)

    assert response.status_code == 404
    assert json.loads(response.content) == {"message": "Not Found"}


def test_quarantined_project_is_a_404(client, project, downloads):
    release_with_files(project, "1.0")
    Project.objects.filter(pk=project.pk).update(quarantined_at=timezone.now())

    assert get(client).status_code == 404
    assert get(client, "/pypi/sample-project/1.0/json").status_code == 404


def test_only_get_and_head(client, project, downloads):
    release_with_files(project)

    assert client.post(URL).status_code == 405
    assert client.delete(URL).status_code == 405
    head = client.head(URL)
    assert head.status_code == 200
    assert head["ETag"] == get(client)["ETag"]


def test_any_accept_header_gets_json(client, project, downloads):
    release_with_files(project)

    response = get(client, HTTP_ACCEPT="text/html")
    html_only = client.get(URL, HTTP_ACCEPT="text/html")

    assert html_only.status_code == 200
    assert html_only["Content-Type"] == "application/json"
    assert json.loads(response.content)["info"]["name"] == "Sample.Project"


# --- Headers and caching -------------------------------------------------------------------


@pytest.mark.parametrize("url", [URL, "/pypi/sample-project/1.0/json"])
def test_headers(client, project, settings, url, downloads):
    settings.SIMPLE_CACHE_SECONDS = 123
    release_with_files(project)
    Project.objects.filter(pk=project.pk).update(last_serial=77)

    response = get(client, url)

    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Access-Control-Expose-Headers"] == (
        "X-PyPI-Last-Serial, X-Mirror-Status, X-Mirror-Checked"
    )
    assert response["Access-Control-Allow-Methods"] == "GET"
    assert response["Cache-Control"] == "max-age=123, public"
    assert response["Surrogate-Key"] == "json json-sample-project"
    assert response["X-PyPI-Last-Serial"] == "77"
    assert response["ETag"].startswith('"') and len(response["ETag"]) == 34


@pytest.mark.parametrize("url", [URL, "/pypi/sample-project/1.0/json"])
def test_if_none_match_gets_304(client, project, url, downloads):
    release_with_files(project)
    etag = get(client, url)["ETag"]

    not_modified = get(client, url, HTTP_IF_NONE_MATCH=etag)
    modified = get(client, url, HTTP_IF_NONE_MATCH='"something-else"')

    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified["ETag"] == etag
    project.refresh_from_db()
    assert not_modified["X-PyPI-Last-Serial"] == str(project.last_serial)
    assert not_modified["Access-Control-Allow-Origin"] == "*"
    assert modified.status_code == 200


def test_body_is_cached_until_the_serial_moves(
    client, project, downloads, django_assert_num_queries
):
    release, _wheel, _sdist = release_with_files(project)
    first = get(client)

    # Changed behind the journal's back: the cached body stands...
    Release.objects.filter(pk=release.pk).update(summary="Changed")
    with django_assert_num_queries(1):  # the project's row (and serial) only
        assert get(client).content == first.content
    # ...until the serial moves, as every visible change moves it.
    Project.objects.filter(pk=project.pk).update(last_serial=5)
    second = get(client)
    assert json.loads(second.content)["info"]["summary"] == "Changed"
    assert second["ETag"] != first["ETag"]


def test_version_endpoint_is_cached_per_version(client, project, downloads):
    release_with_files(project, "1.0", summary="One")
    release_with_files(project, "2.0", summary="Two")

    one = get_json(client, "/pypi/sample-project/1.0/json")
    two = get_json(client, "/pypi/sample-project/2.0/json")
    again = get_json(client, "/pypi/sample-project/1.0/json")

    assert (one["info"]["summary"], two["info"]["summary"]) == ("One", "Two")
    assert again == one


def test_each_origin_gets_its_own_absolute_urls(client, project, downloads):
    release_with_files(project)

    here = get_json(client)
    there = get_json(client, HTTP_HOST="localhost")

    assert here["info"]["package_url"].startswith("http://testserver/")
    assert there["info"]["package_url"].startswith("http://localhost/")


@pytest.mark.parametrize("url", [URL, "/pypi/sample-project/1.0/json"])
def test_queries_do_not_grow_with_releases(
    client, project, url, django_assert_max_num_queries, downloads
):
    release_with_files(project, "1.0")
    with django_assert_max_num_queries(6):
        get_json(client, url)
    for minor in range(1, 40):
        release_with_files(project, f"1.{minor}")
    Project.objects.filter(pk=project.pk).update(last_serial=1)  # a new cache key

    with django_assert_max_num_queries(6):
        data = get_json(client, url)
    if "releases" in data:
        assert len(data["releases"]) == 40


# --- Agreement with the simple API and the journal --------------------------------------


@pytest.fixture
def published(client, owner, project, token):
    """Three releases uploaded through /legacy/, one of them yanked."""
    for dist in [
        make_sdist(version="1.0"),
        make_wheel(version="1.0", requires_python=">=3.8"),
        make_wheel(version="2.0", requires_python=">=3.10"),
        make_wheel(version="3.0rc1"),
    ]:
        response = post_upload(client, dist, token)
        assert response.status_code == 200, response.content
    release_yank(
        release=Release.objects.get(project=project, version="2.0"),
        reason="Oops",
        actor=Actor(owner),
    )
    project.refresh_from_db()
    return project


def test_json_agrees_with_the_simple_api(client, published):
    simple = client.get("/simple/sample-project/", HTTP_ACCEPT=SIMPLE_JSON)
    data = get_json(client)

    json_files = {file["filename"]: file for files in data["releases"].values() for file in files}
    simple_files = {file["filename"]: file for file in json.loads(simple.content)["files"]}
    assert set(json_files) == set(simple_files) and len(json_files) == 4
    for filename, simple_file in simple_files.items():
        file = json_files[filename]
        assert simple_file["hashes"]["sha256"] == file["digests"]["sha256"]
        assert simple_file["requires-python"] == file["requires_python"]
        assert simple_file["yanked"] == (file["yanked_reason"] or file["yanked"])
        assert simple_file["size"] == file["size"]
        assert simple_file["upload-time"] == file["upload_time_iso_8601"]
        assert simple_file["url"] in file["url"]
    assert sorted(json.loads(simple.content)["versions"]) == sorted(data["releases"])
    assert simple["X-PyPI-Last-Serial"] == get(client)["X-PyPI-Last-Serial"]


def test_serial_header_is_the_projects_last_journal_entry(client, published, owner):
    response = get(client)
    last = JournalEntry.objects.filter(name="Sample.Project").latest("id").id

    assert response["X-PyPI-Last-Serial"] == str(published.last_serial) == str(last)
    assert json.loads(response.content)["last_serial"] == last

    # A yank is a new serial, and the next answer has it at once.
    release_yank(release=Release.objects.get(project=published, version="1.0"), actor=Actor(owner))
    after = get(client)
    assert int(after["X-PyPI-Last-Serial"]) > last
    assert json.loads(after.content)["info"]["version"] == "3.0rc1"


# --- OpenAPI -------------------------------------------------------------------------------


@pytest.fixture
def openapi(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_openapi_schema_is_valid_and_lists_both_endpoints(openapi):
    validate_schema(openapi)

    assert openapi["openapi"].startswith("3.1")
    assert {"/pypi/{name}/json", "/pypi/{name}/{version}/json"} <= set(openapi["paths"])
    project = openapi["paths"]["/pypi/{name}/json"]["get"]["responses"]
    assert set(project) >= {"200", "301", "304", "404"}


def _validator(openapi: dict, component: str):
    schema = {"$ref": f"#/components/schemas/{component}", "components": openapi["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_answers_match_the_schema_both_ways(client, project, openapi, downloads):
    release_with_files(project, "1.0", **RICH)
    release_with_files(project, "2.0", yanked=True, yanked_reason="No")
    make_release(project, "3.0")
    schemas = openapi["components"]["schemas"]

    data = get_json(client)
    release_data = get_json(client, "/pypi/sample-project/1.0/json")
    bare = get_json(client, "/pypi/sample-project/3.0/json")

    _validator(openapi, "ProjectJson").validate(data)
    _validator(openapi, "ReleaseJson").validate(release_data)
    _validator(openapi, "ReleaseJson").validate(bare)
    _validator(openapi, "NotFound").validate(json.loads(get(client, "/pypi/x/json").content))
    # Every documented field is served and every served field documented.
    assert set(schemas["ProjectJson"]["properties"]) == set(data)
    assert set(schemas["ProjectJson"]["required"]) == set(data)
    assert set(schemas["Info"]["properties"]) == set(data["info"])
    assert set(schemas["Info"]["required"]) == set(data["info"])
    file = data["releases"]["1.0"][0]
    assert set(schemas["File"]["properties"]) == set(file)
    assert set(schemas["File"]["required"]) == set(file)
    for component, served in [
        ("ReleaseJson", release_data),
        ("Digests", file["digests"]),
        ("Downloads", data["info"]["downloads"]),
        ("Ownership", data["ownership"]),
        ("Role", data["ownership"]["roles"][0]),
    ]:
        assert set(schemas[component]["properties"]) == set(served), component
        assert set(schemas[component]["required"]) == set(served), component


def test_role_order_is_owners_first_then_by_name(client, project, outsider, downloads):
    Role.objects.create(project=project, user=outsider, role_name=Role.Name.OWNER)
    release_with_files(project)

    roles = get_json(client)["ownership"]["roles"]

    assert roles == [
        {"role": "Owner", "user": "olivia"},
        {"role": "Owner", "user": "oscar"},
        {"role": "Maintainer", "user": "max"},
    ]
