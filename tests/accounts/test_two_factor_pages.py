import re

import pyotp
import pytest
from django.urls import reverse

from accounts.models import Event, RecoveryCode, WebAuthnCredential
from accounts.two_factor import totp_provisioning_uri

from .two_factor_helpers import ORIGIN, PASSWORD, add_key, enrol_totp, shown_codes, shown_secret
from .webauthn_authenticator import SoftwareAuthenticator, b64url

pytestmark = pytest.mark.django_db


def test_status_page_without_two_factor(signed_in):
    response = signed_in.get(reverse("two-factor"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "private" in response["Cache-Control"]
    assert "is <strong>off</strong>" in html
    assert reverse("two-factor-totp-add") in html
    assert "Recovery codes are made when" in html


def test_pages_need_login(client):
    for name in ["two-factor", "two-factor-totp-add", "account-security"]:
        response = client.get(reverse(name))
        assert response["Location"].startswith(reverse("login") + "?next=")


def test_settings_links_two_factor_and_history(signed_in):
    html = signed_in.get(reverse("account-settings")).content.decode()
    assert f'href="{reverse("two-factor")}"' in html
    assert f'href="{reverse("account-security")}"' in html
    assert "off; managing projects needs it" in html


def test_totp_enrolment_with_a_real_code(signed_in, owner):
    page = signed_in.get(reverse("two-factor-totp-add"))
    html = page.content.decode()
    assert "private" in page["Cache-Control"]
    secret = shown_secret(html)
    # The QR code is drawn here, inline, and no other site is involved.
    assert "<svg" in html and 'class="segno"' in html
    assert "googleapis" not in html and "otpauth://" not in html
    # Reloading keeps the same pending secret; the account does not have it yet.
    assert shown_secret(signed_in.get(reverse("two-factor-totp-add")).content.decode()) == secret
    owner.refresh_from_db()
    assert owner.totp_secret == ""

    response = signed_in.post(reverse("two-factor-totp-add"), {"code": pyotp.TOTP(secret).now()})
    assert response["Location"] == reverse("two-factor-recovery-codes")
    owner.refresh_from_db()
    assert owner.totp_secret == secret and owner.totp_last_step is not None
    assert Event.objects.filter(tag="account:two-factor:totp-added", user=owner).exists()
    assert Event.objects.filter(tag="account:two-factor:recovery-codes-generated").count() == 1

    codes_page = signed_in.get(reverse("two-factor-recovery-codes"))
    codes = shown_codes(codes_page.content.decode())
    assert len(codes) == 8 and len(set(codes)) == 8
    assert "Your authenticator app is set up." in codes_page.content.decode()
    stored = set(RecoveryCode.objects.filter(user=owner).values_list("code_digest", flat=True))
    assert codes[0] not in str(stored) and len(stored) == 8
    # Shown once: the next visit offers new codes instead.
    again = signed_in.get(reverse("two-factor-recovery-codes")).content.decode()
    assert shown_codes(again) == [] and "You have 8 unused recovery codes" in again

    status = signed_in.get(reverse("two-factor")).content.decode()
    assert "is <strong>on</strong>" in status and "8 of 8 recovery codes left" in status
    # A set-up app can't be set up twice.
    response = signed_in.get(reverse("two-factor-totp-add"))
    assert response["Location"] == reverse("two-factor")


def test_provisioning_uri_names_the_site(settings, owner):
    settings.SITE_NAME = "Acme Packages"
    uri = totp_provisioning_uri(owner, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    assert uri.startswith(
        "otpauth://totp/Acme%20Packages:olivia?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    )
    assert "issuer=Acme%20Packages" in uri


def test_totp_enrolment_refuses_a_wrong_code(signed_in, owner):
    html = signed_in.get(reverse("two-factor-totp-add")).content.decode()
    secret = shown_secret(html)
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1000000:06d}"
    response = signed_in.post(reverse("two-factor-totp-add"), {"code": wrong})
    page = response.content.decode()
    assert response.status_code == 200
    assert "That code is not right" in page and 'aria-invalid="true"' in page
    owner.refresh_from_db()
    assert owner.totp_secret == ""
    # The same pending secret is offered again.
    assert shown_secret(page) == secret


def test_totp_enrolment_with_an_empty_code_shows_the_form_again(signed_in):
    response = signed_in.post(reverse("two-factor-totp-add"), {"code": ""})
    assert "This field is required." in response.content.decode()


def test_second_factor_added_makes_no_new_codes(signed_in, owner):
    enrol_totp(signed_in)
    _authenticator, response = add_key(signed_in)
    assert response.json() == {"redirect": reverse("two-factor")}
    assert RecoveryCode.objects.filter(user=owner).count() == 8
    assert Event.objects.filter(tag="account:two-factor:recovery-codes-generated").count() == 1


def test_removing_totp_needs_the_password(signed_in, owner):
    enrol_totp(signed_in)
    page = signed_in.get(reverse("two-factor-totp-remove"))
    assert '<label for="id_password"' in page.content.decode()
    response = signed_in.post(reverse("two-factor-totp-remove"), {"password": "wrong"})
    assert "That is not your password." in response.content.decode()
    owner.refresh_from_db()
    assert owner.has_totp

    response = signed_in.post(reverse("two-factor-totp-remove"), {"password": PASSWORD})
    assert response["Location"] == reverse("two-factor")
    owner.refresh_from_db()
    assert (owner.totp_secret, owner.totp_last_step) == ("", None)
    # It was the last factor: the recovery codes go too.
    assert not RecoveryCode.objects.filter(user=owner).exists()
    assert Event.objects.filter(tag="account:two-factor:totp-removed", user=owner).exists()
    # Nothing left to remove.
    assert signed_in.get(reverse("two-factor-totp-remove"))["Location"] == reverse("two-factor")


def test_removing_one_of_two_factors_keeps_the_codes(signed_in, owner):
    enrol_totp(signed_in)
    add_key(signed_in)
    signed_in.post(reverse("two-factor-totp-remove"), {"password": PASSWORD})
    assert RecoveryCode.objects.filter(user=owner).count() == 8


def test_security_key_registration_is_verified_for_real(signed_in, owner):
    page = signed_in.get(reverse("two-factor-webauthn-add")).content.decode()
    assert "js/webauthn.js" in page and 'data-webauthn="register"' in page
    authenticator, response = add_key(signed_in, label="blue key")
    assert response.status_code == 200
    assert response.json() == {"redirect": reverse("two-factor-recovery-codes")}
    key = WebAuthnCredential.objects.get(user=owner)
    assert key.label == "blue key"
    assert key.transports == ["usb"]
    assert key.credential_id == b64url(authenticator.credential_id)
    assert key.public_key == b64url(authenticator.cose_public_key())
    event = Event.objects.get(tag="account:two-factor:webauthn-added")
    assert event.details == {"label": "blue key"}
    codes = shown_codes(signed_in.get(reverse("two-factor-recovery-codes")).content.decode())
    assert len(codes) == 8
    status = signed_in.get(reverse("two-factor")).content.decode()
    assert "blue key" in status and "not used yet" in status


def test_registration_options_list_existing_keys_and_the_site(signed_in, settings):
    settings.SITE_NAME = "Acme Packages"
    add_key(signed_in)
    options = signed_in.post(reverse("two-factor-webauthn-add-options")).json()
    assert options["rp"] == {"id": "testserver", "name": "Acme Packages"}
    assert options["user"]["name"] == "olivia"
    assert len(options["excludeCredentials"]) == 1


def test_registration_with_a_configured_rp_id(signed_in, settings, owner):
    settings.WEBAUTHN_RP_ID = "example.org"
    options = signed_in.post(reverse("two-factor-webauthn-add-options")).json()
    assert options["rp"]["id"] == "example.org"
    credential = SoftwareAuthenticator().create(options, origin=ORIGIN)
    response = signed_in.post(
        reverse("two-factor-webauthn-add-verify"),
        {"label": "k", "credential": credential},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert WebAuthnCredential.objects.filter(user=owner).count() == 1


def test_registration_from_another_origin_is_refused(signed_in, owner):
    options = signed_in.post(reverse("two-factor-webauthn-add-options")).json()
    credential = SoftwareAuthenticator().create(options, origin="https://evil.example")
    response = signed_in.post(
        reverse("two-factor-webauthn-add-verify"),
        {"label": "k", "credential": credential},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "could not be verified" in response.json()["error"]
    assert "evil.example" in response.json()["error"]
    assert not WebAuthnCredential.objects.exists()


def test_registration_for_another_rp_id_is_refused(signed_in):
    options = signed_in.post(reverse("two-factor-webauthn-add-options")).json()
    credential = SoftwareAuthenticator().create(options, origin=ORIGIN, rp_id="evil.example")
    response = signed_in.post(
        reverse("two-factor-webauthn-add-verify"),
        {"label": "k", "credential": credential},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert not WebAuthnCredential.objects.exists()


def test_registration_with_another_challenge_is_refused(signed_in):
    options = signed_in.post(reverse("two-factor-webauthn-add-options")).json()
    signed_in.post(reverse("two-factor-webauthn-add-options"))  # a newer challenge
    credential = SoftwareAuthenticator().create(options, origin=ORIGIN)
    response = signed_in.post(
        reverse("two-factor-webauthn-add-verify"),
        {"label": "k", "credential": credential},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "challenge" in response.json()["error"]


def test_registration_answer_is_usable_once(signed_in, owner):
    options = signed_in.post(reverse("two-factor-webauthn-add-options")).json()
    credential = SoftwareAuthenticator().create(options, origin=ORIGIN)
    body = {"label": "k", "credential": credential}
    url = reverse("two-factor-webauthn-add-verify")
    assert signed_in.post(url, body, content_type="application/json").status_code == 200
    body["label"] = "k2"
    again = signed_in.post(url, body, content_type="application/json")
    assert again.status_code == 400
    assert again.json()["error"] == "The security key request expired; try again."


def test_the_same_key_is_not_registered_twice(signed_in, owner, outsider, client):
    authenticator, _ = add_key(signed_in, label="one")
    _, response = add_key(signed_in, label="two", authenticator=authenticator)
    assert response.json()["error"] == "This security key is already registered."
    assert WebAuthnCredential.objects.count() == 1


@pytest.mark.parametrize(
    ("label", "error"),
    [
        ("", "Give the key a name of 1 to 64 characters."),
        ("x" * 65, "Give the key a name of 1 to 64 characters."),
        ("taken", "You already have a key with that name."),
    ],
)
def test_registration_label_rules(signed_in, label, error):
    add_key(signed_in, label="taken")
    _, response = add_key(signed_in, label=label)
    assert response.status_code == 400
    assert response.json()["error"] == error


@pytest.mark.parametrize("body", ["not json", "[1]", '{"label": "k"}', '{"credential": 1}'])
def test_registration_refuses_malformed_bodies(signed_in, body):
    signed_in.post(reverse("two-factor-webauthn-add-options"))
    response = signed_in.post(
        reverse("two-factor-webauthn-add-verify"), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON object" in response.json()["error"]


def test_registration_refuses_a_broken_credential(signed_in):
    signed_in.post(reverse("two-factor-webauthn-add-options"))
    response = signed_in.post(
        reverse("two-factor-webauthn-add-verify"),
        {"label": "k", "credential": {"id": "x"}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "could not be verified" in response.json()["error"]


def test_registration_needs_post_and_login(client, signed_in):
    assert signed_in.get(reverse("two-factor-webauthn-add-options")).status_code == 405
    signed_in.logout()
    response = client.post(reverse("two-factor-webauthn-add-options"))
    assert response["Location"].startswith(reverse("login"))


def test_removing_a_key_needs_the_password(signed_in, owner):
    add_key(signed_in, label="blue key")
    key = WebAuthnCredential.objects.get()
    url = reverse("two-factor-webauthn-remove", args=[key.pk])
    page = signed_in.get(url).content.decode()
    assert "Remove the security key “blue key”" in page
    response = signed_in.post(url, {"password": "nope"})
    assert "That is not your password." in response.content.decode()
    assert WebAuthnCredential.objects.exists()
    response = signed_in.post(url, {"password": PASSWORD})
    assert response["Location"] == reverse("two-factor")
    assert not WebAuthnCredential.objects.exists()
    assert not RecoveryCode.objects.filter(user=owner).exists()
    event = Event.objects.get(tag="account:two-factor:webauthn-removed")
    assert (event.user, event.details) == (owner, {"label": "blue key"})


def test_someone_elses_key_cannot_be_removed(client, owner, outsider):
    client.force_login(outsider)
    add_key(client)
    key = WebAuthnCredential.objects.get()
    client.force_login(owner)
    response = client.post(
        reverse("two-factor-webauthn-remove", args=[key.pk]), {"password": PASSWORD}
    )
    assert response.status_code == 404
    assert WebAuthnCredential.objects.filter(pk=key.pk).exists()


def test_regenerating_recovery_codes_needs_the_password_and_replaces_them(signed_in, owner):
    _secret, old_codes = enrol_totp(signed_in)
    response = signed_in.post(reverse("two-factor-recovery-codes"), {"password": "nope"})
    assert "That is not your password." in response.content.decode()
    response = signed_in.post(reverse("two-factor-recovery-codes"), {"password": PASSWORD})
    assert response["Location"] == reverse("two-factor-recovery-codes")
    new_codes = shown_codes(signed_in.get(response["Location"]).content.decode())
    assert len(new_codes) == 8 and not set(new_codes) & set(old_codes)
    assert RecoveryCode.objects.filter(user=owner).count() == 8
    assert Event.objects.filter(tag="account:two-factor:recovery-codes-generated").count() == 2


def test_recovery_codes_page_without_two_factor_sends_back(signed_in):
    response = signed_in.get(reverse("two-factor-recovery-codes"))
    assert response["Location"] == reverse("two-factor")


def test_json_endpoints_need_the_csrf_token_header(owner):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    page = client.get(reverse("two-factor-webauthn-add")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    url = reverse("two-factor-webauthn-add-options")
    assert client.post(url, "{}", content_type="application/json").status_code == 403
    response = client.post(url, "{}", content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "private" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
