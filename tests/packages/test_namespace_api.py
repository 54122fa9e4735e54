"""PEP 752's API: the namespace key of the simple API's project detail,
``/namespaces`` and ``/namespace/<prefix>``; hidden grants never shown."""

import pytest

from packages import simple
from packages.models import Project
from tests.factories import make_namespace, make_organization

pytestmark = pytest.mark.django_db

JSON = simple.V1_JSON


@pytest.fixture
def acme(owner):
    return make_organization("Acme", owners=[owner])


@pytest.fixture
def root(acme):
    return make_namespace("Acme", acme)


def project(name: str, organization=None) -> Project:
    return Project.objects.create(
        name=name, normalized_name=name.lower(), organization=organization
    )


def detail(client, name: str) -> dict:
    response = client.get(f"/simple/{name}/", headers={"Accept": JSON})
    assert response.status_code == 200
    return response.json()


def test_a_project_under_no_grant_has_a_null_namespace(client):
    project("other")
    assert detail(client, "other")["namespace"] is None


def test_the_organizations_project_is_authorized(client, root, acme):
    project("acme-core", acme)
    assert detail(client, "acme-core")["namespace"] == {
        "prefix": "acme",
        "authorized": True,
        "open": False,
    }


def test_anothers_project_under_the_grant_is_not(client, root, outsider):
    other = make_organization("Other", owners=[outsider])
    project("acme-old", other)
    project("acme-mine")
    assert detail(client, "acme-old")["namespace"]["authorized"] is False
    assert detail(client, "acme-mine")["namespace"]["authorized"] is False


def test_the_longest_grant_is_the_prefix(client, root, acme):
    make_namespace("acme-contrib", acme, parent=root, is_open=True)
    project("acme-contrib-x")
    assert detail(client, "acme-contrib-x")["namespace"] == {
        "prefix": "acme-contrib",
        "authorized": False,
        "open": True,
    }


def test_a_hidden_grant_is_not_shown_on_a_project(client, acme):
    hidden = make_namespace("acme", acme, is_hidden=True)
    make_namespace("acme-x", acme, parent=hidden)
    project("acme-core", acme)
    project("acme-x-y", acme)
    assert detail(client, "acme-core")["namespace"] is None
    # A child inside a hidden root is hidden with it.
    assert detail(client, "acme-x-y")["namespace"] is None


def test_the_html_page_has_no_namespace_markup(client, root):
    # PEP 752 defines the key for JSON only: the HTML page is unchanged.
    project("acme-core")
    assert b"namespace" not in client.get("/simple/acme-core/").content


def test_namespaces_lists_the_visible_grants(client, root, acme, outsider):
    make_namespace("acme-contrib", acme, parent=root, is_open=True)
    make_namespace("acme-secret", acme, parent=root, is_hidden=True)
    make_namespace("hush", make_organization("Hush", owners=[outsider]), is_hidden=True)
    response = client.get("/namespaces")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Surrogate-Key"] == "namespaces"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response.json() == {
        "namespaces": [
            {
                "prefix": "acme",
                "owner": "Acme",
                "open": False,
                "parent": None,
                "children": ["acme-contrib"],
            },
            {
                "prefix": "acme-contrib",
                "owner": "Acme",
                "open": True,
                "parent": "acme",
                "children": [],
            },
        ]
    }


def test_namespaces_is_one_query(client, root, acme, django_assert_num_queries):
    make_namespace("acme-contrib", acme, parent=root)
    with django_assert_num_queries(1):
        client.get("/namespaces")


def test_a_namespace_detail(client, root, acme):
    make_namespace("acme-contrib", acme, parent=root, is_open=True)
    make_namespace("acme-secret", acme, parent=root, is_hidden=True)
    response = client.get("/namespace/acme")
    assert response.status_code == 200
    assert response["Surrogate-Key"] == "namespaces"
    assert response.json() == {
        "prefix": "acme",
        "owner": "Acme",
        "open": False,
        "parent": None,
        "children": ["acme-contrib"],
    }
    assert client.get("/namespace/acme-contrib").json()["parent"] == "acme"


def test_another_spelling_redirects_to_the_normalized_namespace(client, root):
    response = client.get("/namespace/ACME")
    assert response.status_code == 301
    assert response["Location"] == "/namespace/acme"


@pytest.mark.parametrize("path", ["/namespace/nope", "/namespace/-bad-", "/namespace/a/b"])
def test_unknown_namespaces_are_a_json_404(client, root, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_a_hidden_namespace_is_a_404(client, acme):
    make_namespace("hush", acme, is_hidden=True)
    assert client.get("/namespace/hush").status_code == 404


def test_the_endpoints_take_only_get_and_head(client, root):
    assert client.post("/namespaces").status_code == 405
    assert client.head("/namespace/acme").status_code == 200


# --- the project page ----------------------------------------------------------------


def test_the_project_page_says_the_organizations_project_belongs_to_it(client, root, acme):
    project("acme-core", acme)
    page = client.get("/project/acme-core/").content.decode()
    assert 'href="/namespace/acme"' in page
    assert 'href="/org/acme/"' in page
    assert 'data-namespace="authorized"' in page
    assert "This project belongs to Acme." in page


def test_the_project_page_says_anothers_project_does_not(client, acme):
    make_namespace("acme", acme, is_open=True)
    project("acme-fan")
    page = client.get("/project/acme-fan/").content.decode()
    assert "(open to everyone)" in page
    assert "This project does not belong to Acme." in page


@pytest.mark.parametrize("hidden", [True, False])
def test_no_namespace_section_without_a_visible_grant(client, acme, hidden):
    if hidden:
        make_namespace("acme", acme, is_hidden=True)
    project("acme-core", acme)
    assert b'id="namespace"' not in client.get("/project/acme-core/").content
