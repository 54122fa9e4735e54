"""The account pages in a real browser, the way a new maintainer meets them.

1. From registration to a working API token: register, follow the mailed
   verification link, turn on an authenticator app (its code computed from the
   secret the page shows), keep the recovery codes, create a token and upload a
   wheel with it; then sign out and back in through the second step (a wrong
   code refused, a recovery code accepted once only) and read it all in the
   security history. Each page is checked with axe-core and photographed.
2. Security keys for real: Chromium's virtual authenticator (over the DevTools
   protocol) answers static/js/webauthn.js, to add a key and sign in with it.

Every wait is bounded (the `visit` fixture's 15 s default, and WAIT below), so a
broken page fails the test instead of hanging it.
"""

import base64
import re
import time
from urllib.parse import urlsplit

import pyotp
import pytest
import requests
from django.core import mail

from accounts.models import Event, RecoveryCode, User, WebAuthnCredential
from packages.models import Project, Role
from packages.policy import upload_token
from tests.factories import make_wheel

pytestmark = [pytest.mark.browser]

WAIT = 15_000  # milliseconds, for any navigation or element
USERNAME = "walker"
ADDRESS = "walker@example.com"
PASSWORD = "a-long-Passphrase-for-the-walk-42"
TOKEN_DESCRIPTION = "CI uploads for walk-demo"
WRONG_CODE = "000000"
VERIFY_LINK = re.compile(r"https?://\S+/account/verify-email/\?token=\S+")


def _check(result, name: str) -> None:
    """The page as it is now: photographed, without script errors or failed
    requests, and free of serious or critical axe-core violations."""
    result.screenshot(name)
    assert result.problems == [], result.problems
    result.assert_accessible()


def _field(scope, label: str):
    """The form field labelled ``label`` (Django's labels end in a colon)."""
    labelled = scope.get_by_label(re.compile(rf"^{re.escape(label)}:?$"))
    # (A section named by its heading is labelled too.)
    return labelled.and_(scope.locator("input, select, textarea"))


def _path(page) -> str:
    return urlsplit(page.url).path


def _submit(page, button_name: str, *, within=None) -> None:
    """Click a submit button and wait for the page it leads to."""
    scope = within if within is not None else page.locator("main")
    with page.expect_navigation(wait_until="load", timeout=WAIT):
        scope.get_by_role("button", name=button_name, exact=True).click()


def _log_out(page) -> None:
    _submit(page, "Log out", within=page.locator("header"))
    assert page.locator("header").get_by_role("link", name="Log in").is_visible()


def _log_in_with_password(page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + "/account/login/", wait_until="load", timeout=WAIT)
    _field(page, "Username").fill(username)
    _field(page, "Password").fill(password)
    _submit(page, "Log in")


def _signed_in_as(page, base_url: str, username: str) -> None:
    header = page.locator("header")
    assert header.get_by_role("button", name="Log out").is_visible()
    page.goto(base_url + "/account/settings/", wait_until="load", timeout=WAIT)
    assert _path(page) == "/account/settings/"
    assert username in page.locator("main .page__lead").inner_text()


def _totp_code_for_a_fresh_step(secret: str) -> str:
    """A code not about to expire (the server also accepts a step either side)."""
    if time.time() % 30 > 27:
        time.sleep(30 - time.time() % 30 + 0.2)
    return pyotp.TOTP(secret).now()


def _upload(base_url: str, secret: str, dist) -> requests.Response:
    auth = base64.b64encode(f"__token__:{secret}".encode()).decode()
    return requests.post(
        base_url + "/legacy/",
        data=dist.form(),
        files={"content": (dist.filename, dist.content, "application/octet-stream")},
        headers={"Authorization": f"Basic {auth}"},
        timeout=30,
    )


def test_registration_through_token_creation_and_a_second_factor_sign_in(visit, live_server):
    base = live_server.url

    # --- Register -----------------------------------------------------------
    result = visit("/account/register/", "desktop")
    page = result.page
    _check(result, "account-register")
    phone = visit("/account/register/", "phone", screenshot="account-register")
    phone.no_horizontal_scroll()
    phone.assert_accessible()

    main = page.locator("main")
    _field(main, "Username").fill(USERNAME)
    _field(main, "Email address").fill(ADDRESS)
    _field(main, "Password").fill(PASSWORD)
    _field(main, "Password confirmation").fill(PASSWORD)
    _submit(page, "Create account")
    assert _path(page) == "/account/settings/"
    assert page.get_by_text(f"We sent a verification link to {ADDRESS}").is_visible()
    assert page.get_by_text("Your primary e-mail address is not verified").is_visible()
    user = User.objects.get(username=USERNAME)
    assert not user.emails.get().verified

    # --- The verification link, mailed once the account was committed -------
    sent = [message for message in mail.outbox if message.to == [ADDRESS]]
    assert len(sent) == 1, [m.subject for m in mail.outbox]
    link = VERIFY_LINK.search(sent[0].body)
    assert link, sent[0].body
    assert link.group(0).startswith(base + "/")
    page.goto(link.group(0), wait_until="load", timeout=WAIT)
    assert _path(page) == "/account/settings/"
    assert page.get_by_text(f"{ADDRESS} is verified.").is_visible()
    address = page.locator("main .email-item").filter(has_text=ADDRESS)
    assert address.get_by_text("Verified", exact=True).is_visible()
    assert page.get_by_text("Your primary e-mail address is not verified").count() == 0
    assert user.emails.get().verified

    # --- Two-factor settings, then an authenticator app ---------------------
    page.goto(base + "/account/two-factor/", wait_until="load", timeout=WAIT)
    assert page.locator("main").get_by_text("is off", exact=False).first.is_visible()
    _check(result, "account-two-factor")
    with page.expect_navigation(wait_until="load", timeout=WAIT):
        page.get_by_role("link", name="Set up an authenticator app").click()
    assert _path(page) == "/account/two-factor/totp/add/"
    assert page.locator("main .two-factor__qr svg").is_visible()
    _check(result, "account-totp-enrol")
    secret = page.locator("main .two-factor__secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    _field(page, "Code from your authenticator app").fill(_totp_code_for_a_fresh_step(secret))
    _submit(page, "Turn on")

    # --- Recovery codes, shown once -----------------------------------------
    assert _path(page) == "/account/two-factor/recovery-codes/"
    assert page.get_by_text("Your authenticator app is set up.").is_visible()
    codes = [
        code.strip() for code in page.locator("main .two-factor__codes code").all_inner_texts()
    ]
    assert len(codes) == 8 and len(set(codes)) == 8, codes
    assert all(re.fullmatch(r"[0-9a-f]{4}(-[0-9a-f]{4}){3}", code) for code in codes), codes
    user.refresh_from_db()
    assert user.totp_secret == secret
    assert RecoveryCode.objects.filter(user=user, used_at__isnull=True).count() == 8
    _check(result, "account-recovery-codes")
    with page.expect_navigation(wait_until="load", timeout=WAIT):
        page.get_by_role("link", name="I saved them").click()
    assert page.locator("main").get_by_text("is on", exact=False).first.is_visible()
    # Shown once: the page now offers new codes (password first), not these.
    page.goto(base + "/account/two-factor/recovery-codes/", wait_until="load", timeout=WAIT)
    assert codes[0] not in page.content()
    # The 2FA page, now on, at a phone's width in the same session.
    state = page.context.storage_state()
    phone = visit(
        "/account/two-factor/", "phone", screenshot="account-two-factor", storage_state=state
    )
    assert phone.page.locator("main").get_by_text("8 of 8 recovery codes left").is_visible()
    phone.no_horizontal_scroll()
    phone.assert_accessible()

    # --- An API token, its secret shown once --------------------------------
    # A project of the user's own, so the token can be limited to it.
    project = Project.objects.create(name="walk-demo", normalized_name="walk-demo")
    Role.objects.create(project=project, user=user, role_name=Role.Name.OWNER)
    page.goto(base + "/manage/account/tokens/new/", wait_until="load", timeout=WAIT)
    _field(page, "Description").fill(TOKEN_DESCRIPTION)
    _field(page, "Only these projects:").check()
    _field(page, "walk-demo").check()
    _submit(page, "Create token")
    assert page.locator("main h1").inner_text() == "Your new API token"
    assert page.get_by_text(f"“{TOKEN_DESCRIPTION}”, for walk-demo").is_visible()
    token_secret = page.locator("main code.hash").inner_text().strip()
    assert token_secret.startswith("pypi-"), token_secret
    _check(result, "account-token-created")

    token = upload_token(token_secret)
    assert token.user == user and token.description == TOKEN_DESCRIPTION
    assert list(token.projects.all()) == [project]
    # It uploads (a real HTTP request to the live server, as twine makes).
    wheel = make_wheel("walk-demo", "0.1")
    response = _upload(base, token_secret, wheel)
    assert response.status_code == 200, response.text[:500]
    assert project.releases.filter(version="0.1").exists()
    # The list shows only the token's beginning from now on.
    page.goto(base + "/manage/account/tokens/", wait_until="load", timeout=WAIT)
    assert page.get_by_text(TOKEN_DESCRIPTION).first.is_visible()
    assert token_secret not in page.content()

    # --- Sign out; sign in: password, then the second step ------------------
    _log_out(page)
    _log_in_with_password(page, base, USERNAME, PASSWORD)
    assert _path(page) == "/account/login/two-factor/"
    assert page.locator("header").get_by_role("link", name="Log in").is_visible()
    assert _field(page, "Code from your authenticator app").is_visible()
    _check(result, "account-login-second-step")

    _field(page, "Code from your authenticator app").fill(WRONG_CODE)
    _submit(page, "Verify")
    assert _path(page) == "/account/login/two-factor/"
    code_field = _field(page, "Code from your authenticator app")
    assert code_field.get_attribute("aria-invalid") == "true"
    assert page.get_by_text("That code is not right, or was used already.").is_visible()
    assert page.locator("header").get_by_role("link", name="Log in").is_visible()
    result.screenshot("account-login-second-step-wrong-code")
    result.assert_accessible()

    _field(page, "Recovery code").fill(codes[0].upper())  # as a person may type it
    _submit(page, "Use a recovery code")
    assert _path(page) == "/account/settings/"
    _signed_in_as(page, base, USERNAME)

    # The same recovery code, in another sign-in, is refused.
    _log_out(page)
    _log_in_with_password(page, base, USERNAME, PASSWORD)
    _field(page, "Recovery code").fill(codes[0])
    _submit(page, "Use a recovery code")
    assert _path(page) == "/account/login/two-factor/"
    assert page.get_by_text("That code is not right, or was used already.").is_visible()
    _field(page, "Recovery code").fill(codes[1])
    _submit(page, "Use a recovery code")
    assert _path(page) == "/account/settings/"
    _signed_in_as(page, base, USERNAME)
    assert RecoveryCode.objects.filter(user=user, used_at__isnull=True).count() == 6

    # --- The security history tells it all -----------------------------------
    page.goto(base + "/account/security/", wait_until="load", timeout=WAIT)
    cells = page.locator("main tbody tr td:first-child").all_inner_texts()
    # What happened, without the details that follow it ("…: address", " pypi-…").
    rows = [re.split(r":| pypi-", cell, maxsplit=1)[0] for cell in cells]
    assert f"E-mail address verified: {ADDRESS}" in cells, cells
    expected = {
        "Account created": 1,
        "E-mail address verified": 1,
        "Authenticator app added": 1,
        "New recovery codes made": 1,
        "API token created": 1,
        "Failed sign-in (wrong second factor)": 2,
        "Recovery code used to sign in": 2,
    }
    for description, count in expected.items():
        assert rows.count(description) == count, (description, rows)
    # Signed in on registering and twice since (the second step completing it).
    assert rows.count("Signed in") == 3, rows
    # Newest first: the last thing done was a sign-in; the first, registering.
    assert rows[0] == "Signed in" and rows[-1] == "Account created", rows
    # And one row more: the upload made with the token.
    used = Event.objects.get(user=user, tag="account:token:used")
    assert used.details["uploaded_to"] == "walk-demo"
    assert len(rows) == sum(expected.values()) + 3 + 1, rows
    _check(result, "account-security")


def _virtual_authenticator(page) -> tuple[object, str]:
    """Chromium's virtual authenticator for ``page``: a CTAP2 key that is
    always present and verifies its user."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def test_a_security_key_is_added_and_signs_in(visit, live_server, owner):
    base = live_server.url
    # WebAuthn needs a secure context and a domain as its RP ID: http://localhost
    # is both; an IP address (127.0.0.1) is not a valid RP ID.
    assert urlsplit(base).hostname == "localhost", base
    result = visit("/account/login/", "desktop")
    page = result.page
    cdp, authenticator = _virtual_authenticator(page)

    _field(page, "Username").fill(owner.username)
    _field(page, "Password").fill("correct horse battery")
    _submit(page, "Log in")
    assert _path(page) == "/account/settings/"  # no second factor yet

    page.goto(base + "/account/two-factor/webauthn/add/", wait_until="load", timeout=WAIT)
    # Without a name the script asks for one and asks the key nothing.
    page.get_by_role("button", name="Add the key").click()
    error = page.locator("main [data-webauthn-error]")
    assert error.inner_text() == "Give the key a name first."
    assert cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator}) == {
        "credentials": []
    }
    _field(page, "Name of the key").fill("blue USB key")
    with page.expect_navigation(wait_until="load", timeout=WAIT):
        page.get_by_role("button", name="Add the key").click()
    # The first factor: its recovery codes come next.
    assert _path(page) == "/account/two-factor/recovery-codes/", error.all_inner_texts()
    assert page.get_by_text("The security key “blue USB key” is added.").is_visible()
    assert page.locator("main .two-factor__codes code").count() == 8

    on_key = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(on_key["credentials"]) == 1
    stored = WebAuthnCredential.objects.get(user=owner)
    assert stored.label == "blue USB key" and stored.last_used_at is None
    # The key's credential id, as the server keeps it (base64url, unpadded).
    key_id = base64.urlsafe_b64decode(on_key["credentials"][0]["credentialId"] + "==")
    assert stored.credential_id == base64.urlsafe_b64encode(key_id).decode().rstrip("=")

    page.goto(base + "/account/two-factor/", wait_until="load", timeout=WAIT)
    keys = page.locator("main section[aria-labelledby=keys]")
    assert keys.get_by_text("blue USB key", exact=True).is_visible()
    assert keys.get_by_role("link", name="Remove the key blue USB key").is_visible()
    assert keys.get_by_text("not used yet").is_visible()
    _check(result, "account-two-factor-with-key")

    # --- Sign out; sign in with the password, then the key -----------------
    _log_out(page)
    _log_in_with_password(page, base, owner.username, "correct horse battery")
    assert _path(page) == "/account/login/two-factor/"
    use_key = page.get_by_role("button", name="Use a security key")
    assert use_key.is_visible()
    # Only a key or a recovery code: this account has no authenticator app.
    assert _field(page, "Code from your authenticator app").count() == 0
    _check(result, "account-login-security-key")
    with page.expect_navigation(wait_until="load", timeout=WAIT):
        use_key.click()
    assert _path(page) == "/account/settings/", page.locator("main").inner_text()[:500]
    _signed_in_as(page, base, owner.username)

    stored.refresh_from_db()
    assert stored.last_used_at is not None
    on_key = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert stored.sign_count == on_key["credentials"][0]["signCount"] >= 1
    tags = list(Event.objects.filter(user=owner).values_list("tag", flat=True))
    assert "account:two-factor:webauthn-added" in tags
    assert "account:login:two-factor-failure" not in tags
    assert result.problems == [], result.problems
