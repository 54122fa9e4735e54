"""The organization pages in a real browser, the way an Owner and an invitee
meet them: create an organization, invite someone by e-mail address, make a
team, edit the profile, read the history; then the invitee follows the mailed
link and accepts. Each page is checked with axe-core and photographed, and the
people page at phone width must not scroll sideways."""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail

from accounts.models import OrganizationRole
from tests.conftest import verified_user

pytestmark = [pytest.mark.browser]

WAIT = 15_000  # milliseconds
PASSWORD = "correct horse battery"  # tests.conftest.verified_user's
LINK = re.compile(r"https?://\S+/manage/organizations/invitation/\?token=\S+")


def _check(result, name: str) -> None:
    result.screenshot(name)
    assert result.problems == [], result.problems
    result.assert_accessible()


def _field(scope, label: str):
    labelled = scope.get_by_label(re.compile(rf"^{re.escape(label)}:?$"))
    return labelled.and_(scope.locator("input, select, textarea"))


def _submit(page, button_name: str, *, within=None) -> None:
    scope = within if within is not None else page.locator("main")
    with page.expect_navigation(wait_until="load", timeout=WAIT):
        scope.get_by_role("button", name=button_name, exact=True).click()


def _path(page) -> str:
    return urlsplit(page.url).path


def _log_in(visit, username: str, path: str):
    result = visit("/account/login/", "desktop")
    page = result.page
    _field(page.locator("main"), "Username").fill(username)
    _field(page.locator("main"), "Password").fill(PASSWORD)
    _submit(page, "Log in")
    page.goto(page.url.split("/account/")[0] + path, wait_until="load", timeout=WAIT)
    return result


def test_an_owner_creates_an_organization_and_an_invitee_joins(visit, settings):
    # The 2FA requirement has its own tests; here the pages themselves are looked at.
    settings.REQUIRE_2FA_TO_MANAGE = False
    verified_user("alice")
    sam = verified_user("sam")

    result = _log_in(visit, "alice", "/manage/organizations/")
    page = result.page
    assert _path(page) == "/manage/organizations/"
    _check(result, "organizations-list")

    main = page.locator("main")
    _field(main, "Name").fill("Acme")
    _field(main, "Display name").fill("Acme Corporation")
    _submit(page, "Create organization")
    assert _path(page) == "/manage/organization/acme/"
    assert page.get_by_text("The organization Acme is created; you are its Owner.").is_visible()
    _field(main, "Username or e-mail address").fill("sam@example.com")
    _field(main, "Role").select_option("Manager")
    _submit(page, "Send invitation")
    assert page.get_by_text("sam is invited as Manager").is_visible()
    _check(result, "organization-people")
    phone = visit(
        "/manage/organization/acme/",
        "phone",
        screenshot="organization-people",
        storage_state=page.context.storage_state(),
    )
    phone.no_horizontal_scroll()
    phone.assert_accessible()

    page.get_by_role("link", name="Teams").click()
    page.wait_for_load_state("load")
    _check(result, "organization-teams")
    _field(main, "Team name").fill("core")
    _submit(page, "Create team")
    assert _path(page) == "/manage/organization/acme/team/core/"
    _field(main, "Member").fill("alice")
    _submit(page, "Add to the team")
    assert page.get_by_text("alice is in the team core.").is_visible()
    _check(result, "organization-team")

    page.get_by_role("link", name="Settings").click()
    page.wait_for_load_state("load")
    _field(main, "Link").fill("https://acme.example/")
    _submit(page, "Save")
    assert page.get_by_text("The organization's profile is saved.").is_visible()
    _check(result, "organization-settings")

    page.get_by_role("link", name="Security history").click()
    page.wait_for_load_state("load")
    assert page.get_by_text("Member invited").is_visible()
    _check(result, "organization-history")

    # --- The invitee, from the mail --------------------------------------------
    (message,) = [m for m in mail.outbox if m.to == ["sam@example.com"]]
    link = LINK.search(message.body).group(0)
    invitee = _log_in(visit, "sam", "/manage/organizations/")
    invitee.page.goto(link, wait_until="load", timeout=WAIT)
    assert invitee.page.get_by_text("invited you to be Manager").is_visible()
    _check(invitee, "organization-invitation")
    _submit(invitee.page, "Accept")
    assert _path(invitee.page) == "/manage/organization/acme/"
    assert invitee.page.get_by_text("You are now Manager of Acme.").is_visible()
    assert OrganizationRole.objects.get(user=sam).role_name == "Manager"
