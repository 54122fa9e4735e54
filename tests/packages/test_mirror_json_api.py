"""/pypi/<name>/json and /pypi/<name>/<version>/json of a project mirrored from
the upstream index (packages.json_api's mirrored bodies, packages.mirrored):
the local answer's fields from the mirrored rows, and the "mirror" key that
tells the two apart."""

import hashlib
import json
from datetime import UTC

import jsonschema
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from packages.models import Project, UpstreamBlock, UpstreamProject
from tests.factories import add_file, make_release, make_sdist
from tests.packages.mirror_rows import (
    UPLOADED,
    UPSTREAM,
    demo_project,
    mirror_on,
    upstream_file,
    upstream_project,
)
from tests.upstream_server import StaticIndex, dist

pytestmark = pytest.mark.django_db

BASE = "http://testserver"


@pytest.fixture
def demo(settings):
    mirror_on(settings)
    return demo_project()


def get_json(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def file_url(project: UpstreamProject, filename: str) -> str:
    file = project.files.get(filename=filename)
    return BASE + reverse("mirror-file", args=[file.sha256_digest, filename])


def expected_file(project: UpstreamProject, filename: str, **fields) -> dict:
    file = project.files.get(filename=filename)
    wheel = filename.endswith(".whl")
    return {
        "comment_text": "",
        "digests": {"blake2b_256": "", "md5": "", "sha256": file.sha256_digest},
        "downloads": -1,
        "filename": filename,
        "has_sig": False,
        "md5_digest": "",
        "packagetype": "bdist_wheel" if wheel else "sdist",
        "python_version": filename.split("-")[-3] if wheel else "source",
        "requires_python": file.requires_python or None,
        "size": len(f"the bytes of {filename}"),
        "upload_time": "2024-03-01T12:30:45",
        "upload_time_iso_8601": "2024-03-01T12:30:45.123456Z",
        "url": file_url(project, filename),
        "yanked": file.yanked,
        "yanked_reason": file.yanked_reason or None,
        **fields,
    }


# --- Fields -------------------------------------------------------------------------------


def test_the_project_endpoint_answers_from_the_mirrored_rows(client, demo):
    response = client.get("/pypi/demo/json")
    data = json.loads(response.content)

    assert data["mirror"] == {"upstream": UPSTREAM, "last_checked": "2024-05-02T09:15:30.250000Z"}
    assert data["last_serial"] == 4242
    assert response["X-PyPI-Last-Serial"] == "4242"
    assert data["info"] == {
        "author": "",
        "author_email": "",
        "bugtrack_url": None,
        "classifiers": [],
        "deprecated": False,
        "deprecated_reason": None,
        "description": "",
        "description_content_type": None,
        "docs_url": None,
        "download_url": "",
        "downloads": {"last_day": -1, "last_month": -1, "last_week": -1},
        "dynamic": None,
        "home_page": "",
        "keywords": "",
        "license": "",
        "license_expression": None,
        "license_files": None,
        "maintainer": "",
        "maintainer_email": "",
        "name": "demo",
        "package_url": f"{BASE}/project/demo/",
        "platform": None,
        "project_url": f"{BASE}/project/demo/",
        "project_urls": None,
        "provides_extra": None,
        "release_url": f"{BASE}/project/demo/2.0/",
        "requires_dist": None,
        "requires_python": ">=3.9",
        "summary": "",
        # Neither the newer pre-release nor the yanked 1.1.
        "version": "2.0",
        "yanked": False,
        "yanked_reason": None,
        "project_status": {"status": "active"},
    }
    assert data["ownership"] == {"roles": [], "organization": None}
    assert data["vulnerabilities"] == []
    wheel = "demo-2.0-cp312-cp312-manylinux_2_17_x86_64.whl"
    assert data["urls"] == [expected_file(demo, wheel), expected_file(demo, "demo-2.0.tar.gz")]
    assert sorted(data["releases"]) == ["1.0", "1.1", "2.0", "2.1rc1"]
    assert data["releases"]["1.1"] == [expected_file(demo, "demo-1.1.tar.gz")]
    assert data["releases"]["1.1"][0]["yanked_reason"] == "Broken build"
    assert [file["python_version"] for file in data["releases"]["1.0"]] == ["py3", "source"]


def test_the_version_endpoint_describes_that_version(client, demo):
    data = get_json(client, "/pypi/demo/1.1/json")

    assert "releases" not in data
    assert data["info"]["version"] == "1.1"
    assert data["info"]["yanked"] is True
    assert data["info"]["yanked_reason"] == "Broken build"
    assert data["info"]["requires_python"] == ""
    assert data["info"]["release_url"] == f"{BASE}/project/demo/1.1/"
    assert data["urls"] == [expected_file(demo, "demo-1.1.tar.gz")]
    assert data["mirror"]["upstream"] == UPSTREAM


def test_without_an_upstream_serial_none_is_claimed(client, demo):
    UpstreamProject.objects.filter(pk=demo.pk).update(upstream_serial=None, checked_at=None)

    response = client.get("/pypi/demo/json")
    data = json.loads(response.content)

    assert data["last_serial"] is None
    assert "X-PyPI-Last-Serial" not in response
    assert data["mirror"]["last_checked"] is None


def test_what_the_upstream_left_out_is_null_or_first_seen(client, demo):
    file = upstream_file(demo, "demo-3.0.tar.gz", size=None, upload_time=None)

    data = get_json(client, "/pypi/demo/json")

    (served,) = data["urls"]
    assert served["size"] is None
    seen = file.first_seen_at.astimezone(UTC)
    assert served["upload_time_iso_8601"] == seen.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_only_yanked_versions_show_the_newest(client, settings):
    mirror_on(settings)
    project = upstream_project("gone-bad")
    upstream_file(project, "gone_bad-1.0.tar.gz", yanked=True)
    upstream_file(project, "gone_bad-2.0.tar.gz", yanked=True, yanked_reason="All broken")

    info = get_json(client, "/pypi/gone-bad/json")["info"]

    assert (info["version"], info["yanked"], info["yanked_reason"]) == ("2.0", True, "All broken")


def test_the_etag_answers_304(client, demo):
    first = client.get("/pypi/demo/json")

    again = client.get("/pypi/demo/json", HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 304
    assert again["X-PyPI-Last-Serial"] == "4242"
    assert first["ETag"] == '"' + hashlib.blake2b(first.content, digest_size=16).hexdigest() + '"'


def test_headers_are_the_local_answers(client, demo):
    response = client.get("/pypi/demo/json")

    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Surrogate-Key"] == "json json-demo"
    assert response["Cache-Control"].endswith("public")


@pytest.mark.parametrize("url", ["/pypi/demo/json", "/pypi/demo/1.0/json"])
def test_an_edge_keeps_the_answer_only_while_the_copy_is_fresh(client, demo, settings, url):
    settings.EDGE_PURGE_URLS = ["http://127.0.0.1:9/"]
    settings.EDGE_MAX_AGE, settings.UPSTREAM_FRESHNESS = 300, 600

    assert client.get(url)["Surrogate-Control"].startswith("max-age=300,")

    settings.EDGE_MAX_AGE = 86400
    assert client.get(url)["Surrogate-Control"].startswith("max-age=600,")


def test_queries_do_not_grow_with_versions_and_files(client, demo):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            get_json(client, "/pypi/demo/json")
        return len(captured)

    few = queries()
    for minor in range(30):
        upstream_file(demo, f"demo-1.{minor + 2}.tar.gz")
        upstream_file(demo, f"demo-1.{minor + 2}-py3-none-any.whl")

    assert queries() == few


# --- Names and versions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("/pypi/Demo/json", "/pypi/demo/json"),
        ("/pypi/DEMO/1.0/json", "/pypi/demo/1.0/json"),
        ("/pypi/demo/1.0.0/json", "/pypi/demo/1.0/json"),
    ],
)
def test_other_spellings_redirect_permanently(client, demo, url, location):
    response = client.get(url)

    assert response.status_code == 301
    assert response["Location"] == location
    assert response["Surrogate-Key"] == "json json-demo"


@pytest.mark.parametrize("url", ["/pypi/demo/9.0/json", "/pypi/elsewhere/json"])
def test_unknown_versions_and_names_are_the_apis_404(client, demo, url):
    # The name unknown here is unknown upstream too: its row says so (no fetch).
    upstream_project("elsewhere", exists=False)
    assert get_json(client, "/pypi/demo/2.0/json")["mirror"]

    response = client.get(url)

    assert response.status_code == 404
    assert json.loads(response.content) == {"message": "Not Found"}


@pytest.mark.parametrize("url", ["/pypi/demo/json", "/pypi/demo/2.0/json"])
def test_a_blocked_or_quarantined_project_is_a_404(client, demo, url):
    assert get_json(client, url)["mirror"]
    UpstreamBlock.objects.create(normalized_name="demo", reason="Typosquat")

    assert client.get(url).status_code == 404

    UpstreamBlock.objects.all().delete()
    UpstreamProject.objects.filter(pk=demo.pk).update(quarantined_at=timezone.now())
    assert client.get(url).status_code == 404


def test_a_local_project_of_the_name_answers_alone_with_mirror_null(client, demo, owner):
    assert get_json(client, "/pypi/demo/json")["mirror"]
    local = Project.objects.create(name="demo", normalized_name="demo")
    add_file(make_release(local, "0.5"), make_sdist("demo", "0.5"))

    data = get_json(client, "/pypi/demo/json")

    assert data["mirror"] is None
    assert list(data["releases"]) == ["0.5"]
    assert client.get("/pypi/demo/2.0/json").status_code == 404


# --- The schema --------------------------------------------------------------------------


def _validator(openapi: dict, component: str):
    schema = {"$ref": f"#/components/schemas/{component}", "components": openapi["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_mirrored_answers_match_the_schema(client, demo):
    openapi = json.loads(client.get("/api/openapi.json").content)
    upstream_file(demo, "demo-3.0.tar.gz", size=None)
    UpstreamProject.objects.filter(pk=demo.pk).update(upstream_serial=None)

    data = get_json(client, "/pypi/demo/json")

    _validator(openapi, "ProjectJson").validate(data)
    _validator(openapi, "ReleaseJson").validate(get_json(client, "/pypi/demo/1.0/json"))
    schemas = openapi["components"]["schemas"]
    assert set(schemas["ProjectJson"]["properties"]) == set(data)
    assert set(schemas["Mirror"]["properties"]) == set(data["mirror"])
    assert set(schemas["Mirror"]["required"]) == set(data["mirror"])


# --- Against a real upstream -------------------------------------------------------------


def test_a_name_never_asked_for_is_fetched_from_the_upstream(client, settings):
    with StaticIndex(serial=977) as upstream:
        mirror_on(settings, upstream.simple_url)
        content = b"wheel bytes"
        upstream.publish(
            "fetched",
            [dist("fetched-1.0-py3-none-any.whl", content, upload_time=UPLOADED)],
        )

        response = client.get("/pypi/fetched/json")
        again = client.get("/pypi/fetched/1.0/json")

        assert upstream.requested("/simple/fetched/") == 1
    data = json.loads(response.content)
    assert response["X-PyPI-Last-Serial"] == "977"
    assert data["mirror"]["upstream"] == upstream.simple_url
    row = UpstreamProject.objects.get(normalized_name="fetched")
    assert data["mirror"]["last_checked"] == row.checked_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    (file,) = data["urls"]
    assert file["digests"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert file["size"] == len(content)
    assert file["upload_time_iso_8601"] == "2024-03-01T12:30:45.123456Z"
    assert file["url"].startswith(f"{BASE}/packages/mirror/")
    assert json.loads(again.content)["urls"] == [file]


def test_an_html_only_upstream_gives_no_serial_to_claim(client, settings):
    with StaticIndex(json_pages=False) as upstream:
        mirror_on(settings, upstream.simple_url)
        upstream.publish("plain", [dist("plain-1.0.tar.gz", b"sdist", yanked="Superseded")])

        response = client.get("/pypi/plain/json")

    data = json.loads(response.content)
    assert data["last_serial"] is None
    assert "X-PyPI-Last-Serial" not in response
    (file,) = data["releases"]["1.0"]
    assert (file["yanked"], file["yanked_reason"]) == (True, "Superseded")
    assert file["size"] is None  # PEP 503 pages give none
    assert data["info"]["yanked"] is True
