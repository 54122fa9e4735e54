"""An organization's namespaces page (/manage/organization/<name>/namespaces/)
and the child grants its Owners make inside a root grant (PEP 752)."""

import pytest
from django.contrib.messages import get_messages

from accounts.events import Actor
from accounts.models import Event
from packages.models import Namespace
from packages.namespaces import NamespaceError, child_namespace_create, child_namespace_delete
from tests.conftest import give_two_factor
from tests.factories import make_namespace, make_organization

pytestmark = pytest.mark.django_db

PAGE = "/manage/organization/acme/namespaces/"


@pytest.fixture
def acme(owner, maintainer, outsider):
    # olivia Owner, max Manager; oscar outside.
    return make_organization("Acme", owners=[owner], managers=[maintainer])


@pytest.fixture
def root(acme):
    return make_namespace("acme", acme)


def signed_in(client, user):
    give_two_factor(user)
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- services ----------------------------------------------------------------------


def test_an_owner_makes_an_open_child_and_the_history_says_so(root, owner):
    grant = child_namespace_create(
        parent=root, prefix="Acme.Contrib", is_open=True, actor=Actor(owner)
    )
    assert (grant.normalized_prefix, grant.parent, grant.is_open) == ("acme-contrib", root, True)
    event = Event.objects.get(tag="organization:namespace:granted")
    assert event.organization == root.organization and event.actor == owner
    assert event.details == {
        "namespace": "acme-contrib",
        "parent": "acme",
        "open": True,
        "hidden": False,
    }


def test_a_manager_may_not_make_one(root, maintainer):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied, match="Only an Owner of the organization"):
        child_namespace_create(parent=root, prefix="acme-x", is_open=False, actor=Actor(maintainer))
    assert Namespace.objects.count() == 1


def test_no_child_of_a_child_and_no_removal_of_a_root(root, owner):
    child = make_namespace("acme-x", root.organization, parent=root)
    with pytest.raises(NamespaceError, match="itself a child namespace"):
        child_namespace_create(parent=child, prefix="acme-x-y", is_open=False, actor=Actor(owner))
    with pytest.raises(NamespaceError, match="revoked by the index's moderators"):
        child_namespace_delete(grant=root, actor=Actor(owner))
    child_namespace_delete(grant=child, actor=Actor(owner))
    assert list(Namespace.objects.values_list("normalized_prefix", flat=True)) == ["acme"]
    assert Event.objects.get(tag="organization:namespace:revoked").details["revoked"] == ["acme-x"]


# --- the page ----------------------------------------------------------------------


def test_members_see_the_grants_hidden_ones_too(client, root, maintainer):
    make_namespace("acme-internal", root.organization, parent=root, is_hidden=True)
    page = signed_in(client, maintainer).get(PAGE).content.decode()
    assert 'data-namespace="acme"' in page and 'data-namespace="acme-internal"' in page
    assert "Hidden: not shown to the public." in page
    # Only Owners get the forms.
    assert "Add a child namespace" not in page and "Remove acme-internal" not in page


def test_the_page_is_a_tab_of_the_organizations_management(client, root, maintainer):
    client = signed_in(client, maintainer)
    people = client.get("/manage/organization/acme/").content.decode()
    assert f'href="{PAGE}"' in people
    page = client.get(PAGE).content.decode()
    assert f'href="{PAGE}" aria-current="page"' in page


def test_an_outsider_gets_a_404(client, root, outsider):
    assert signed_in(client, outsider).get(PAGE).status_code == 404


def test_an_organization_without_grants(client, acme, owner):
    page = signed_in(client, owner).get(PAGE).content.decode()
    assert "The organization holds no namespace." in page
    assert "Add a child namespace" not in page


def test_an_owner_adds_and_removes_a_child(client, root, owner):
    client = signed_in(client, owner)
    assert "Add a child namespace" in client.get(PAGE).content.decode()
    response = client.post(
        PAGE + "add/", {"parent": "acme", "prefix": "acme-contrib", "is_open": "on"}
    )
    assert response.status_code == 302 and response["Location"] == PAGE
    assert messages_of(response) == ["The namespace acme-contrib is granted."]
    assert Namespace.objects.get(normalized_prefix="acme-contrib").is_open
    assert "Remove acme-contrib" in client.get(PAGE).content.decode()
    response = client.post(PAGE + "remove/", {"prefix": "acme-contrib"})
    assert messages_of(response) == ["The namespace acme-contrib is removed."]
    assert Namespace.objects.count() == 1


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"parent": "acme", "prefix": "other"}, "must start with 'acme-'"),
        ({"parent": "acme"}, "Name the root namespace and the child's prefix."),
        ({"parent": "acme", "prefix": "-bad"}, "not a valid namespace"),
    ],
)
def test_a_refused_child_says_why(client, root, owner, form, message):
    response = signed_in(client, owner).post(PAGE + "add/", form)
    assert response.status_code == 302
    (shown,) = messages_of(response)
    assert message in shown
    assert Namespace.objects.count() == 1


def test_removing_the_root_from_the_page_is_refused(client, root, owner):
    response = signed_in(client, owner).post(PAGE + "remove/", {"prefix": "acme"})
    assert messages_of(response) == ["A root namespace is revoked by the index's moderators."]
    assert Namespace.objects.count() == 1


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("add/", {"parent": "nope", "prefix": "nope-x"}),
        ("add/", {"parent": "-", "prefix": "x"}),
        ("remove/", {"prefix": "nope"}),
        ("remove/", {}),
    ],
)
def test_a_namespace_not_the_organizations_is_a_404(client, root, owner, outsider, path, form):
    make_namespace("nope", make_organization("Other", owners=[outsider]))
    assert signed_in(client, owner).post(PAGE + path, form).status_code == 404
    assert Namespace.objects.count() == 2


def test_a_manager_posting_gets_a_403(client, root, maintainer):
    response = signed_in(client, maintainer).post(
        PAGE + "add/", {"parent": "acme", "prefix": "acme-x"}
    )
    assert response.status_code == 403
