import pytest
from django.urls import reverse

from accounts.models import Event

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # the conftest users' password


def test_login_page_links_reset_and_registration(client):
    response = client.get(reverse("login"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "private" in response["Cache-Control"]
    assert reverse("password-reset") in html and reverse("register") in html
    # The header offers the way in to anonymous visitors.
    assert f'href="{reverse("login")}">Log in</a>' in html


def test_login_success_signs_in_and_records_an_event(client, owner):
    response = client.post(
        reverse("login"),
        {"username": "olivia", "password": PASSWORD},
        REMOTE_ADDR="192.0.2.7",
        HTTP_USER_AGENT="pytest",
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account-settings")
    assert client.session["_auth_user_id"] == str(owner.pk)
    event = Event.objects.get(tag="account:login:success")
    assert (event.user, event.actor, event.ip_address, event.user_agent) == (
        owner,
        owner,
        "192.0.2.7",
        "pytest",
    )


def test_login_honours_next(client, owner):
    response = client.post(
        reverse("login") + "?next=/help/",
        {"username": "olivia", "password": PASSWORD, "next": "/help/"},
    )
    assert response["Location"] == "/help/"


def test_login_failure_is_refused_and_recorded_for_the_account(client, owner):
    response = client.post(reverse("login"), {"username": "olivia", "password": "wrong"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    html = response.content.decode()
    assert 'role="alert"' in html and "Please enter a correct username and password" in html
    event = Event.objects.get(tag="account:login:failure")
    assert (event.user, event.actor) == (owner, None)
    assert event.details == {"username": "olivia"}
    assert "wrong" not in str(event.details)


def test_login_failure_for_an_unknown_name_is_recorded_without_account(client):
    client.post(reverse("login"), {"username": "nobody", "password": "wrong"})
    event = Event.objects.get(tag="account:login:failure")
    assert event.user is None
    assert event.details == {"username": "nobody"}


def test_signed_in_header_shows_account_and_a_logout_form(client, owner):
    client.force_login(owner)
    html = client.get(reverse("account-settings")).content.decode()
    assert f'href="{reverse("account-settings")}">Account</a>' in html
    assert f'<form action="{reverse("logout")}" method="post">' in html
    assert f'href="{reverse("login")}">Log in</a>' not in html


def test_logout_refuses_get(client, owner):
    client.force_login(owner)
    response = client.get(reverse("logout"))
    assert response.status_code == 405
    assert "_auth_user_id" in client.session


def test_logout_by_post_signs_out_and_goes_home(client, owner):
    client.force_login(owner)
    response = client.post(reverse("logout"))
    assert response["Location"] == reverse("home")
    assert "_auth_user_id" not in client.session


def test_signed_in_user_is_sent_from_login_to_settings(client, owner):
    client.force_login(owner)
    assert client.get(reverse("login"))["Location"] == reverse("account-settings")


@pytest.mark.parametrize("name", ["account-settings", "account-delete", "password-change"])
def test_account_pages_need_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")
