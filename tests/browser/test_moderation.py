"""A malware report and its quarantine, in a real browser, end to end.

A signed-in visitor reports a project from its page; a moderator (staff in the
Moderators group, not a superuser) finds the report in the admin's queue of new
reports, quarantines the project with the report's one-click action, gives the
reason on the confirmation page, and the project is gone from the public pages
and the simple index. Staff outside the group are refused the queue. Screenshots
of each step are kept (test-artifacts/screenshots/moderation-*-desktop.png).

axe-core runs on the public report form only: the admin pages are Django's own.
"""

import importlib
import re

import pyotp
import pytest
from django.apps import apps
from django.contrib.auth.models import Group

from moderation.models import MalwareReport
from packages.models import Project, Role
from tests.conftest import verified_user
from tests.factories import add_file, make_release, make_sdist, make_wheel

pytestmark = [pytest.mark.browser]

NAME = "colour-helper"
PASSWORD = "correct horse battery"  # tests.conftest.verified_user's
DETAILS = "setup.py downloads a script from a paste site and runs it on install."
QUARANTINE_REASON = "Confirmed: the sdist's setup.py fetches and runs a remote payload."

_moderators_migration = importlib.import_module("moderation.migrations.0003_moderators_group")


@pytest.fixture
def moderators_group(transactional_db):
    # The live server's tests empty the database after each test, and the data
    # migration's group goes with it: made again by the migration's own code.
    _moderators_migration.create_group(apps, None)
    return Group.objects.get(name=_moderators_migration.MODERATOR_GROUP)


@pytest.fixture
def suspect(owner):
    project = Project.objects.create(name=NAME, normalized_name=NAME)
    Role.objects.create(project=project, user=owner, role_name=Role.Name.OWNER)
    release = make_release(project, "1.0", summary="Colours for your terminal")
    add_file(release, make_wheel(NAME, "1.0"))
    add_file(release, make_sdist(NAME, "1.0"))
    return project


@pytest.fixture
def reporter(transactional_db):
    return verified_user("rita")


@pytest.fixture
def moderator(moderators_group):
    user = verified_user("mona")
    user.is_staff = True
    user.totp_secret = pyotp.random_base32()  # the admin wants 2FA
    user.save()
    user.groups.add(moderators_group)
    return user


@pytest.fixture
def staff(moderators_group):
    """Staff, but not in the Moderators group."""
    user = verified_user("stan")
    user.is_staff = True
    user.totp_secret = pyotp.random_base32()
    user.save()
    return user


def _status(browser, url: str) -> int:
    """What an anonymous visitor's browser gets at ``url`` (no redirect followed)."""
    context = browser.new_context()
    try:
        return context.request.get(url, max_redirects=0).status
    finally:
        context.close()


def _body(browser, url: str) -> str:
    """The page an anonymous visitor's browser gets at ``url``, which must answer 200."""
    context = browser.new_context()
    try:
        response = context.request.get(url, max_redirects=0)
        assert response.status == 200, (url, response.status)
        return response.text()
    finally:
        context.close()


def _admin_login(page, user) -> None:
    """The admin sends people to the site's login: password, then the code of
    their authenticator app, as a person types them in."""
    page.wait_for_url("**/account/login/**")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/account/login/two-factor/")
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(user.totp_secret).now())
    page.get_by_role("button", name="Verify", exact=True).click()


def test_a_report_leads_to_a_quarantine(visit, browser, live_server, suspect, reporter, moderator):
    public_page = f"{live_server.url}/project/{NAME}/"
    simple_page = f"{live_server.url}/simple/{NAME}/"
    # Visible before: what is gone at the end is the quarantine's doing.
    assert _status(browser, public_page) == 200
    assert _status(browser, simple_page) == 200

    # The reporter: the project page's link, the login it asks for, the form.
    result = visit(f"/project/{NAME}/", "desktop")
    page = result.page
    page.get_by_role("link", name="Report this project").click()
    page.wait_for_url("**/account/login/**")
    page.get_by_label("Username").fill(reporter.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/project/{NAME}/report/")
    assert page.locator("h1").inner_text() == f"Report {NAME}"
    result.screenshot("moderation-report-form")
    result.assert_accessible()
    page.get_by_label("Malware", exact=True).check()
    page.get_by_label("Details").fill(DETAILS)
    page.get_by_role("button", name="Send report").click()
    page.wait_for_url(f"**/project/{NAME}/report/thanks/")
    assert page.locator("h1").inner_text() == "Thank you"
    assert result.problems == [], result.problems
    report = MalwareReport.objects.get()
    assert (report.project, report.reporter, report.reason, report.details, report.status) == (
        suspect,
        reporter,
        MalwareReport.Reason.MALWARE,
        DETAILS,
        MalwareReport.Status.NEW,
    )

    # The moderator: the admin, the queue of new reports, the report.
    admin = visit("/admin/login/?next=/admin/", "desktop")
    page = admin.page
    _admin_login(page, moderator)
    page.wait_for_url("**/admin/")
    page.locator("#content-main").get_by_role("link", name="Malware reports").click()
    page.wait_for_url("**/admin/moderation/malwarereport/")
    page.locator("#changelist-filter").get_by_role("link", name="New", exact=True).click()
    page.wait_for_url("**/admin/moderation/malwarereport/?status__exact=new")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert NAME in rows.first.inner_text()
    rows.first.locator("th a").click()
    # (The admin keeps the queue's filter in the query string, for "back".)
    report_page = re.compile(rf"/admin/moderation/malwarereport/{report.pk}/change/(\?|$)")
    page.wait_for_url(report_page)
    assert DETAILS in page.locator(".field-details").inner_text()
    admin.screenshot("moderation-report-change")

    # One click, then the reason on the confirmation page.
    page.get_by_role("link", name="Quarantine project").click()
    page.wait_for_url(re.compile(rf"/admin/moderation/malwarereport/{report.pk}/quarantine/"))
    assert NAME in page.locator(".moderation-objects").inner_text()
    page.get_by_label("Reason").fill(QUARANTINE_REASON)
    admin.screenshot("moderation-quarantine-confirm")
    page.get_by_role("button", name="Confirm and quarantine project").click()
    page.wait_for_url(report_page)
    admin.screenshot("moderation-quarantined")
    # (The admin's template capitalizes the first letter of every message.)
    message = page.locator(".messagelist li").text_content().strip()
    assert message == f"Quarantined: {NAME}."
    assert page.locator(".field-status .readonly").inner_text() == "Confirmed"
    assert page.get_by_role("link", name="Quarantine project").count() == 0
    report.refresh_from_db()
    assert (report.status, report.resolved_by) == (MalwareReport.Status.CONFIRMED, moderator)

    # The project's admin page says it is quarantined, and why.
    page.locator(".field-project_link a").click()
    page.wait_for_url(f"**/admin/packages/project/{suspect.pk}/change/")
    assert page.locator(".field-quarantined_at .readonly").inner_text() not in {"", "-"}
    assert page.locator(".field-quarantine_reason .readonly").inner_text() == QUARANTINE_REASON
    assert admin.problems == [], admin.problems
    suspect.refresh_from_db()
    assert suspect.quarantined_at is not None

    # Gone for everyone else: PEP 792, the pages answer with the quarantined
    # status and the reason, and offer no file.
    assert _body(browser, public_page).count("This project is quarantined") == 1
    simple = _body(browser, simple_page)
    assert '<meta name="pypi:project-status" content="quarantined">' in simple
    assert "<a " not in simple


def test_staff_outside_the_moderators_group_are_refused_the_reports(
    visit, browser, live_server, suspect, reporter, staff
):
    report = MalwareReport.objects.create(
        project=suspect,
        project_name=suspect.name,
        reporter=reporter,
        reason=MalwareReport.Reason.MALWARE,
        details=DETAILS,
    )
    queue = "/admin/moderation/malwarereport/"
    admin = visit(f"/admin/login/?next={queue}", "desktop")
    page = admin.page
    queue_url = live_server.url + queue
    with page.expect_response(lambda response: response.url == queue_url) as answer:
        _admin_login(page, staff)
    assert answer.value.status == 403
    # Signed in, yet the admin lists nothing, and the report's pages refuse too.
    page.goto(f"{live_server.url}/admin/")
    assert "Malware reports" not in page.locator("#content-main").inner_text()
    for path in (f"{report.pk}/change/", f"{report.pk}/quarantine/"):
        response = page.goto(f"{live_server.url}{queue}{path}")
        assert response.status == 403, path
    report.refresh_from_db()
    assert report.status == MalwareReport.Status.NEW
    suspect.refresh_from_db()
    assert suspect.quarantined_at is None
    assert _status(browser, f"{live_server.url}/project/{NAME}/") == 200
