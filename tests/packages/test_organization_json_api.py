"""The JSON API's ``ownership`` of an organization's project: the
organization's name (as the public index gives it) beside people's own roles,
and the OpenAPI document saying so."""

import json

import jsonschema
import pytest

from accounts.events import Actor
from packages import organization_projects
from tests.factories import add_file, make_release, make_wheel
from tests.packages import organization_cast
from tests.packages.organization_cast import make_organization

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(project, owner, maintainer, outsider):
    cast = organization_cast.build(project, owner, maintainer, outsider)
    add_file(make_release(project, "1.0"), make_wheel("sample-project", "1.0"))
    return cast


def get_json(client, url="/pypi/sample-project/json") -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return json.loads(response.content)


@pytest.fixture
def openapi(client) -> dict:
    return json.loads(client.get("/api/openapi.json").content)


def test_ownership_names_the_organization_and_peoples_own_roles(client, cast):
    for url in ("/pypi/sample-project/json", "/pypi/sample-project/1.0/json"):
        assert get_json(client, url)["ownership"] == {
            # The organization's Owners and its teams' members are not listed:
            # "organization" stands for them, as on the public index.
            "organization": "Acme",
            "roles": [{"role": "Owner", "user": "olivia"}, {"role": "Maintainer", "user": "max"}],
        }


def test_the_name_is_as_its_owners_spelled_it(client, project, owner):
    acme = make_organization("ACME.Corp", owners=[owner])
    add_file(make_release(project, "1.0"), make_wheel("sample-project", "1.0"))
    organization_projects.project_move_in(project=project, organization=acme, actor=Actor(owner))
    assert get_json(client)["ownership"]["organization"] == "ACME.Corp"


def test_moving_out_shows_at_once(client, cast):
    assert get_json(client)["ownership"]["organization"] == "Acme"
    organization_projects.project_move_out(project=cast.project, actor=Actor(cast.org_owner))
    assert get_json(client)["ownership"]["organization"] is None


def test_the_schema_documents_the_organization(client, cast, openapi):
    ownership = openapi["components"]["schemas"]["Ownership"]
    organization = ownership["properties"]["organization"]
    assert {"type": "string"} in organization["anyOf"]
    assert {"type": "null"} in organization["anyOf"]
    assert "organization" in organization["description"]
    assert "not listed" in ownership["properties"]["roles"]["description"]
    schema = {"$ref": "#/components/schemas/ProjectJson", "components": openapi["components"]}
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(get_json(client))
    # A number or an object where a name is: refused by the document.
    body = get_json(client)
    body["ownership"]["organization"] = {"name": "Acme"}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(body)
