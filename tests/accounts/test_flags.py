"""The kill switches as the site sees them (accounts.flags): how they are read,
the registration page, read-only mode's 503 for writes and its banner."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from accounts import flags
from accounts.events import Actor
from accounts.models import AdminFlag, User
from moderation.services import kill_switch_set
from tests.factories import make_release

pytestmark = pytest.mark.django_db

REGISTRATION = {
    "username": "newcomer",
    "email": "newcomer@example.com",
    "password1": "a long enough passphrase",
    "password2": "a long enough passphrase",
}
TOKEN_FORM = {"description": "ci", "scope": "user", "expiry": "never"}


def turn_on(flag_id: str) -> None:
    """As a moderator would, without the moderator: the row alone."""
    AdminFlag.objects.filter(pk=flag_id).update(enabled=True)


def test_the_migration_made_every_switch_off():
    assert sorted(AdminFlag.objects.values_list("pk", flat=True)) == sorted(flags.KILL_SWITCHES)
    assert flags.enabled_flags() == frozenset()


def test_pages_read_only_the_cached_copy_and_gates_the_database(django_assert_num_queries):
    turn_on(flags.READ_ONLY)
    with django_assert_num_queries(0):
        # Nothing stored yet: all off, and no query for it.
        assert flags.enabled_flags() == frozenset()
    with django_assert_num_queries(1):
        assert flags.enabled_flags(fresh=True) == {flags.READ_ONLY}
    # The gate's read stored the copy the pages read.
    with django_assert_num_queries(0):
        assert flags.enabled_flags() == {flags.READ_ONLY}


def test_a_switch_stores_the_new_state_after_commit(moderator, django_capture_on_commit_callbacks):
    flag = AdminFlag.objects.get(pk=flags.DISALLOW_NEW_UPLOAD)
    with django_capture_on_commit_callbacks() as callbacks:
        kill_switch_set(flag=flag, enabled=True, actor=Actor(user=moderator), reason="incident")
    assert flags.enabled_flags() == frozenset()  # not before the commit
    for callback in callbacks:
        callback()
    assert cache.get(flags.CACHE_KEY) == {flags.DISALLOW_NEW_UPLOAD}
    assert flags.enabled_flags() == {flags.DISALLOW_NEW_UPLOAD}


# --- registration -----------------------------------------------------------------------


@pytest.mark.parametrize("flag_id", [flags.DISALLOW_NEW_USER_REGISTRATION, flags.READ_ONLY])
def test_the_registration_page_says_registration_is_closed(client, flag_id):
    turn_on(flag_id)
    response = client.get(reverse("register"))
    assert response.status_code == 403
    assert flags.REGISTRATION_DISABLED in response.content.decode()
    assert b'name="password1"' not in response.content


def test_registering_while_closed_makes_no_account(client):
    turn_on(flags.DISALLOW_NEW_USER_REGISTRATION)
    response = client.post(reverse("register"), REGISTRATION)
    assert response.status_code == 403
    assert flags.REGISTRATION_DISABLED in response.content.decode()
    assert not User.objects.filter(username="newcomer").exists()


def test_registration_works_with_the_other_switches_on(client):
    for flag_id in (flags.DISALLOW_NEW_UPLOAD, flags.DISALLOW_NEW_PROJECT_REGISTRATION):
        turn_on(flag_id)
    response = client.post(reverse("register"), REGISTRATION)
    assert response.status_code == 302
    assert User.objects.filter(username="newcomer").exists()


# --- read-only mode ---------------------------------------------------------------------


def test_read_only_refuses_account_changes_with_a_503(client, owner):
    client.force_login(owner)
    turn_on(flags.READ_ONLY)
    response = client.post(reverse("token-create"), TOKEN_FORM)
    assert response.status_code == 503
    assert flags.READ_ONLY_MESSAGE in response.content.decode()
    assert not owner.api_tokens.exists()


def test_read_only_refuses_project_changes_with_a_503(client, owner, project):
    client.force_login(owner)
    turn_on(flags.READ_ONLY)
    response = client.post(reverse("manage-project-delete", args=[project.normalized_name]))
    assert response.status_code == 503
    project.refresh_from_db()  # still there


def test_read_only_refuses_registration_with_a_503(client):
    turn_on(flags.READ_ONLY)
    assert client.post(reverse("register"), REGISTRATION).status_code == 503
    assert not User.objects.filter(username="newcomer").exists()


def test_read_only_lets_people_sign_in(client, owner):
    turn_on(flags.READ_ONLY)
    response = client.post(
        reverse("login"), {"username": "olivia", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_read_only_keeps_reads_working(client, project):
    turn_on(flags.READ_ONLY)
    assert client.get(reverse("simple-detail", args=[project.normalized_name])).status_code == 200
    assert client.get(reverse("project", args=[project.normalized_name])).status_code == 200
    xmlrpc = (
        b"<?xml version='1.0'?><methodCall><methodName>list_packages</methodName>"
        b"<params></params></methodCall>"
    )
    response = client.post(reverse("xmlrpc"), xmlrpc, content_type="text/xml")
    assert response.status_code == 200 and b"Sample.Project" in response.content


def test_writes_work_when_read_only_is_off(client, owner):
    client.force_login(owner)
    response = client.post(reverse("token-create"), TOKEN_FORM)
    assert response.status_code == 200
    assert owner.api_tokens.exists()


def test_the_banner_shows_while_read_only_is_on(
    client, moderator, django_capture_on_commit_callbacks
):
    banner = "Read-only mode: browsing and installing packages work"
    assert banner not in client.get(reverse("home")).content.decode()
    flag = AdminFlag.objects.get(pk=flags.READ_ONLY)
    with django_capture_on_commit_callbacks(execute=True):
        kill_switch_set(flag=flag, enabled=True, actor=Actor(user=moderator), reason="migration")
    assert banner in client.get(reverse("home")).content.decode()
    flag.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        kill_switch_set(flag=flag, enabled=False, actor=Actor(user=moderator), reason="done")
    assert banner not in client.get(reverse("home")).content.decode()


def test_the_banner_costs_no_query(client, django_assert_num_queries):
    client.get(reverse("help"))  # whatever the page itself caches
    flags.enabled_flags(fresh=True)  # nothing on
    with django_assert_num_queries(0):
        response = client.get(reverse("help"))
    assert b"Read-only mode" not in response.content


@pytest.mark.parametrize("flag_id", flags.KILL_SWITCHES)
def test_the_switches_shown_on_pages_are_those_that_change_a_page(client, project, flag_id):
    make_release(project, "1.0")
    # What moderation purges at the edges on a switch (flags.SHOWN_ON_PAGES)
    # must be what the pages show.
    urls = [reverse("home"), reverse("help"), f"/project/{project.normalized_name}/"]
    flags.enabled_flags(fresh=True)
    before = [client.get(url).content for url in urls]
    turn_on(flag_id)
    flags.enabled_flags(fresh=True)
    changed = [client.get(url).content for url in urls] != before
    assert changed is (flag_id in flags.SHOWN_ON_PAGES)
