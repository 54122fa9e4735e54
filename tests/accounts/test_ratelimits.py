import pyotp
import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Email, User

from .test_forms import full_width
from .two_factor_helpers import PASSWORD, password_step

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_limits(settings):
    settings.RATELIMITS = {
        **settings.RATELIMITS,
        "login": (3, 300),
        "login-ip": (5, 300),
        "register": (2, 3600),
        "password-reset": (2, 3600),
        "password-reset-ip": (3, 3600),
    }


def assert_refused(response):
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    html = response.content.decode()
    assert "<h1>Too many attempts</h1>" in html and "Try again in" in html
    assert reverse("password-reset") in html


def login(client, username, password="wrong", ip="192.0.2.1"):  # noqa: S107
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_login_is_limited_per_username(client, owner, small_limits):
    for _ in range(3):
        assert login(client, "olivia").status_code == 200
    # The right password does not get through either, from anywhere.
    refused = login(client, "Olivia", PASSWORD, ip="198.51.100.1")
    assert_refused(refused)
    assert "_auth_user_id" not in client.session
    # Other accounts are not affected.
    assert login(client, "oscar").status_code == 200


def test_login_is_limited_per_ip(client, owner, small_limits):
    for number in range(5):
        login(client, f"user{number}")
    assert_refused(login(client, "olivia", PASSWORD))
    assert login(client, "olivia", PASSWORD, ip="192.0.2.2").status_code == 302


def test_login_is_limited_per_ipv6_network(client, owner, small_limits):
    # One client's /64 holds 2**64 addresses: each new one is no fresh allowance.
    for number in range(5):
        login(client, f"user{number}", ip=f"2001:db8:5:6::{number + 1}")
    assert_refused(login(client, "olivia", PASSWORD, ip="2001:db8:5:6::ff"))
    assert login(client, "olivia", PASSWORD, ip="2001:db8:5:7::1").status_code == 302


def test_failed_second_factors_count_against_the_login_limit(
    client,
    totp_owner,
    small_limits,
):
    # One password step and two wrong codes use up the three attempts.
    password_step(client)
    for _ in range(2):
        response = client.post(
            reverse("login-two-factor"), {"method": "totp", "totp-code": "000000"}
        )
        assert response.status_code == 200
    code = pyotp.TOTP(totp_owner.secret).now()
    refused = client.post(reverse("login-two-factor"), {"method": "totp", "totp-code": code})
    assert_refused(refused)
    assert "_auth_user_id" not in client.session


def test_failed_security_keys_count_and_are_refused_in_plain_text(
    client,
    totp_owner,
    small_limits,
):
    password_step(client)
    url = reverse("login-two-factor-webauthn-verify")
    for _ in range(2):
        assert client.post(url, "x", content_type="application/json").status_code == 400
    refused = client.post(url, "x", content_type="application/json")
    assert refused.status_code == 429
    assert refused["Retry-After"]
    assert "Too many attempts." in refused.content.decode()


def register(client, number, ip="192.0.2.1"):
    return client.post(
        reverse("register"),
        {
            "username": f"new{number}",
            "email": f"new{number}@example.com",
            "password1": "a long enough passphrase",
            "password2": "a long enough passphrase",
        },
        REMOTE_ADDR=ip,
    )


def test_registration_is_limited_per_ip(client, small_limits):
    # Mistakes in the form are not counted...
    client.post(reverse("register"), {"username": "x"}, REMOTE_ADDR="192.0.2.1")
    for number in range(2):
        assert register(client, number).status_code == 302
        client.logout()
    # ... accounts made are.
    assert_refused(register(client, 3))
    assert not User.objects.filter(username="new3").exists()
    assert register(client, 4, ip="192.0.2.2").status_code == 302


def test_password_reset_is_limited_per_address(client, owner, small_limits):
    Email.objects.create(user=owner, email="olivia@example.com", primary=True, verified=True)
    for _ in range(2):
        response = client.post(reverse("password-reset"), {"email": "olivia@example.com"})
        assert response.status_code == 302
    refused = client.post(
        reverse("password-reset"), {"email": "OLIVIA@example.com"}, REMOTE_ADDR="192.0.2.5"
    )
    assert_refused(refused)
    assert len(mail.outbox) == 2


def test_registration_is_limited_per_ipv6_network(client, small_limits):
    for number in range(2):
        assert register(client, number, ip=f"2001:db8::{number + 1}").status_code == 302
        client.logout()
    assert_refused(register(client, 3, ip="2001:db8::3"))


def test_password_reset_is_limited_per_ip(client, small_limits):
    for number in range(3):
        client.post(reverse("password-reset"), {"email": f"a{number}@example.com"})
    assert_refused(client.post(reverse("password-reset"), {"email": "b@example.com"}))


def test_password_reset_is_limited_per_ipv6_network(client, small_limits):
    for number in range(3):
        client.post(
            reverse("password-reset"),
            {"email": f"a{number}@example.com"},
            REMOTE_ADDR=f"2001:db8:9:9::{number + 1}",
        )
    refused = client.post(
        reverse("password-reset"), {"email": "b@example.com"}, REMOTE_ADDR="2001:db8:9:9::a"
    )
    assert_refused(refused)


# The form reads " olivia", "olivia\t" and the full-width spelling as "olivia":
# the limit must count them as "olivia" too, or each spelling is a fresh allowance.
SPELLINGS = [
    " olivia",
    "olivia ",
    "\tolivia",
    "olivia\n",
    "\u3000olivia",
    full_width("olivia"),
    "OLIVIA",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_no_spelling_of_the_username_gets_past_its_limit(client, owner, small_limits, spelling):
    for _ in range(3):
        assert login(client, "olivia").status_code == 200
    assert_refused(login(client, spelling, PASSWORD, ip="198.51.100.1"))
    assert "_auth_user_id" not in client.session


def test_every_spelling_counts_against_the_one_username(client, owner, small_limits):
    for spelling in ["\tolivia", full_width("olivia "), " Olivia"]:
        assert login(client, spelling).status_code == 200
    assert_refused(login(client, "olivia", PASSWORD, ip="198.51.100.1"))


@pytest.mark.parametrize(
    "spelling",
    [
        " olivia@example.com",
        "olivia@example.com\t",
        "Olivia@Example.COM",
        full_width("olivia@example.com"),
    ],
)
def test_no_spelling_of_the_address_gets_past_the_reset_limit(
    client, owner, small_limits, spelling
):
    Email.objects.create(user=owner, email="olivia@example.com", primary=True, verified=True)
    for _ in range(2):
        client.post(reverse("password-reset"), {"email": "olivia@example.com"})
    refused = client.post(reverse("password-reset"), {"email": spelling}, REMOTE_ADDR="192.0.2.5")
    assert_refused(refused)
    assert len(mail.outbox) == 2
