"""The admin signs people in through the site's login (second factor and rate
limits included) and, with REQUIRE_2FA_TO_MANAGE, admits staff with 2FA only."""

import pyotp
import pytest
from django.contrib.messages import get_messages

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # tests.conftest.verified_user's


def test_anonymous_visitors_are_sent_to_the_sites_login(client):
    response = client.get("/admin/")
    assert response["Location"] == "/admin/login/?next=/admin/"
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"] == "/account/login/?next=/admin/"


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", ""])
def test_the_login_never_sends_anyone_off_site(client, moderator, next_url):
    client.force_login(moderator)
    response = client.get("/admin/login/", {"next": next_url})
    assert response["Location"] == "/admin/"


def test_signed_in_moderators_go_where_they_were_going(client, moderator):
    client.force_login(moderator)
    response = client.get("/admin/login/", {"next": "/admin/moderation/malwarereport/"})
    assert response["Location"] == "/admin/moderation/malwarereport/"
    assert client.get("/admin/moderation/malwarereport/").status_code == 200


def test_staff_without_2fa_are_sent_to_add_it(client, moderator):
    moderator.totp_secret = ""
    moderator.save()
    client.force_login(moderator)
    response = client.get("/admin/")
    assert response["Location"] == "/admin/login/?next=/admin/"
    response = client.get(response["Location"])
    assert response["Location"] == "/account/two-factor/"
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "The admin needs two-factor authentication. "
        "Add an authenticator app or a security key first."
    ]


def test_without_the_setting_staff_without_2fa_get_in(client, moderator, settings):
    settings.REQUIRE_2FA_TO_MANAGE = False
    moderator.totp_secret = ""
    moderator.save()
    client.force_login(moderator)
    assert client.get("/admin/").status_code == 200


def test_accounts_that_are_not_staff_are_refused(client, outsider):
    client.force_login(outsider)
    assert client.get("/admin/login/").status_code == 403
    assert client.get("/admin/")["Location"] == "/admin/login/?next=/admin/"


def test_a_password_alone_does_not_open_the_admin(client, moderator):
    # Django's own admin login form would sign in with the password only.
    response = client.post(
        "/account/login/?next=/admin/",
        {"username": "mona", "password": PASSWORD, "next": "/admin/"},
    )
    assert response["Location"] == "/account/login/two-factor/"
    assert client.get("/admin/")["Location"] == "/admin/login/?next=/admin/"
    code = pyotp.TOTP(moderator.totp_secret).now()
    response = client.post("/account/login/two-factor/", {"method": "totp", "totp-code": code})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
