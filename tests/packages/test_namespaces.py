"""packages.namespaces: which grant a name answers to, the rules a grant keeps
(no overlapping roots, child grants inside their root's prefix and
organization), the upload rule (409 for a stranger under a restricted grant;
the organization's Owners and Managers create projects owned by it), and what a
change of grant does to the projects under it (journal, cached pages, edges)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.events import Actor
from accounts.tokens import api_token_create
from packages import namespaces, simple
from packages.cache import simple_detail_key
from packages.models import EdgePurge, JournalEntry, Namespace, Project, Role
from packages.namespaces import (
    NamespaceError,
    check_grant,
    grant_for,
    namespace_create,
    namespace_delete,
    namespace_update,
    normalize_prefix,
    projects_under,
)
from tests.factories import make_namespace, make_organization, make_wheel, post_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(owner):
    return make_organization("Acme", owners=[owner])


def shell() -> Actor:
    return Actor.shell()


# --- names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "normalized"),
    [("acme", "acme"), ("Acme.Cloud", "acme-cloud"), (" foo_bar ", "foo-bar"), ("A", "a")],
)
def test_a_prefix_is_a_project_name_normalized(prefix, normalized):
    assert normalize_prefix(prefix) == normalized


@pytest.mark.parametrize("prefix", ["", "-acme", "acme-", "ac me", "acme/x", None, "é"])
def test_a_prefix_that_is_no_project_name_is_refused(prefix):
    with pytest.raises(NamespaceError, match="not a valid namespace"):
        normalize_prefix(prefix)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("acme", True),
        ("acme-foo", True),
        ("acme-foo-bar", True),
        ("acmefoo", False),
        ("acm", False),
        ("foo-acme", False),
    ],
)
def test_a_grant_covers_its_name_and_hyphenated_names(acme, name, expected):
    make_namespace("acme", acme)
    assert (grant_for(name) is not None) is expected
    assert projects_under("acme").filter(normalized_name=name).exists() is False
    Project.objects.create(name=name, normalized_name=name)
    assert projects_under("acme").filter(normalized_name=name).exists() is expected


def test_a_name_answers_to_the_longest_grant_it_matches(acme):
    root = make_namespace("acme", acme)
    child = make_namespace("acme-contrib", acme, parent=root, is_open=True)
    assert grant_for("acme-contrib-x") == child
    assert grant_for("acme-contrib") == child
    assert grant_for("acme-contribx") == root
    assert grant_for("acme") == root
    assert grant_for("acmecontrib") is None
    assert grant_for("other") is None


def test_matching_is_one_query_whatever_the_grants(acme, django_assert_num_queries):
    make_namespace("acme", acme)
    with django_assert_num_queries(1):
        assert grant_for("acme-a-b-c-d").normalized_prefix == "acme"


# --- grant rules -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("existing", "proposed"),
    [("foo-bar", "foo"), ("foo", "foo-bar"), ("foo", "foo"), ("foo-bar", "foo-bar-baz")],
)
def test_root_grants_never_overlap(acme, existing, proposed):
    make_namespace(existing, acme)
    with pytest.raises(NamespaceError):
        check_grant(proposed, organization=acme, parent=None, is_open=False, is_hidden=False)


@pytest.mark.parametrize(("existing", "proposed"), [("foo", "foobar"), ("foobar", "foo")])
def test_a_prefix_without_the_hyphen_is_no_overlap(acme, existing, proposed):
    make_namespace(existing, acme)
    check_grant(proposed, organization=acme, parent=None, is_open=False, is_hidden=False)


def test_overlap_names_the_grant_in_the_way(acme):
    make_namespace("foo-bar", acme)
    with pytest.raises(NamespaceError, match="overlaps the granted namespace 'foo-bar'"):
        check_grant("foo", organization=acme, parent=None, is_open=False, is_hidden=False)


def test_a_hidden_grant_is_never_open(acme):
    with pytest.raises(NamespaceError, match="hidden namespace can't be open"):
        check_grant("foo", organization=acme, parent=None, is_open=True, is_hidden=True)


def test_a_child_grant_lies_inside_its_root(acme):
    root = make_namespace("acme", acme)
    check_grant("acme-contrib", organization=acme, parent=root, is_open=True, is_hidden=False)
    with pytest.raises(NamespaceError, match="must start with 'acme-'"):
        check_grant("acmecontrib", organization=acme, parent=root, is_open=False, is_hidden=False)


def test_a_child_grant_belongs_to_its_roots_organization(acme, outsider):
    root = make_namespace("acme", acme)
    other = make_organization("Other", owners=[outsider])
    with pytest.raises(NamespaceError, match="belongs to its organization 'Acme'"):
        check_grant("acme-x", organization=other, parent=root, is_open=False, is_hidden=False)


def test_a_child_has_no_children(acme):
    root = make_namespace("acme", acme)
    child = make_namespace("acme-x", acme, parent=root)
    with pytest.raises(NamespaceError, match="itself a child namespace"):
        check_grant("acme-x-y", organization=acme, parent=child, is_open=False, is_hidden=False)


def test_a_child_may_sit_inside_a_sibling(acme):
    # Both children of the root: the longer one wins for its names.
    root = make_namespace("acme", acme)
    make_namespace("acme-x", acme, parent=root)
    check_grant("acme-x-y", organization=acme, parent=root, is_open=False, is_hidden=False)


# --- the upload rule -----------------------------------------------------------------


@pytest.fixture
def restricted(acme):
    return make_namespace("acme", acme)


def upload(client, user, name: str):
    token = api_token_create(user=user, description="ci").secret
    return post_upload(client, make_wheel(name), token)


def test_a_stranger_cannot_create_a_project_under_a_restricted_grant(client, restricted, outsider):
    response = upload(client, outsider, "Acme.Foo")
    assert response.status_code == 409
    assert response.reason_phrase == (
        "The name 'Acme.Foo' is in the namespace 'acme' reserved for the organization 'Acme'; "
        "only its Owners and Managers can create projects under it. Choose another name, or "
        "ask the organization. See /namespace/acme for more information."
    )
    assert not Project.objects.exists()


def test_the_name_of_the_grant_itself_is_reserved_too(client, restricted, outsider):
    assert upload(client, outsider, "acme").status_code == 409


def test_a_name_that_only_starts_like_the_prefix_is_free(client, restricted, outsider):
    assert upload(client, outsider, "acmefoo").status_code == 200
    assert Project.objects.get().organization is None


@pytest.mark.parametrize("role", ["owners", "managers"])
def test_the_organizations_owners_and_managers_create_projects_it_owns(client, outsider, role):
    acme = make_organization("Acme", **{role: [outsider]})
    make_namespace("acme", acme)
    assert upload(client, outsider, "acme-foo").status_code == 200
    project = Project.objects.get()
    assert project.organization == acme
    # The uploader is an Owner as on every new project.
    assert Role.objects.get(project=project).user == outsider


def test_a_plain_member_is_refused(client, outsider):
    acme = make_organization("Acme", members=[outsider])
    make_namespace("acme", acme)
    assert upload(client, outsider, "acme-foo").status_code == 409


def test_nobody_creates_under_a_deactivated_organizations_grant(client, restricted, acme, owner):
    acme.is_active = False
    acme.save()
    assert upload(client, owner, "acme-foo").status_code == 409


def test_anyone_may_create_under_an_open_grant_and_owns_the_project(client, acme, outsider):
    make_namespace("acme", acme, is_open=True)
    assert upload(client, outsider, "acme-foo").status_code == 200
    assert Project.objects.get().organization is None


def test_the_organizations_projects_go_to_it_under_an_open_grant_too(client, acme, owner):
    make_namespace("acme", acme, is_open=True)
    assert upload(client, owner, "acme-foo").status_code == 200
    assert Project.objects.get().organization == acme


def test_an_open_child_lets_anyone_in_under_a_restricted_root(client, restricted, acme, outsider):
    make_namespace("acme-contrib", acme, parent=restricted, is_open=True)
    assert upload(client, outsider, "acme-contrib-foo").status_code == 200
    assert upload(client, outsider, "acme-core").status_code == 409


def test_a_hidden_grant_refuses_without_naming_its_organization(client, acme, outsider):
    make_namespace("acme", acme, is_hidden=True)
    response = upload(client, outsider, "acme-foo")
    assert response.status_code == 409
    assert "Acme'" not in response.reason_phrase
    assert response.reason_phrase.startswith("The name 'acme-foo' is reserved on this index")


def test_existing_projects_under_a_new_grant_take_uploads_as_before(client, owner, outsider):
    project = Project.objects.create(name="acme-old", normalized_name="acme-old")
    Role.objects.create(project=project, user=outsider, role_name=Role.Name.OWNER)
    make_namespace("acme", make_organization("Acme", owners=[owner]))
    assert upload(client, outsider, "acme-old").status_code == 200
    project.refresh_from_db()
    assert project.organization is None


# --- changes -----------------------------------------------------------------------


@pytest.fixture
def under(outsider):
    """Projects under ``acme`` and one merely alike, with their pages cached."""
    names = ["acme", "acme-foo", "acmefoo"]
    for name in names:
        project = Project.objects.create(name=name, normalized_name=name)
        Role.objects.create(project=project, user=outsider, role_name=Role.Name.OWNER)
        simple.detail_page(name, "json")
    return names


def test_a_grant_moves_the_serials_of_the_projects_under_it(acme, under, settings):
    settings.EDGE_PURGE_URLS = ["http://127.0.0.1:9/"]
    grant = namespace_create(prefix="Acme", organization=acme, actor=shell(), reason="verified")
    assert grant.normalized_prefix == "acme" and grant.prefix == "Acme"
    journal = JournalEntry.objects.filter(action="namespace granted acme")
    assert sorted(journal.values_list("name", flat=True)) == ["acme", "acme-foo"]
    for name in ("acme", "acme-foo"):
        project = Project.objects.get(normalized_name=name)
        assert project.last_serial == journal.get(name=name).id
    assert Project.objects.get(normalized_name="acmefoo").last_serial == 0


def test_a_grant_purges_the_pages_under_it_and_the_namespace_endpoints(
    acme, under, settings, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    settings.EDGE_PURGE_URLS = ["http://127.0.0.1:9/"]
    with django_capture_on_commit_callbacks(execute=True):
        namespace_create(prefix="acme", organization=acme, actor=shell())
    assert cache.get(simple_detail_key("acme-foo", "json")) is None
    assert cache.get(simple_detail_key("acmefoo", "json")) is not None
    keys = EdgePurge.objects.order_by("id").last().keys.split()
    assert "namespaces" in keys
    assert {"simple-acme", "simple-acme-foo", "json-acme-foo", "project-acme-foo"} <= set(keys)
    assert "simple-acmefoo" not in keys
    # The page rendered again shows the grant.
    page = simple.detail_page("acme-foo", "json")
    assert b'"namespace":{"prefix":"acme","authorized":false,"open":false}' in page.body


def test_a_page_rendered_before_the_grant_is_not_kept(acme, under, monkeypatch):
    # The race: a render read the old grants, then the grant committed and
    # purged before the render stored its page. The serial it moved catches it.
    from django.core.cache import cache

    cache.clear()
    real = simple._with_namespace

    def grant_meanwhile(listing):
        listing = real(listing)
        namespace_create(prefix="acme", organization=acme, actor=shell())
        return listing

    monkeypatch.setattr(simple, "_with_namespace", grant_meanwhile)
    page = simple.detail_page("acme-foo", "json")
    assert b'"namespace":null' in page.body
    assert cache.get(simple_detail_key("acme-foo", "json")) is None


def test_the_same_prefix_twice_is_refused(acme):
    namespace_create(prefix="acme", organization=acme, actor=shell())
    with pytest.raises(NamespaceError, match="already granted"):
        namespace_create(prefix="Acme", organization=acme, actor=shell())


def test_a_grant_lost_to_a_concurrent_one_is_refused(acme, monkeypatch):
    # Both checked before either wrote (SQLite's single writer lets that
    # happen): the unique prefix refuses the second.
    monkeypatch.setattr(namespaces, "check_grant", lambda *args, **kwargs: None)
    namespace_create(prefix="acme", organization=acme, actor=shell())
    with pytest.raises(NamespaceError, match="already granted"):
        namespace_create(prefix="acme", organization=acme, actor=shell())
    assert Namespace.objects.count() == 1


def test_grant_creation_takes_the_grants_lock_on_postgresql(acme):
    with CaptureQueriesContext(connection) as queries:
        namespace_create(prefix="acme", organization=acme, actor=shell())
    locked = any("pg_advisory_xact_lock" in query["sql"] for query in queries)
    assert locked is (connection.vendor == "postgresql")


def test_update_changes_the_flags_and_refuses_nonsense(acme, under):
    grant = make_namespace("acme", acme)
    grant = namespace_update(grant=grant, actor=shell(), is_open=True)
    assert grant.is_open and not Namespace.objects.get().is_hidden
    assert JournalEntry.objects.filter(action="namespace changed acme").count() == 2
    with pytest.raises(NamespaceError, match="already so"):
        namespace_update(grant=grant, actor=shell(), is_open=True)
    with pytest.raises(NamespaceError, match="can't be open"):
        namespace_update(grant=grant, actor=shell(), is_hidden=True)
    grant = namespace_update(grant=grant, actor=shell(), is_open=False, is_hidden=True)
    assert (grant.is_open, grant.is_hidden) == (False, True)


def test_revoking_a_root_revokes_its_children_and_frees_the_names(client, acme, outsider):
    root = make_namespace("acme", acme)
    make_namespace("acme-x", acme, parent=root)
    assert namespace_delete(grant=root, actor=shell()) == ["acme", "acme-x"]
    assert not Namespace.objects.exists()
    assert upload(client, outsider, "acme-x-foo").status_code == 200


def test_hidden_grants_leave_the_public_journal_alone(acme, under):
    # Their prefix must not reach the journal (XML-RPC changelog), and no shown
    # namespace key changes.
    grant = namespace_create(prefix="acme", organization=acme, actor=shell(), is_hidden=True)
    child = namespace_create(prefix="acme-foo", organization=acme, actor=shell(), parent=grant)
    namespace_delete(grant=child, actor=shell())
    namespace_delete(grant=grant, actor=shell())
    assert not JournalEntry.objects.filter(action__startswith="namespace").exists()


def test_showing_or_hiding_a_grant_is_journaled(acme, under):
    grant = make_namespace("acme", acme, is_hidden=True)
    grant = namespace_update(grant=grant, actor=shell(), is_hidden=False)
    namespace_update(grant=grant, actor=shell(), is_hidden=True)
    assert JournalEntry.objects.filter(action="namespace changed acme").count() == 4


def test_a_hidden_child_leaves_its_visible_root_shown(acme, under):
    root = make_namespace("acme", acme)
    make_namespace("acme-foo", acme, parent=root, is_hidden=True)
    found = namespaces.project_namespace("acme-foo")
    assert (found.prefix, found.owner) == ("acme", "Acme")


def test_opening_a_child_of_a_hidden_root_is_not_journaled(acme, under):
    root = make_namespace("acme", acme, is_hidden=True)
    child = make_namespace("acme-foo", acme, parent=root)
    assert namespace_update(grant=child, actor=shell(), is_open=True).is_open
    assert not JournalEntry.objects.filter(action__startswith="namespace").exists()
