import time

import pyotp
import pytest
from django.urls import reverse

from accounts import two_factor
from accounts.models import Event, WebAuthnCredential

from .two_factor_helpers import ORIGIN, password_step
from .webauthn_authenticator import SoftwareAuthenticator

pytestmark = pytest.mark.django_db


def signed_in_as(client):
    return client.session.get("_auth_user_id")


def test_password_alone_does_not_sign_in_an_account_with_2fa(client, totp_owner):
    response = password_step(client)
    assert response["Location"] == reverse("login-two-factor")
    assert signed_in_as(client) is None
    assert not Event.objects.filter(tag="account:login:success").exists()
    page = client.get(reverse("login-two-factor"))
    html = page.content.decode()
    assert "private" in page["Cache-Control"]
    assert "Authenticator app" in html and "Recovery code" in html
    assert 'data-webauthn="authenticate"' not in html


def test_totp_completes_the_login_and_records_it(client, totp_owner):
    password_step(client, next_url="/help/")
    code = pyotp.TOTP(totp_owner.secret).now()
    response = client.post(
        reverse("login-two-factor"),
        {"method": "totp", "totp-code": code},
        REMOTE_ADDR="192.0.2.9",
    )
    assert response["Location"] == "/help/"
    assert signed_in_as(client) == str(totp_owner.pk)
    event = Event.objects.get(tag="account:login:success")
    assert (event.user, event.ip_address) == (totp_owner, "192.0.2.9")
    # The pending state is gone with the login.
    assert two_factor.LOGIN_PENDING_SESSION_KEY not in client.session


def test_a_totp_code_is_accepted_once(client, totp_owner):
    password_step(client)
    code = pyotp.TOTP(totp_owner.secret).now()
    client.post(reverse("login-two-factor"), {"method": "totp", "totp-code": code})
    client.logout()
    password_step(client)
    response = client.post(reverse("login-two-factor"), {"method": "totp", "totp-code": code})
    assert response.status_code == 200
    assert "That code is not right, or was used already." in response.content.decode()
    assert signed_in_as(client) is None
    event = Event.objects.get(tag="account:login:two-factor-failure")
    assert (event.user, event.details) == (totp_owner, {"method": "totp"})


def test_a_wrong_totp_code_is_refused(client, totp_owner):
    password_step(client)
    response = client.post(reverse("login-two-factor"), {"method": "totp", "totp-code": "12"})
    html = response.content.decode()
    assert "That code is not right" in html and 'aria-invalid="true"' in html
    assert 'aria-describedby="id_totp-code_helptext id_totp-code_error"' in html
    assert signed_in_as(client) is None


def test_an_empty_code_counts_as_a_failure(client, totp_owner):
    password_step(client)
    response = client.post(reverse("login-two-factor"), {"method": "recovery"})
    assert "This field is required." in response.content.decode()
    assert Event.objects.filter(tag="account:login:two-factor-failure").count() == 1


def test_unknown_method_is_a_bad_request(client, totp_owner):
    password_step(client)
    response = client.post(reverse("login-two-factor"), {"method": "sms", "sms-code": "1"})
    assert response.status_code == 400


def test_a_recovery_code_works_once_in_place_of_totp(client, totp_owner):
    code = totp_owner.codes[0]
    password_step(client)
    # Read aloud or copied with other grouping: only the hex digits count.
    response = client.post(
        reverse("login-two-factor"),
        {"method": "recovery", "recovery-code": code.replace("-", " ").upper()},
    )
    assert response["Location"] == reverse("account-settings")
    assert signed_in_as(client) == str(totp_owner.pk)
    assert Event.objects.filter(tag="account:two-factor:recovery-code-used").count() == 1
    client.logout()
    password_step(client)
    response = client.post(
        reverse("login-two-factor"), {"method": "recovery", "recovery-code": code}
    )
    assert response.status_code == 200
    assert signed_in_as(client) is None
    event = Event.objects.get(tag="account:login:two-factor-failure")
    assert event.details == {"method": "recovery"}
    assert two_factor.recovery_codes_remaining(totp_owner) == 7


def test_the_second_step_without_a_password_step_sends_to_login(client, totp_owner):
    response = client.get(reverse("login-two-factor"))
    assert response["Location"] == reverse("login")
    page = client.get(response["Location"]).content.decode()
    assert "Enter your password again." in page


def test_an_expired_second_step_is_refused(client, totp_owner, settings, monkeypatch):
    settings.TWO_FACTOR_LOGIN_MAX_AGE = 60
    password_step(client)
    later = time.time() + 61
    monkeypatch.setattr(two_factor.time, "time", lambda: later)
    code = pyotp.TOTP(totp_owner.secret).at(later)
    response = client.post(reverse("login-two-factor"), {"method": "totp", "totp-code": code})
    assert response["Location"] == reverse("login")
    assert signed_in_as(client) is None
    assert two_factor.LOGIN_PENDING_SESSION_KEY not in client.session


def test_a_deactivated_account_cannot_finish(client, totp_owner):
    password_step(client)
    totp_owner.is_active = False
    totp_owner.save()
    assert client.get(reverse("login-two-factor"))["Location"] == reverse("login")


def test_security_key_login_is_verified_for_real(client, key_owner):
    password_step(client, next_url="/help/")
    page = client.get(reverse("login-two-factor")).content.decode()
    assert 'data-webauthn="authenticate"' in page and "js/webauthn.js" in page
    # No authenticator app: only the key and recovery codes are offered.
    assert 'name="method" value="totp"' not in page
    options = client.post(reverse("login-two-factor-webauthn-options")).json()
    assert options["rpId"] == "testserver"
    key = WebAuthnCredential.objects.get()
    assert [c["id"] for c in options["allowCredentials"]] == [key.credential_id]
    assertion = key_owner.authenticator.get(options, origin=ORIGIN)
    response = client.post(
        reverse("login-two-factor-webauthn-verify"),
        {"credential": assertion},
        content_type="application/json",
    )
    assert response.json() == {"redirect": "/help/"}
    assert signed_in_as(client) == str(key_owner.pk)
    key.refresh_from_db()
    assert key.sign_count == 1 and key.last_used_at is not None
    assert Event.objects.filter(tag="account:login:success").count() == 1


def webauthn_attempt(client, key_owner, **tamper):
    password_step(client)
    options = client.post(reverse("login-two-factor-webauthn-options")).json()
    assertion = key_owner.authenticator.get(options, **{"origin": ORIGIN, **tamper})
    return client.post(
        reverse("login-two-factor-webauthn-verify"),
        {"credential": assertion},
        content_type="application/json",
    )


@pytest.mark.parametrize(
    ("tamper", "error"),
    [
        ({"origin": "https://evil.example"}, "Unexpected client data origin"),
        ({"rp_id": "evil.example"}, "Unexpected RP ID hash"),
    ],
)
def test_security_key_answers_for_another_site_are_refused(client, key_owner, tamper, error):
    response = webauthn_attempt(client, key_owner, **tamper)
    assert response.status_code == 400
    assert error in response.json()["error"]
    assert signed_in_as(client) is None
    event = Event.objects.get(tag="account:login:two-factor-failure")
    assert event.details == {"method": "webauthn"}


def test_a_security_key_answer_for_an_old_challenge_is_refused(client, key_owner):
    password_step(client)
    old = client.post(reverse("login-two-factor-webauthn-options")).json()
    client.post(reverse("login-two-factor-webauthn-options"))
    assertion = key_owner.authenticator.get(old, origin=ORIGIN)
    response = client.post(
        reverse("login-two-factor-webauthn-verify"),
        {"credential": assertion},
        content_type="application/json",
    )
    assert "challenge" in response.json()["error"]
    assert signed_in_as(client) is None


def test_a_replayed_assertion_is_refused(client, key_owner):
    password_step(client)
    options = client.post(reverse("login-two-factor-webauthn-options")).json()
    assertion = key_owner.authenticator.get(options, origin=ORIGIN)
    url = reverse("login-two-factor-webauthn-verify")
    client.post(url, {"credential": assertion}, content_type="application/json")
    client.logout()
    password_step(client)
    response = client.post(url, {"credential": assertion}, content_type="application/json")
    assert response.json()["error"] == "The security key request expired; try again."
    assert signed_in_as(client) is None


def test_a_cloned_key_with_an_old_counter_is_refused(client, key_owner):
    webauthn_attempt(client, key_owner)
    client.logout()
    key_owner.authenticator.sign_count = 0  # the clone's counter lags behind
    response = webauthn_attempt(client, key_owner)
    assert "sign count" in response.json()["error"]


def test_a_key_of_another_account_is_refused(client, key_owner, outsider):
    key_owner.authenticator = SoftwareAuthenticator()
    response = webauthn_attempt(client, key_owner)
    assert response.json()["error"] == "This security key is not registered to the account."


@pytest.mark.parametrize("body", ["nope", '{"credential": []}'])
def test_malformed_assertions_are_refused(client, key_owner, body):
    password_step(client)
    client.post(reverse("login-two-factor-webauthn-options"))
    response = client.post(
        reverse("login-two-factor-webauthn-verify"), body, content_type="application/json"
    )
    assert response.json()["error"] == "Send the credential as a JSON object."


def test_a_broken_assertion_is_refused(client, key_owner):
    password_step(client)
    options = client.post(reverse("login-two-factor-webauthn-options")).json()
    assertion = key_owner.authenticator.get(options, origin=ORIGIN)
    assertion["response"]["signature"] = "!!"
    response = client.post(
        reverse("login-two-factor-webauthn-verify"),
        {"credential": assertion},
        content_type="application/json",
    )
    assert "could not be verified" in response.json()["error"]


@pytest.mark.parametrize(
    "name", ["login-two-factor-webauthn-options", "login-two-factor-webauthn-verify"]
)
def test_webauthn_login_endpoints_need_a_pending_login(client, name):
    response = client.post(reverse(name))
    assert response.status_code == 400
    assert "enter your password again" in response.json()["error"]


def test_accounts_without_2fa_sign_in_with_the_password(client, owner):
    response = password_step(client)
    assert response["Location"] == reverse("account-settings")
    assert signed_in_as(client) == str(owner.pk)
