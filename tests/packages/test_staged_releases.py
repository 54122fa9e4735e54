"""A project whose Owners require publishing sessions (packages.staged_releases
and its step in packages.upload): a legacy upload is checked as always, then
lands staged in its release's open session and nothing public changes."""

import json
import os

import pytest
from django.core.cache import cache

from accounts.events import Actor
from accounts.models import Event
from accounts.tokens import api_token_create
from packages import upload as upload_module
from packages import upload_sessions
from packages.models import File, FileRegistry, JournalEntry, Project, StagedFile, UploadSession
from packages.staged_releases import StagedReleaseError, project_require_sessions_set
from tests.factories import make_release, make_sdist, make_wheel, path_of, post_upload

pytestmark = pytest.mark.django_db

IP = "203.0.113.43"


@pytest.fixture
def files_root(tmp_path):
    return tmp_path / "files"


@pytest.fixture
def maintainer_token(maintainer):
    return api_token_create(user=maintainer).secret


@pytest.fixture
def requiring(project, client, token):
    """Sample.Project with 0.9 published, then sessions required."""
    response = post_upload(client, make_wheel("Sample.Project", "0.9"), token)
    assert response.status_code == 200, response.content
    project.require_upload_sessions = True
    project.save(update_fields=["require_upload_sessions"])
    project.refresh_from_db()
    cache.clear()
    return project


def public_state(client, project):
    """What anyone sees of the project: its simple page, JSON API and serial."""
    simple = client.get(
        "/simple/sample-project/", HTTP_ACCEPT="application/vnd.pypi.simple.v1+json"
    )
    api = client.get("/pypi/sample-project/json")
    project.refresh_from_db()
    return (
        sorted(file["filename"] for file in json.loads(simple.content)["files"]),
        sorted(json.loads(api.content)["releases"]),
        project.last_serial,
        JournalEntry.objects.count(),
    )


def stored(files_root) -> list[str]:
    return sorted(name for _dir, _sub, names in os.walk(files_root) for name in names)


# --- the option -------------------------------------------------------------------------


def test_an_owner_requires_sessions_and_the_history_says_so(project, owner):
    actor = Actor(user=owner, ip_address=IP)

    changed = project_require_sessions_set(project=project, required=True, actor=actor)

    assert changed.require_upload_sessions is True
    project.refresh_from_db()
    assert project.require_upload_sessions is True
    event = Event.objects.filter(project=project).latest("id")
    assert (event.tag, event.actor, event.ip_address) == (
        "project:upload-sessions:required",
        owner,
        IP,
    )
    assert event.description == "Publishing sessions required for every upload"

    project_require_sessions_set(project=project, required=False, actor=actor)
    project.refresh_from_db()
    assert project.require_upload_sessions is False
    event = Event.objects.filter(project=project).latest("id")
    assert event.tag == "project:upload-sessions:not-required"
    assert event.description == "Publishing sessions no longer required"


@pytest.mark.parametrize(
    ("required", "message"),
    [
        (True, "Sample.Project already requires publishing sessions."),
        (False, "Sample.Project does not require publishing sessions."),
    ],
)
def test_a_change_that_changes_nothing_is_refused(project, owner, required, message):
    project.require_upload_sessions = required
    project.save(update_fields=["require_upload_sessions"])
    events = Event.objects.count()

    with pytest.raises(StagedReleaseError, match=message):
        project_require_sessions_set(project=project, required=required, actor=Actor(user=owner))

    assert Event.objects.count() == events


def test_a_deleted_project_is_refused(project, owner):
    Project.objects.filter(pk=project.pk).delete()
    with pytest.raises(StagedReleaseError, match=r"Project Sample\.Project no longer exists\."):
        project_require_sessions_set(project=project, required=True, actor=Actor(user=owner))


# --- a legacy upload lands staged ----------------------------------------------------------


def test_a_legacy_upload_is_staged_and_nothing_public_changes(
    client, requiring, token, owner, files_root
):
    before = public_state(client, requiring)
    wheel = make_wheel("Sample.Project", "1.0")

    response = post_upload(client, wheel, token)

    # Success for twine and uv, with a note for whoever reads it.
    assert response.status_code == 200, response.content
    assert response.reason_phrase == "OK (staged until an Owner publishes it)"
    body = response.content.decode()
    assert body.startswith("OK: staged, not public yet.")
    assert "http://testserver/manage/project/sample-project/sessions/" in body
    # Staged in a session the uploader opened, stored, not a File.
    session = UploadSession.objects.get(status="pending")
    assert (session.project, session.version, session.created_by) == (requiring, "1.0", owner)
    staged = session.files.get()
    assert (staged.filename, staged.status, staged.sha256_digest) == (
        wheel.filename,
        "complete",
        wheel.sha256,
    )
    assert path_of(wheel).rsplit("/", 1)[-1] in stored(files_root)
    assert not File.objects.filter(filename=wheel.filename).exists()
    assert not FileRegistry.objects.filter(filename=wheel.filename).exists()
    assert public_state(client, requiring) == before


def test_the_sdist_joins_the_session_another_persons_wheel_opened(
    client, requiring, token, maintainer_token, maintainer
):
    wheel, sdist = make_wheel("Sample.Project", "1.0"), make_sdist("Sample.Project", "1.0")
    assert post_upload(client, wheel, maintainer_token).status_code == 200

    response = post_upload(client, sdist, token)

    assert response.status_code == 200, response.content
    session = UploadSession.objects.get(status="pending")
    assert session.created_by == maintainer
    assert sorted(session.files.values_list("filename", flat=True)) == sorted(
        [wheel.filename, sdist.filename]
    )


def test_each_version_gets_its_own_session(client, requiring, token):
    post_upload(client, make_wheel("Sample.Project", "1.0"), token)
    post_upload(client, make_wheel("Sample.Project", "1.1"), token)
    assert sorted(UploadSession.objects.values_list("version", flat=True)) == ["1.0", "1.1"]


def test_an_identical_reupload_succeeds_and_stages_nothing_more(client, requiring, token):
    wheel = make_wheel("Sample.Project", "1.0")
    post_upload(client, wheel, token)

    response = post_upload(client, wheel, token)

    assert response.status_code == 200, response.content
    assert response.content.decode().startswith("OK: staged")
    assert StagedFile.objects.count() == 1


def test_other_bytes_under_a_staged_filename_are_refused(client, requiring, token):
    wheel = make_wheel("Sample.Project", "1.0")
    other = make_wheel("Sample.Project", "1.0", files={"sample_project/x.py": b"X = 1\n"})
    assert other.filename == wheel.filename
    post_upload(client, wheel, token)

    response = post_upload(client, other, token)

    assert response.status_code == 409, response.content
    assert StagedFile.objects.get().sha256_digest == wheel.sha256


def test_a_staged_upload_is_checked_as_a_legacy_one(client, requiring, token, files_root):
    before = stored(files_root)
    wheel = make_wheel("Sample.Project", "1.0")

    response = post_upload(client, wheel, token, sha256_digest="0" * 64)

    assert response.status_code == 400
    assert "The digest supplied does not match" in response.reason_phrase
    assert not StagedFile.objects.exists()
    assert stored(files_root) == before


def test_a_published_filename_is_not_staged_again(client, requiring, token):
    make_release(requiring, "1.0")
    wheel = make_wheel("Sample.Project", "0.9")  # published by the fixture

    response = post_upload(client, wheel, token)

    assert response.status_code == 409, response.content
    assert not StagedFile.objects.exists()


def test_a_project_without_the_option_publishes_at_once(client, project, token):
    response = post_upload(client, make_wheel("Sample.Project", "1.0"), token)
    assert response.content == b"OK\n"
    assert File.objects.count() == 1
    assert not UploadSession.objects.exists()


def test_publishing_makes_the_staged_files_public_in_one_serial(
    client, requiring, token, owner, django_capture_on_commit_callbacks
):
    wheel, sdist = make_wheel("Sample.Project", "1.0"), make_sdist("Sample.Project", "1.0")
    post_upload(client, wheel, token)
    post_upload(client, sdist, token)
    entries = JournalEntry.objects.count()
    session = UploadSession.objects.get(status="pending")

    with django_capture_on_commit_callbacks(execute=True):
        upload_sessions.publish_session(session, actor=Actor(user=owner))

    files, releases, serial, count = public_state(client, requiring)
    assert set(files) >= {wheel.filename, sdist.filename}
    assert "1.0" in releases
    assert count == entries + 1
    assert serial == JournalEntry.objects.order_by("id").last().id


# --- races --------------------------------------------------------------------------


def test_the_option_turned_on_during_an_upload_refuses_it(
    client, project, token, owner, files_root, monkeypatch
):
    # The upload was checked with the option off; an Owner turns it on just
    # before its commit, which must not then publish the file.
    real = upload_module.check_content

    def owner_requires_sessions_meanwhile(upload):
        real(upload)
        project_require_sessions_set(project=project, required=True, actor=Actor(user=owner))

    monkeypatch.setattr(upload_module, "check_content", owner_requires_sessions_meanwhile)

    response = post_upload(client, make_wheel("Sample.Project", "1.0"), token)

    assert response.status_code == 409, response.content
    assert "now requires publishing sessions: upload the file again" in response.reason_phrase
    assert not File.objects.exists()
    assert stored(files_root) == []


def test_a_session_opened_meanwhile_by_someone_else_is_joined(
    client, requiring, token, maintainer, monkeypatch
):
    real = upload_sessions.open_session

    def maintainer_opens_first(**arguments):
        real(**{**arguments, "user": maintainer, "token": None})
        return real(**arguments)

    monkeypatch.setattr(upload_sessions, "open_session", maintainer_opens_first)

    response = post_upload(client, make_wheel("Sample.Project", "1.0"), token)

    assert response.status_code == 200, response.content
    session = UploadSession.objects.get()
    assert session.created_by == maintainer
    assert session.files.count() == 1


def test_a_refusal_to_open_a_session_stands(client, requiring, token, monkeypatch):
    real = upload_sessions.open_session

    def archived_meanwhile(**arguments):
        Project.objects.filter(pk=requiring.pk).update(status="archived")
        return real(**arguments)

    monkeypatch.setattr(upload_sessions, "open_session", archived_meanwhile)

    response = post_upload(client, make_wheel("Sample.Project", "1.0"), token)

    assert response.status_code == 400, response.content
    assert "is archived: it accepts no new uploads" in response.reason_phrase
    assert not UploadSession.objects.exists()


def test_after_a_cancel_the_filename_is_free_again(
    client, requiring, token, owner, files_root, django_capture_on_commit_callbacks
):
    wheel = make_wheel("Sample.Project", "1.0")
    post_upload(client, wheel, token)
    session = UploadSession.objects.get(status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        upload_sessions.cancel_session(session, actor=Actor(user=owner))
    assert not StagedFile.objects.exists()
    assert path_of(wheel).rsplit("/", 1)[-1] not in stored(files_root)

    response = post_upload(client, wheel, token)

    assert response.status_code == 200, response.content
    assert UploadSession.objects.get(status="pending").files.get().filename == wheel.filename
