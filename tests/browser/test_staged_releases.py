"""The staged releases page in a real browser, as an Owner meets it: a release
staged by a legacy upload, its files and the preview commands (copied with the
button), then published after typing the version. Checked with axe-core at
desktop and phone widths; at phone width the long preview commands must wrap,
not scroll the page sideways."""

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from accounts.tokens import api_token_create
from packages.models import File, Project, UploadSession
from tests.conftest import verified_user
from tests.factories import make_sdist, make_wheel, post_upload

pytestmark = [pytest.mark.browser]

WAIT = 15_000  # milliseconds
PASSWORD = "correct horse battery"  # tests.conftest.verified_user's
URL = "/manage/project/staged-demo/sessions/"


def _check(result, name: str) -> None:
    result.screenshot(name)
    assert result.problems == [], result.problems
    result.assert_accessible()


def _submit(page, button_name: str) -> None:
    with page.expect_navigation(wait_until="load", timeout=WAIT):
        page.locator("main").get_by_role("button", name=button_name, exact=True).click()


def test_an_owner_tries_and_publishes_a_staged_release(visit, settings):
    # The 2FA requirement has its own tests; here the page itself is looked at.
    settings.REQUIRE_2FA_TO_MANAGE = False
    owner = verified_user("olivia")
    secret = api_token_create(user=owner).secret
    uploader = Client()
    assert post_upload(uploader, make_wheel("staged-demo", "0.9"), secret).status_code == 200
    Project.objects.filter(normalized_name="staged-demo").update(require_upload_sessions=True)
    for dist in (make_wheel("staged-demo", "1.0"), make_sdist("staged-demo", "1.0")):
        assert post_upload(uploader, dist, secret).status_code == 200
    session = UploadSession.objects.get()

    result = visit("/account/login/", "desktop")
    page = result.page
    main = page.locator("main")
    main.get_by_label("Username").fill("olivia")
    main.get_by_label("Password").fill(PASSWORD)
    _submit(page, "Log in")
    page.goto(page.url.split("/account/")[0] + "/manage/project/staged-demo/", wait_until="load")
    page.get_by_role("navigation", name="Manage staged-demo").get_by_role(
        "link", name="Staged releases"
    ).click()
    page.wait_for_load_state("load")
    assert urlsplit(page.url).path == URL
    article = main.get_by_role("article", name="staged-demo 1.0")
    assert article.get_by_role("row", name=re.compile(r"staged_demo-1\.0\.tar\.gz")).is_visible()
    assert article.get_by_text(session.preview_secret).first.is_visible()
    assert article.get_by_role(
        "button", name=re.compile(r"^Cancel and delete its files\W+staged-demo 1\.0$")
    ).is_visible()
    _check(result, "manage-staged-releases")

    phone = visit(
        URL,
        "phone",
        screenshot="manage-staged-releases",
        storage_state=page.context.storage_state(),
    )
    phone.no_horizontal_scroll()
    phone.assert_accessible()

    # The copy buttons copy the command; the live region says so.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    article.get_by_role(
        "button", name="Copy the pip command for staged-demo 1.0", exact=True
    ).click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("pip install --index-url http") and copied.endswith(
        f"/{session.preview_secret}/ staged-demo==1.0"
    ), copied

    article.get_by_text("Publish…").click()
    article.get_by_label("Type the version 1.0 to confirm").fill("1.0")
    _check(result, "manage-staged-releases-publish")
    _submit(page, "Publish staged-demo 1.0")
    assert urlsplit(page.url).path == URL
    assert page.get_by_text("staged-demo 1.0 is published with 2 files.").is_visible()
    assert main.get_by_text("No staged release: nothing is waiting to be published.").is_visible()
    assert File.objects.filter(release__version="1.0").count() == 2
    _check(result, "manage-staged-releases-published")
