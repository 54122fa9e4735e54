"""/manage/project/<name>/sessions/ (packages.views.manage_sessions): the
project's people see its staged releases; Owners publish them, and Owners or
whoever opened a session cancel it; Owners require sessions for every upload."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.events import Actor
from accounts.models import Event
from accounts.tokens import api_token_create
from packages import upload_sessions
from packages.models import File, Project, StagedFile, UploadSession
from tests.conftest import give_two_factor
from tests.factories import make_sdist, make_wheel, post_upload

pytestmark = pytest.mark.django_db

URL = "/manage/project/sample-project/sessions/"
PUBLISH = URL + "publish/"
CANCEL = URL + "cancel/"
REQUIRE = URL + "require/"
IP = "203.0.113.43"


@pytest.fixture(autouse=True)
def _two_factor(settings, owner, maintainer, outsider):
    settings.REQUIRE_2FA_TO_MANAGE = True
    for user in (owner, maintainer, outsider):
        give_two_factor(user)


@pytest.fixture
def files_root(tmp_path):
    return tmp_path / "files"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def as_owner(owner, project):
    return signed_in(owner)


@pytest.fixture
def as_maintainer(maintainer, project):
    return signed_in(maintainer)


def staged(project, user, *dists) -> UploadSession:
    """``dists`` (of one version) uploaded by ``user`` with twine's request to
    ``project``, which requires sessions: staged in that version's session."""
    Project.objects.filter(pk=project.pk).update(require_upload_sessions=True)
    secret = api_token_create(user=user).secret
    for dist in dists:
        response = post_upload(Client(), dist, secret)
        assert response.status_code == 200, response.content
    return UploadSession.objects.get(status="pending", version=dists[0].filename.split("-")[1])


@pytest.fixture
def session(project, owner) -> UploadSession:
    return staged(
        project, owner, make_wheel("Sample.Project", "1.0"), make_sdist("Sample.Project", "1.0")
    )


def page(client) -> str:
    response = client.get(URL)
    assert response.status_code == 200, response.content
    return response.content.decode()


# --- who sees what -----------------------------------------------------------------------


def test_the_projects_navigation_links_here(as_maintainer):
    releases = as_maintainer.get("/manage/project/sample-project/").content.decode()
    assert f'<a class="manage-tabs__link" href="{URL}">Staged releases</a>' in releases
    assert f'href="{URL}" aria-current="page">Staged releases</a>' in page(as_maintainer)


def test_the_settings_page_says_whether_sessions_are_required_and_links_here(as_owner, project):
    settings_url = "/manage/project/sample-project/settings/"
    html = as_owner.get(settings_url).content.decode()
    assert "Uploads to Sample.Project are public as soon as they are accepted." in html
    assert f'href="{URL}#require-heading"' in html
    Project.objects.filter(pk=project.pk).update(require_upload_sessions=True)
    html = as_owner.get(settings_url).content.decode()
    assert "Uploads to Sample.Project are staged until an Owner publishes them." in html


def test_an_owner_sees_the_session_its_files_and_how_to_try_it(as_owner, session):
    html = page(as_owner)

    assert "Sample.Project 1.0" in html
    assert "Opened by olivia" in html
    assert f'datetime="{session.expires_at.isoformat()}"' in html
    for staged_file in session.files.all():
        assert staged_file.filename in html
        assert staged_file.sha256_digest in html
    preview = "http://testserver" + upload_sessions.preview_url(session)
    assert session.preview_secret in preview
    assert f"pip install --index-url {preview} Sample.Project==1.0" in html
    assert f"uv pip install --index-url {preview} Sample.Project==1.0" in html
    # With its dependencies from the index (uv prefers the extra index for the
    # project it finds there, pip merges both).
    both = f"--index-url http://testserver/simple/ --extra-index-url {preview} Sample.Project==1.0"
    assert f">pip install {both}</code>" in html
    assert f">uv pip install {both}</code>" in html
    assert f'action="{PUBLISH}"' in html
    assert f'action="{CANCEL}"' in html
    assert f'action="{REQUIRE}"' in html
    assert "<strong data-require-sessions>On</strong>" in html
    assert "Stop requiring sessions" in html


def test_with_no_session_the_page_says_so(as_owner):
    html = page(as_owner)
    assert "No staged release: nothing is waiting to be published." in html
    assert "<strong data-require-sessions>Off</strong>" in html
    assert ">Require sessions</button>" in html


def test_a_maintainer_sees_but_may_not_publish_nor_change_the_option(as_maintainer, session):
    html = page(as_maintainer)
    assert "Sample.Project 1.0" in html
    assert session.preview_secret in html
    assert f'action="{PUBLISH}"' not in html
    assert f'action="{REQUIRE}"' not in html
    # Not theirs: opened by the Owner.
    assert f'action="{CANCEL}"' not in html
    assert "Only the project's Owners can change this." in html


def test_a_maintainer_may_cancel_the_session_they_opened(project, maintainer, as_maintainer):
    session = staged(project, maintainer, make_wheel("Sample.Project", "2.0"))
    assert f'action="{CANCEL}"' in page(as_maintainer)

    response = as_maintainer.post(CANCEL, {"session": session.uuid}, REMOTE_ADDR=IP)

    assert (response.status_code, response["Location"]) == (302, URL)
    session.refresh_from_db()
    assert session.status == "canceled"
    assert not StagedFile.objects.exists()


def test_an_outsider_sees_nothing(outsider, session):
    client = signed_in(outsider)
    for path in (URL,):
        assert client.get(path).status_code == 404
    for path, data in [
        (PUBLISH, {"session": session.uuid, "confirm": "1.0"}),
        (CANCEL, {"session": session.uuid}),
        (REQUIRE, {"required": "off"}),
    ]:
        assert client.post(path, data).status_code == 404
    session.refresh_from_db()
    assert session.status == "pending"


def test_anonymous_is_sent_to_sign_in(client, session):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/")


def test_staged_files_are_not_on_the_public_pages(client, session):
    for staged_file in session.files.all():
        assert staged_file.filename not in client.get("/project/sample-project/").content.decode()
        assert staged_file.filename not in client.get("/simple/sample-project/").content.decode()


def test_other_spellings_redirect_to_the_normalized_url(as_owner):
    response = as_owner.get("/manage/project/Sample.Project/sessions/")
    assert (response.status_code, response["Location"]) == (301, URL)


# --- publishing ------------------------------------------------------------------------


def test_an_owner_publishes_after_typing_the_version(
    as_owner, session, owner, django_capture_on_commit_callbacks
):
    filenames = sorted(session.files.values_list("filename", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        response = as_owner.post(
            PUBLISH, {"session": session.uuid, "confirm": " 1.0 "}, REMOTE_ADDR=IP
        )

    assert (response.status_code, response["Location"]) == (302, URL)
    assert sorted(
        File.objects.filter(release__version="1.0").values_list("filename", flat=True)
    ) == (filenames)
    session.refresh_from_db()
    assert session.status == "published"
    event = Event.objects.filter(project=session.project).latest("id")
    assert (event.tag, event.actor, event.ip_address) == (
        "project:upload-session:published",
        owner,
        IP,
    )
    html = page(as_owner)
    assert "Sample.Project 1.0 is published with 2 files." in html
    assert "No staged release" in html
    simple = as_owner.get("/simple/sample-project/").content.decode()
    assert all(filename in simple for filename in filenames)


def test_one_file_is_said_as_one(project, owner, as_owner):
    session = staged(project, owner, make_wheel("Sample.Project", "3.0"))
    as_owner.post(PUBLISH, {"session": session.uuid, "confirm": "3.0"})
    assert "Sample.Project 3.0 is published with 1 file." in page(as_owner)


@pytest.mark.parametrize("typed", ["", "1.1", "sample-project"])
def test_publishing_wants_the_version_typed(as_owner, session, typed):
    response = as_owner.post(PUBLISH, {"session": session.uuid, "confirm": typed})

    assert response.status_code == 400
    html = response.content.decode()
    message = "Type the version 1.0 to confirm publishing it."
    assert message in html or "Confirmation: This field is required." in html
    session.refresh_from_db()
    assert session.status == "pending"
    assert not File.objects.filter(release__version="1.0").exists()


def test_a_maintainer_may_not_publish(as_maintainer, session):
    response = as_maintainer.post(PUBLISH, {"session": session.uuid, "confirm": "1.0"})
    assert response.status_code == 403
    session.refresh_from_db()
    assert session.status == "pending"


def test_a_refused_publication_says_why(as_owner, session, owner):
    # A file announced through the API whose bytes never came: nothing is published.
    upload_sessions.declare_file(
        session,
        filename="sample_project-1.0-py2-none-any.whl",
        size=10,
        hashes={"sha256": "a" * 64},
        token=None,
        actor=Actor(user=owner),
    )

    response = as_owner.post(PUBLISH, {"session": session.uuid, "confirm": "1.0"})

    assert response.status_code == 409
    assert "have not been uploaded" in response.content.decode()
    assert not File.objects.filter(release__version="1.0").exists()


# --- cancelling ----------------------------------------------------------------------------


def test_an_owner_cancels_any_session_and_nothing_is_left(
    project, maintainer, as_owner, files_root, django_capture_on_commit_callbacks
):
    session = staged(project, maintainer, make_wheel("Sample.Project", "2.0"))
    assert list(files_root.rglob("*.whl"))

    with django_capture_on_commit_callbacks(execute=True):
        response = as_owner.post(CANCEL, {"session": session.uuid})

    assert (response.status_code, response["Location"]) == (302, URL)
    assert not StagedFile.objects.exists()
    assert list(files_root.rglob("*.whl")) == []
    assert "The session of Sample.Project 2.0 is cancelled: its files are gone." in page(as_owner)


def test_a_maintainer_may_not_cancel_someone_elses(as_maintainer, session):
    response = as_maintainer.post(CANCEL, {"session": session.uuid})
    assert response.status_code == 403
    session.refresh_from_db()
    assert session.status == "pending"


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [PUBLISH, CANCEL])
@pytest.mark.parametrize("value", ["", "42", "not-a-uuid", "x\x00y"])
def test_a_malformed_session_id_is_a_400(as_owner, session, path, value):
    response = as_owner.post(path, {"session": value, "confirm": "1.0"})
    assert response.status_code == 400
    assert "Session: " in response.content.decode()


@pytest.mark.parametrize("path", [PUBLISH, CANCEL])
def test_a_session_that_is_not_open_here_is_a_404(as_owner, session, owner, path):
    other = Project.objects.create(name="Other", normalized_name="other")
    elsewhere = UploadSession.objects.create(
        project=other,
        name="Other",
        normalized_name="other",
        version="1.0",
        canonical_version="1",
        created_by=owner,
        expires_at=session.expires_at,
        preview_secret="elsewhere",
    )
    upload_sessions.cancel_session(session, actor=Actor(user=owner))
    for uuid in (elsewhere.uuid, session.uuid, "00000000-0000-4000-8000-000000000000"):
        assert as_owner.post(path, {"session": uuid, "confirm": "1.0"}).status_code == 404


@pytest.mark.parametrize("path", [URL])
def test_the_page_is_read_only(as_owner, path):
    assert as_owner.post(path).status_code == 405


@pytest.mark.parametrize("path", [PUBLISH, CANCEL, REQUIRE])
def test_the_actions_are_posts(as_owner, path):
    assert as_owner.get(path).status_code == 405


def test_a_post_without_the_csrf_token_is_refused(owner, session):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    for path, data in [
        (PUBLISH, {"session": session.uuid, "confirm": "1.0"}),
        (CANCEL, {"session": session.uuid}),
        (REQUIRE, {"required": "off"}),
    ]:
        assert client.post(path, data).status_code == 403
    session.refresh_from_db()
    assert session.status == "pending"


def test_the_forms_carry_the_csrf_token(as_owner, session):
    html = page(as_owner)
    forms = re.findall(r'<form[^>]*action="[^"]*/sessions/[^"]*".*?</form>', html, re.S)
    assert len(forms) == 3
    assert all('name="csrfmiddlewaretoken"' in form for form in forms)


# --- the option ----------------------------------------------------------------------------


def test_an_owner_requires_sessions_then_stops(as_owner, project, owner):
    response = as_owner.post(REQUIRE, {"required": "on"}, REMOTE_ADDR=IP)

    assert (response.status_code, response["Location"]) == (302, URL)
    project.refresh_from_db()
    assert project.require_upload_sessions is True
    event = Event.objects.filter(project=project).latest("id")
    assert (event.tag, event.actor, event.ip_address) == (
        "project:upload-sessions:required",
        owner,
        IP,
    )
    assert "now waits in a session until an Owner publishes it" in page(as_owner)
    history = as_owner.get("/manage/project/sample-project/history/").content.decode()
    assert "Publishing sessions required for every upload" in history

    as_owner.post(REQUIRE, {"required": "off"})
    project.refresh_from_db()
    assert project.require_upload_sessions is False
    assert "Uploads to Sample.Project are published at once again." in page(as_owner)


def test_asking_for_what_is_already_so_says_so(as_owner, project):
    response = as_owner.post(REQUIRE, {"required": "off"})
    assert response.status_code == 409
    assert "Sample.Project does not require publishing sessions." in response.content.decode()


@pytest.mark.parametrize("value", ["", "yes", "\x00"])
def test_a_malformed_option_is_a_400(as_owner, project, value):
    response = as_owner.post(REQUIRE, {"required": value})
    assert response.status_code == 400
    assert "Require sessions: " in response.content.decode()
    project.refresh_from_db()
    assert project.require_upload_sessions is False


def test_a_maintainer_may_not_change_the_option(as_maintainer, project):
    assert as_maintainer.post(REQUIRE, {"required": "on"}).status_code == 403
    project.refresh_from_db()
    assert project.require_upload_sessions is False


# --- queries -------------------------------------------------------------------------------


def test_the_page_reads_as_many_queries_for_two_sessions_as_for_one(
    as_owner, project, owner, maintainer
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page(as_owner)
        return len(captured)

    staged(project, owner, make_wheel("Sample.Project", "1.0"), make_sdist("Sample.Project", "1.0"))
    one = queries()
    staged(project, maintainer, make_wheel("Sample.Project", "2.0"))
    assert queries() == one
