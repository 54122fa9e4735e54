"""PEP 792 project status (packages.project_status): the rules, the upload's
refusal of an archived project, and how the JSON API, the project pages and
the project feed show it. The simple API: tests/packages/test_simple_status.py."""

import json

import jsonschema
import pytest

from accounts.events import Actor
from accounts.models import Event
from accounts.tokens import api_token_create
from moderation.services import project_quarantine
from packages import upload as upload_module
from packages.models import File, JournalEntry, Project, ProjectStatus, Release
from packages.project_status import (
    STATUS_REASON_MAX_LENGTH,
    ProjectStatusError,
    project_status_set,
    quarantined_project,
    status_json,
    status_note,
)
from tests.factories import add_file, make_release, make_wheel, post_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def successor(owner):
    return Project.objects.create(name="New.Thing", normalized_name="new-thing")


@pytest.fixture
def set_status(owner, django_capture_on_commit_callbacks):
    def act(project, status, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return project_status_set(project=project, status=status, actor=Actor(owner), **kwargs)

    return act


@pytest.fixture
def published(project):
    add_file(make_release(project, "1.0"), make_wheel("Sample.Project", "1.0"))
    project.refresh_from_db()
    return project


# --- The service ------------------------------------------------------------------------


def test_archive_records_event_and_journal_and_moves_the_serial(project, owner, set_status):
    before = project.last_serial

    changed = set_status(project, "archived", reason="  Finished:\n  no more  work ")

    project.refresh_from_db()
    assert (project.status, project.status_reason) == ("archived", "Finished: no more work")
    assert project.status_changed_at is not None
    entry = JournalEntry.objects.latest("id")
    assert (entry.name, entry.action) == ("Sample.Project", "archive project")
    assert entry.submitted_by == owner
    assert project.last_serial == entry.id > before
    assert changed.last_serial == entry.id
    event = Event.objects.filter(project=project).latest("id")
    assert event.tag == "project:status:archived"
    assert event.actor == owner
    assert event.details == {
        "status": "archived",
        "previous": "active",
        "reason": "Finished: no more work",
    }


def test_deprecate_with_a_successor_then_undeprecate(project, successor, set_status):
    set_status(project, "deprecated", reason="Replaced", successor="new_thing")
    project.refresh_from_db()
    assert (project.status, project.successor) == ("deprecated", successor)
    event = Event.objects.filter(project=project).latest("id")
    assert event.tag == "project:status:deprecated"
    assert event.details["successor"] == "New.Thing"

    set_status(project, "active", reason="ignored for active")

    project.refresh_from_db()
    assert (project.status, project.status_reason, project.successor) == ("active", "", None)
    assert JournalEntry.objects.latest("id").action == "undeprecate project"
    event = Event.objects.filter(project=project).latest("id")
    assert event.tag == "project:status:undeprecated"
    assert event.details == {"status": "active", "previous": "deprecated"}


def test_unarchive(project, set_status):
    set_status(project, "archived")
    set_status(project, "active")
    assert JournalEntry.objects.latest("id").action == "unarchive project"
    assert Event.objects.filter(project=project).latest("id").tag == "project:status:unarchived"


def test_archived_to_deprecated_directly(project, set_status):
    set_status(project, "archived", reason="Done")
    set_status(project, "deprecated", reason="Use something else")
    project.refresh_from_db()
    assert project.status == "deprecated"
    assert JournalEntry.objects.latest("id").action == "deprecate project"


def test_a_new_reason_is_a_change(project, set_status):
    set_status(project, "deprecated", reason="One")
    set_status(project, "deprecated", reason="Two")
    project.refresh_from_db()
    assert project.status_reason == "Two"


@pytest.mark.parametrize(
    ("status", "kwargs", "message"),
    [
        ("quarantined", {}, "'quarantined' is not a status to set"),
        ("bogus", {}, "'bogus' is not a status to set"),
        ("deprecated", {}, "Say why the project is deprecated"),
        ("deprecated", {"reason": "   "}, "Say why the project is deprecated"),
        ("archived", {"successor": "new-thing"}, "Only a deprecated project names a successor"),
        ("deprecated", {"reason": "x", "successor": "nope"}, "no project named 'nope'"),
        ("deprecated", {"reason": "x", "successor": "Sample_Project"}, "its own successor"),
        ("active", {}, "Sample.Project is already active."),
        (
            "archived",
            {"reason": "x" * (STATUS_REASON_MAX_LENGTH + 1)},
            f"at most {STATUS_REASON_MAX_LENGTH}",
        ),
    ],
)
def test_refusals(project, successor, set_status, status, kwargs, message):
    with pytest.raises(ProjectStatusError, match=message):
        set_status(project, status, **kwargs)
    project.refresh_from_db()
    assert project.status == "active"
    assert not JournalEntry.objects.filter(action__endswith=" project").exists()


def test_the_same_status_twice_is_refused(project, set_status):
    set_status(project, "archived", reason="Done")
    with pytest.raises(ProjectStatusError, match="already archived with this reason"):
        set_status(project, "archived", reason="Done")


def test_a_quarantined_successor_does_not_count(project, successor, moderator, set_status):
    project_quarantine(project=successor, actor=Actor(moderator), reason="Malware")
    with pytest.raises(ProjectStatusError, match="no project named 'new-thing'"):
        set_status(project, "deprecated", reason="x", successor="new-thing")


def test_only_from(project, set_status):
    set_status(project, "deprecated", reason="Old")
    with pytest.raises(ProjectStatusError, match="is not archived: it is deprecated"):
        set_status(project, "active", only_from="archived")


def test_a_deleted_project_is_refused(project, set_status):
    Project.objects.filter(pk=project.pk).delete()
    with pytest.raises(ProjectStatusError, match="no longer exists"):
        set_status(project, "archived")


def test_status_json_and_note(project, successor, moderator, set_status):
    assert status_json(project) == {"status": "active"}
    assert status_note(project) == ""
    set_status(project, "archived")
    project.refresh_from_db()
    assert status_json(project) == {"status": "archived"}
    assert status_note(project) == "Sample.Project is archived."
    set_status(project, "deprecated", reason="Old", successor="new-thing")
    project.refresh_from_db()
    assert status_json(project) == {"status": "deprecated", "reason": "Old"}
    assert status_note(project) == (
        "Sample.Project is deprecated. Reason: Old. Use New.Thing instead."
    )
    project_quarantine(project=project, actor=Actor(moderator), reason="Malware")
    project.refresh_from_db()
    # A quarantine wins over the stored status, with the moderators' reason.
    assert status_json(project) == {"status": "quarantined", "reason": "Malware"}
    assert quarantined_project("sample_project") == project


def test_quarantined_project_is_none_for_others(project):
    assert quarantined_project("sample-project") is None
    assert quarantined_project("nothing-here") is None


# --- The upload ---------------------------------------------------------------------------


def test_upload_to_an_archived_project_is_refused_and_says_why(client, project, owner, set_status):
    secret = api_token_create(user=owner).secret
    assert post_upload(client, make_wheel("Sample.Project", "1.0"), secret).status_code == 200
    set_status(project, "archived", reason="Done")

    response = post_upload(client, make_wheel("Sample.Project", "2.0"), secret)

    message = "Project 'Sample.Project' is archived: it accepts no new uploads."
    assert response.status_code == 400
    assert message in response.reason_phrase
    assert "/manage/project/sample-project/status/" in response.reason_phrase
    assert message in response.content.decode()
    assert not Release.objects.filter(version="2.0").exists()
    # Unarchived, it takes uploads again; deprecated ones do too.
    set_status(project, "deprecated", reason="Old")
    assert post_upload(client, make_wheel("Sample.Project", "2.0"), secret).status_code == 200


def test_an_archive_during_the_upload_is_caught_under_the_lock(client, project, owner, monkeypatch):
    secret = api_token_create(user=owner).secret
    check_duplicate = upload_module.check_duplicate

    def archived_meanwhile(upload):
        # An Owner archives it after the permission check, before the commit.
        Project.objects.filter(pk=upload.project.pk).update(status=ProjectStatus.ARCHIVED)
        return check_duplicate(upload)

    assert post_upload(client, make_wheel("Sample.Project", "1.0"), secret).status_code == 200
    monkeypatch.setattr(upload_module, "check_duplicate", archived_meanwhile)

    response = post_upload(client, make_wheel("Sample.Project", "2.0"), secret)

    assert response.status_code == 400
    assert "Project 'Sample.Project' is archived" in response.reason_phrase
    assert not Release.objects.filter(version="2.0").exists()


# --- The JSON API ---------------------------------------------------------------------------


def test_json_api_carries_the_status(client, published, set_status):
    def info(url="/pypi/sample-project/json"):
        return json.loads(client.get(url).content)["info"]

    assert info()["project_status"] == {"status": "active"}
    set_status(published, "deprecated", reason="Use New.Thing")

    expected = {"status": "deprecated", "reason": "Use New.Thing"}
    assert info()["project_status"] == expected
    assert info("/pypi/sample-project/1.0/json")["project_status"] == expected


def test_json_api_of_a_quarantined_project_is_a_404_saying_so(
    client, published, moderator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        project_quarantine(project=published, actor=Actor(moderator), reason="Malware <x>")
    openapi = json.loads(client.get("/api/openapi.json").content)
    schema = {"$ref": "#/components/schemas/NotFound", "components": openapi["components"]}

    for url in ("/pypi/sample-project/json", "/pypi/sample-project/1.0/json"):
        response = client.get(url)
        assert response.status_code == 404
        body = json.loads(response.content)
        assert body == {
            "message": "Not Found: Sample.Project is quarantined by the index's moderators.",
            "project_status": {"status": "quarantined", "reason": "Malware <x>"},
        }
        jsonschema.Draft202012Validator(schema).validate(body)
    # Any other unknown name: the plain 404.
    assert json.loads(client.get("/pypi/nothing/json").content) == {"message": "Not Found"}
    assert json.loads(client.get("/pypi/nothing/1.0/json").content) == {"message": "Not Found"}


def test_openapi_describes_the_status(client):
    schemas = json.loads(client.get("/api/openapi.json").content)["components"]["schemas"]
    assert "project_status" in schemas["Info"]["required"]
    assert schemas["StatusJson"]["required"] == ["status"]
    assert set(schemas["StatusJson"]["properties"]) == {"status", "reason"}
    assert "project_status" not in schemas["NotFound"].get("required", [])


# --- Pages and feeds ------------------------------------------------------------------------


def test_project_and_release_pages_show_the_status(client, published, successor, set_status):
    assert 'data-project-status="' not in client.get("/project/sample-project/").content.decode()
    set_status(published, "deprecated", reason="Old <stuff>", successor="new-thing")

    for url in ("/project/sample-project/", "/project/sample-project/1.0/"):
        page = client.get(url).content.decode()
        assert 'data-project-status="deprecated"' in page
        assert "This project is deprecated</strong>: Old &lt;stuff&gt;" in page
        assert 'Use <a href="/project/new-thing/">New.Thing</a> instead.' in page

    set_status(published, "archived")
    page = client.get("/project/sample-project/").content.decode()
    assert "This project is archived</strong>." in page
    assert "it accepts no new uploads, and its files stay installable" in page


def test_a_quarantined_project_page_says_why_and_shows_nothing_else(
    client, published, moderator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        project_quarantine(project=published, actor=Actor(moderator), reason="Steals <keys>")

    response = client.get("/project/sample-project/")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-project-status="quarantined"' in page
    assert "This project is quarantined</strong>: Steals &lt;keys&gt;" in page
    assert File.objects.get().filename not in page
    assert "1.0" not in page
    # Other spellings go to the normalized name; the release page stays a 404.
    redirect = client.get("/project/Sample.Project/")
    assert (redirect.status_code, redirect["Location"]) == (301, "/project/sample-project/")
    assert client.get("/project/sample-project/1.0/").status_code == 404
    assert client.get("/project/nothing-here/").status_code == 404


def test_the_project_feed_says_the_status(client, published, set_status):
    def channel_description():
        body = client.get("/rss/project/sample-project/releases.xml").content.decode()
        return body.split("<description>", 1)[1].split("</description>", 1)[0]

    assert channel_description().endswith("latest releases of Sample.Project.")
    set_status(published, "archived", reason="Finished")
    assert channel_description().endswith(
        "latest releases of Sample.Project. Sample.Project is archived. Reason: Finished."
    )


def test_status_values_are_the_pep_792_names():
    assert {status.value for status in ProjectStatus} == {
        "active",
        "archived",
        "deprecated",
        "quarantined",
    }
