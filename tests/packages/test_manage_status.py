"""/manage/project/<name>/status/ (packages.views.manage_status): Owners
archive, unarchive, deprecate and undeprecate; nobody else may."""

import pytest

from accounts.models import Event
from packages.models import Project
from tests.conftest import give_two_factor

pytestmark = pytest.mark.django_db

URL = "/manage/project/sample-project/status/"
IP = "203.0.113.51"


@pytest.fixture(autouse=True)
def _two_factor(settings, owner, maintainer, outsider):
    settings.REQUIRE_2FA_TO_MANAGE = True
    for user in (owner, maintainer, outsider):
        give_two_factor(user)


@pytest.fixture
def as_owner(client, owner, project):
    client.force_login(owner)
    return client


def post(client, **fields):
    return client.post(URL, fields, REMOTE_ADDR=IP)


def test_the_settings_page_links_to_the_status_page(as_owner):
    page = as_owner.get("/manage/project/sample-project/settings/").content.decode()
    assert f'href="{URL}"' in page
    assert "Sample.Project is active." in page


def test_the_page_shows_the_current_status(as_owner, project):
    Project.objects.create(name="New.Thing", normalized_name="new-thing")
    as_owner.post(URL, {"status": "deprecated", "reason": "Old", "successor": "new-thing"})

    response = as_owner.get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert "<strong data-current-status>deprecated</strong>: Old" in page
    assert '(successor: <a href="/project/new-thing/">New.Thing</a>)' in page
    assert 'value="Old"' in page
    assert 'value="new-thing"' not in page  # the successor's display name is shown
    assert 'value="New.Thing"' in page
    # Only an Owner's choices: quarantine is the moderators'.
    assert 'value="quarantined"' not in page


def test_owner_archives_then_unarchives(as_owner, project, owner):
    response = post(as_owner, status="archived", reason="Done")

    assert (response.status_code, response["Location"]) == (302, URL)
    project.refresh_from_db()
    assert (project.status, project.status_reason) == ("archived", "Done")
    event = Event.objects.filter(project=project).latest("id")
    assert (event.tag, event.actor, event.ip_address) == ("project:status:archived", owner, IP)
    followed = as_owner.get(URL).content.decode()
    assert "Sample.Project is archived: it accepts no new uploads." in followed

    post(as_owner, status="active")
    project.refresh_from_db()
    assert project.status == "active"
    assert "Sample.Project is active again." in as_owner.get(URL).content.decode()


def test_owner_deprecates(as_owner, project):
    post(as_owner, status="deprecated", reason="Use something else")
    project.refresh_from_db()
    assert project.status == "deprecated"
    assert "Sample.Project is deprecated." in as_owner.get(URL).content.decode()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": "deprecated", "reason": ""}, "Say why the project is deprecated"),
        ({"status": "deprecated", "reason": "x", "successor": "nope"}, "no project named"),
        ({"status": "quarantined"}, "The status: Select a valid choice."),
        ({"status": "archived", "reason": "a\x00b"}, "The reason: Null characters"),
        ({"status": "active"}, "Sample.Project is already active."),
    ],
)
def test_refusals_say_why(as_owner, project, fields, message):
    response = post(as_owner, **fields)

    assert response.status_code == 400
    assert message in response.content.decode()
    project.refresh_from_db()
    assert project.status == "active"


@pytest.mark.parametrize("who", ["maintainer", "outsider"])
def test_only_owners(client, project, request, who):
    client.force_login(request.getfixturevalue(who))
    expected = 403 if who == "maintainer" else 404
    assert client.get(URL).status_code == expected
    assert post(client, status="archived").status_code == expected
    project.refresh_from_db()
    assert project.status == "active"


def test_other_spellings_redirect(as_owner):
    response = as_owner.get("/manage/project/Sample.Project/status/")
    assert (response.status_code, response["Location"]) == (301, URL)
