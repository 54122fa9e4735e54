"""The JSON API's ``vulnerabilities`` (the public index's shape, exactly) and
the release deprecation keys of ``info``."""

import json

import jsonschema
import pytest

from accounts.events import Actor
from packages import advisories
from packages.advisories import parse_osv
from tests.factories import make_release
from tests.packages.test_advisories import record

pytestmark = pytest.mark.django_db

# The public index's keys of one entry of "vulnerabilities" (warehouse's JSON
# API): no more, no fewer.
PUBLIC_KEYS = {"aliases", "details", "summary", "fixed_in", "id", "link", "source", "withdrawn"}


def get_json(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return json.loads(response.content)


@pytest.fixture
def imported(project):
    for version in ("1.0", "1.2", "1.3"):
        make_release(project, version)
    advisories.advisory_import(parsed=parse_osv(record()), actor=Actor())
    withdrawn = record(id="GHSA-old", withdrawn="2024-07-01T08:09:10.123Z", aliases=[])
    advisories.advisory_import(parsed=parse_osv(withdrawn), actor=Actor())


def test_a_release_lists_its_advisories_in_the_public_shape(client, imported):
    data = get_json(client, "/pypi/sample-project/1.0/json")

    assert data["vulnerabilities"] == [
        {
            "aliases": [],
            "details": "The loader runs what it reads.\n\nUpgrade.",
            "fixed_in": ["1.2.1"],
            "id": "GHSA-old",
            "link": "https://example.com/advisory",
            "source": "osv",
            "summary": "Remote code execution in the loader",
            "withdrawn": "2024-07-01T08:09:10Z",
        },
        {
            "aliases": ["CVE-2024-1234", "GHSA-abcd-efgh-ijkl"],
            "details": "The loader runs what it reads.\n\nUpgrade.",
            "fixed_in": ["1.2.1"],
            "id": "PYSEC-2024-12",
            "link": "https://example.com/advisory",
            "source": "osv",
            "summary": "Remote code execution in the loader",
            "withdrawn": None,
        },
    ]
    assert all(set(entry) == PUBLIC_KEYS for entry in data["vulnerabilities"])


def test_the_project_endpoint_lists_the_latest_releases_advisories(client, imported, project):
    # 1.3 is the latest and unaffected; made affected by hand, it is listed.
    assert get_json(client, "/pypi/sample-project/json")["vulnerabilities"] == []

    advisories.advisory_attach(
        release=project.releases.get(version="1.3"),
        osv_id="LOCAL-1",
        summary="Also this",
        actor=Actor(),
    )

    (entry,) = get_json(client, "/pypi/sample-project/json")["vulnerabilities"]
    assert entry == {
        "aliases": [],
        "details": "",
        "fixed_in": [],
        "id": "LOCAL-1",
        "link": "https://osv.dev/vulnerability/LOCAL-1",
        "source": "index",
        "summary": "Also this",
        "withdrawn": None,
    }


def test_deprecation_is_in_info_and_moves_the_cached_body(client, project):
    release = make_release(project, "1.0")
    before = get_json(client, "/pypi/sample-project/json")["info"]

    advisories.release_deprecate(release=release, reason="Use 2.0", actor=Actor())
    after = get_json(client, "/pypi/sample-project/json")["info"]
    version = get_json(client, "/pypi/sample-project/1.0/json")["info"]

    assert (before["deprecated"], before["deprecated_reason"]) == (False, None)
    assert (after["deprecated"], after["deprecated_reason"]) == (True, "Use 2.0")
    assert (version["deprecated"], version["deprecated_reason"]) == (True, "Use 2.0")


def test_the_schema_documents_the_new_keys(client, imported):
    openapi = json.loads(client.get("/api/openapi.json").content)
    schemas = openapi["components"]["schemas"]
    data = get_json(client, "/pypi/sample-project/1.0/json")

    assert set(schemas["Vulnerability"]["properties"]) == PUBLIC_KEYS
    assert set(schemas["Vulnerability"]["required"]) == PUBLIC_KEYS
    release_json = schemas["ReleaseJson"]["properties"]["vulnerabilities"]
    assert release_json["items"] == {"$ref": "#/components/schemas/Vulnerability"}
    assert {"deprecated", "deprecated_reason"} <= set(schemas["Info"]["required"])
    schema = {"$ref": "#/components/schemas/ReleaseJson", "components": openapi["components"]}
    jsonschema.Draft202012Validator(schema).validate(data)
