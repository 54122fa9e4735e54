"""Shared steps of the 2FA tests: enrol through the pages as a person would."""

import re

import pyotp
from django.urls import reverse

from .webauthn_authenticator import SoftwareAuthenticator

PASSWORD = "correct horse battery"  # the conftest users' password
ORIGIN = "http://testserver"


def shown_secret(html: str) -> str:
    match = re.search(r'<code class="two-factor__secret"[^>]*>([A-Z2-7]+)</code>', html)
    assert match, html
    return match.group(1)


def shown_codes(html: str) -> list[str]:
    return re.findall(r"<li><code>([0-9a-f]{4}(?:-[0-9a-f]{4}){3})</code></li>", html)


def enrol_totp(client) -> tuple[str, list[str]]:
    page = client.get(reverse("two-factor-totp-add")).content.decode()
    secret = shown_secret(page)
    response = client.post(reverse("two-factor-totp-add"), {"code": pyotp.TOTP(secret).now()})
    assert response["Location"] == reverse("two-factor-recovery-codes")
    codes = shown_codes(client.get(response["Location"]).content.decode())
    return secret, codes


def add_key(client, label="blue key", authenticator=None):
    authenticator = authenticator or SoftwareAuthenticator()
    options = client.post(reverse("two-factor-webauthn-add-options")).json()
    credential = authenticator.create(options, origin=ORIGIN)
    response = client.post(
        reverse("two-factor-webauthn-add-verify"),
        {"label": label, "credential": credential},
        content_type="application/json",
    )
    return authenticator, response


def password_step(client, next_url=None):
    data = {"username": "olivia", "password": PASSWORD}
    url = reverse("login")
    if next_url:
        data["next"] = next_url
        url += f"?next={next_url}"
    return client.post(url, data, REMOTE_ADDR="192.0.2.9")
