"""Restricted namespaces (PEP 752) on a company index: a name under a
restricted grant here (hidden too) is this index's organization's, so the
mirror never asks the upstream for it nor offers what it holds of it, from the
moment the grant is made; open grants leave the mirror as it was; a new
project under a restricted grant by its organization's Owners and Managers
does not ask the upstream. The upstream is a real static index on loopback
(tests.upstream_server)."""

from datetime import UTC, datetime

import pytest

from accounts.events import Actor
from accounts.tokens import api_token_create
from packages import mirror, upstream
from packages.models import EdgePurge, Namespace, Project, UpstreamFile, UpstreamProject
from packages.namespaces import namespace_create, namespace_delete, namespace_update
from tests.factories import make_namespace, make_organization, make_wheel, post_upload
from tests.upstream_server import StaticIndex, dist

pytestmark = pytest.mark.django_db

JSON = "application/vnd.pypi.simple.v1+json"
LONG_AGO = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def wheel(name: str, content: bytes = b"a wheel"):
    return dist(f"{name.replace('-', '_')}-1.0-py3-none-any.whl", content, upload_time=LONG_AGO)


@pytest.fixture
def index(settings):
    """The upstream has acme-tools (the squatter's), acme-contrib-extras and
    requests; this index mirrors it."""
    with StaticIndex() as index:
        for name in ("acme-tools", "acme-contrib-extras", "requests"):
            index.publish(name, [wheel(name)])
        settings.UPSTREAM_INDEX_URL = index.simple_url
        settings.UPSTREAM_TIMEOUT = 1
        settings.UPSTREAM_MIN_AGE = 0
        settings.PRIVATE_NAME_PATTERNS = []
        yield index


@pytest.fixture
def acme(owner):
    return make_organization("Acme", owners=[owner])


def page(client, name):
    return client.get(f"/simple/{name}/", headers={"Accept": JSON})


def listed(client) -> list[str]:
    projects = client.get("/simple/", headers={"Accept": JSON}).json()["projects"]
    return [entry["name"] for entry in projects]


@pytest.mark.parametrize("hidden", [False, True], ids=["shown", "hidden"])
def test_a_name_under_a_restricted_grant_is_never_asked_upstream(client, index, acme, hidden):
    make_namespace("acme", acme, is_hidden=hidden)
    assert page(client, "acme-tools").status_code == 404
    assert page(client, "acme").status_code == 404
    assert index.requested("/simple/acme-tools/") == 0
    assert index.requested("/simple/acme/") == 0
    assert not UpstreamProject.objects.exists()
    assert mirror.refresh("acme-tools") is None
    assert mirror.is_reserved("acme-tools") and not mirror.is_reserved("acmetools")
    # Names outside the grant are mirrored as before.
    assert page(client, "requests").status_code == 200


def test_an_open_grant_leaves_the_mirror_as_it_was(client, index, acme, token):
    make_namespace("acme", acme, is_open=True)
    assert not mirror.is_reserved("acme-tools")
    assert page(client, "acme-tools").status_code == 200
    assert index.requested("/simple/acme-tools/") == 1
    # And a claim of an upstream name under it still needs a moderator, the
    # organization's Owner's too.
    response = post_upload(client, make_wheel("acme-tools"), token)
    assert response.status_code == 403
    assert "belongs to a project on the upstream index" in response.reason_phrase


def test_the_longest_grant_decides(client, index, acme):
    # A restricted root with an open child: the child's names are mirrored.
    root = make_namespace("acme", acme)
    make_namespace("acme-contrib", acme, parent=root, is_open=True)
    assert page(client, "acme-contrib-extras").status_code == 200
    assert page(client, "acme-tools").status_code == 404
    # An open root with a restricted child: the child's names are not.
    Namespace.objects.all().delete()
    root = make_namespace("acme", acme, is_open=True)
    make_namespace("acme-contrib", acme, parent=root)
    assert mirror.is_reserved("acme-contrib-extras")
    assert not mirror.is_reserved("acme-tools")


def fetch_everything(client) -> str:
    """The acme-tools page and its file, as a build before the grant fetched
    them: the file's URL here."""
    (file,) = page(client, "acme-tools").json()["files"]
    assert client.get(file["url"]).status_code == 200
    assert UpstreamFile.objects.get(project__normalized_name="acme-tools").path
    return file["url"]


def test_a_grant_withdraws_the_copies_already_held(
    client, index, acme, settings, django_capture_on_commit_callbacks
):
    file_url = fetch_everything(client)
    assert listed(client) == ["acme-tools"]
    generation = mirror.generation()
    settings.EDGE_PURGE_URLS = ["http://127.0.0.1:9/"]
    with django_capture_on_commit_callbacks(execute=True):
        namespace_create(prefix="Acme", organization=acme, actor=Actor.shell(), is_hidden=True)
    # Dropped at once: the cached pages (the generation moved) and the edges'
    # copies of its pages and files (a hidden grant purges nothing else).
    assert mirror.generation() != generation
    keys = set(" ".join(EdgePurge.objects.values_list("keys", flat=True)).split())
    assert {"simple-acme-tools", "json-acme-tools", "files-acme-tools", "simple-index"} <= keys
    assert "simple-requests" not in keys
    settings.EDGE_PURGE_URLS = []
    assert page(client, "acme-tools").status_code == 404
    assert client.get(file_url).status_code == 404
    assert listed(client) == []
    # Nor do the JSON API and the project page show it as mirrored.
    assert client.get("/pypi/acme-tools/json").status_code == 404
    # Nothing was asked upstream for it since the grant; the copy stays stored.
    assert index.requested("/simple/acme-tools/") == 1
    assert UpstreamFile.objects.get().path

    # Revoked, the name is the upstream's again.
    grant = Namespace.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        namespace_delete(grant=grant, actor=Actor.shell())
    assert page(client, "acme-tools").status_code == 200
    assert client.get(file_url).status_code == 200


def test_a_grant_made_restricted_withdraws_them_and_made_open_gives_them_back(
    client, index, acme, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        grant = namespace_create(
            prefix="acme", organization=acme, actor=Actor.shell(), is_open=True
        )
    file_url = fetch_everything(client)
    with django_capture_on_commit_callbacks(execute=True):
        namespace_update(grant=grant, actor=Actor.shell(), is_open=False)
    assert page(client, "acme-tools").status_code == 404
    assert client.get(file_url).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        namespace_update(grant=grant, actor=Actor.shell(), is_open=True)
    assert page(client, "acme-tools").status_code == 200
    assert client.get(file_url).status_code == 200


def test_a_grant_over_names_not_held_yet_still_moves_the_generation(
    client, index, acme, django_capture_on_commit_callbacks
):
    # A page of a name under it rendered across the grant's commit is dropped.
    page(client, "requests")
    generation = mirror.generation()
    with django_capture_on_commit_callbacks(execute=True):
        namespace_create(prefix="acme", organization=acme, actor=Actor.shell())
    assert mirror.generation() != generation
    assert page(client, "requests").status_code == 200


def test_mirror_names_under_a_prefix_are_those_the_grant_covers(acme):
    for name in ("acme", "acme-tools", "acmetools", "foo-acme"):
        UpstreamProject.objects.create(normalized_name=name)
    assert mirror.names_under("acme") == ["acme", "acme-tools"]


# --- Claims ------------------------------------------------------------------------------


def test_the_organization_claims_a_name_under_its_grant_without_asking_upstream(
    client, index, acme, token, outsider
):
    make_namespace("acme", acme, is_hidden=True)
    index.stop()  # not even reachable: it is not asked
    upstream._configured.cache_clear()
    response = post_upload(client, make_wheel("acme-tools"), token)
    assert response.status_code == 200, response.content
    project = Project.objects.get()
    assert (project.normalized_name, project.organization) == ("acme-tools", acme)
    assert index.requested("/simple/acme-tools/") == 0
    # Anyone else is refused by the namespace (409), before any claim is asked.
    secret = api_token_create(user=outsider, description="ci").secret
    response = post_upload(client, make_wheel("acme-other"), secret)
    assert response.status_code == 409, response.content
    assert response.reason_phrase.startswith("The name 'acme-other' is reserved on this index")
    assert index.requested("/simple/acme-other/") == 0
