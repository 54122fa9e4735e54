"""Publishing sessions' service (packages.upload_sessions) where the protocol
does not reach: the stage, the web's callers, expiry, the admin, fsck."""

import io
from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.datastructures import MultiValueDict

from accounts.events import Actor
from accounts.models import Event
from accounts.tokens import api_token_create
from packages import consistency, upload_sessions
from packages.models import File, Project, StagedFile, TrustedPublisher, UploadSession
from packages.policy import UploadError
from packages.storage import files_storage
from packages.upload_handler import HashingUploadHandler
from tests.factories import make_sdist, make_wheel, path_of, post_upload
from tests.packages.test_upload_sessions_api import Api, stored_names

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, token, django_capture_on_commit_callbacks):
    return Api(client, token, django_capture_on_commit_callbacks)


@pytest.fixture
def session(api) -> dict:
    return api.create().json()


def received(dist):
    """``dist`` as the upload's handler leaves a received file."""
    handler = HashingUploadHandler()
    handler.new_file("content", dist.filename, "application/octet-stream", None)
    handler.receive_data_chunk(dist.content, 0)
    return handler.file_complete(len(dist.content))


def open_row(owner, name="sample-project", version="1.0") -> UploadSession:
    return upload_sessions.open_session(
        user=owner, token=None, actor=Actor(user=owner), name=name, version=version
    )


# --- the stage -------------------------------------------------------------------------


def test_the_stage_is_an_index_of_the_sessions_project(api, session, client):
    wheel = make_wheel("sample-project", "1.0", requires_python=">=3.8")
    api.stage(session, wheel)
    stage = session["links"]["stage"]
    index = client.get(stage)
    assert index.status_code == 200
    assert index["Cache-Control"] == "private, no-store"
    assert '<a href="sample-project/">sample-project</a>' in index.content.decode()
    listed = client.get(stage, HTTP_ACCEPT="application/vnd.pypi.simple.v1+json").json()
    assert listed["projects"] == [{"name": "sample-project"}]

    page = client.get(stage + "sample-project/")
    assert page["Cache-Control"] == "private, no-store"
    html = page.content.decode()
    file_url = reverse("upload-stage-file", args=[session["session-token"], wheel.filename])
    assert f'href="{file_url}#sha256={wheel.sha256}"' in html
    assert 'data-requires-python="&gt;=3.8"' in html
    detail = client.get(
        stage + "sample-project/", HTTP_ACCEPT="application/vnd.pypi.simple.v1+json"
    )
    (listed,) = detail.json()["files"]
    assert listed["url"] == file_url
    assert detail.json()["versions"] == ["1.0"]

    download = client.get(file_url)
    assert download.status_code == 200
    assert download["Cache-Control"] == "private, no-store"
    assert download["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == wheel.content
    metadata = client.get(file_url + ".metadata")
    assert b"".join(metadata.streaming_content) == wheel.metadata.encode()
    assert client.head(stage + "sample-project/").content == b""


def test_the_stage_adds_the_session_to_the_published_releases(api, project, client, token):
    assert post_upload(client, make_wheel("sample-project", "0.9"), token).status_code == 200
    session = api.create("sample-project", "1.0").json()
    sdist = make_sdist("sample-project", "1.0")
    api.stage(session, sdist)
    accept = "application/vnd.pypi.simple.v1+json"
    detail = client.get(session["links"]["stage"] + "sample-project/", HTTP_ACCEPT=accept).json()
    assert detail["versions"] == ["0.9", "1.0"]
    urls = {f["filename"]: f["url"] for f in detail["files"]}
    assert urls["sample_project-0.9-py3-none-any.whl"].startswith("/packages/")
    assert "/stage/" in urls[sdist.filename]
    # An sdist's PKG-INFO is not served as metadata (PEP 658 is for wheels).
    assert client.get(urls[sdist.filename] + ".metadata").status_code == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("other/", 404),
        ("files/unknown-1.0.tar.gz", 404),
    ],
)
def test_the_stage_holds_nothing_else(api, session, client, path, status):
    response = client.get(session["links"]["stage"] + path)
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"


def test_a_stage_is_found_by_its_secret_only_while_open(api, session, client):
    stage = session["links"]["stage"]
    assert client.post(stage).status_code == 405
    assert client.get("/upload/2.0/stage/" + "A" * 43 + "/").status_code == 404
    UploadSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(stage).status_code == 404
    assert UploadSession.objects.get().status == "expired"
    assert client.get(stage).status_code == 404  # ended: not open


# --- the web's callers (packages.views of the management pages) ------------------------


def test_a_legacy_upload_can_land_in_a_session(owner, project, tmp_path):
    session = open_row(owner, version="2.0")
    wheel = make_wheel("sample-project", "2.0")
    content = received(wheel)
    form = MultiValueDict({**{k: [v] for k, v in wheel.form().items() if isinstance(v, str)}})
    staged = upload_sessions.stage_file(
        session, content=content, token=None, actor=Actor(user=owner), form=form
    )
    assert staged.status == "complete"
    assert staged.declared_hashes == {"sha256": wheel.sha256}
    assert upload_sessions.reserved_filename(wheel.filename) == session
    assert list(upload_sessions.sessions_of(project)) == [session]
    with pytest.raises(UploadError, match="is already staged"):
        upload_sessions.stage_file(
            session, content=received(wheel), token=None, actor=Actor(user=owner), form=form
        )
    (published,) = upload_sessions.publish_session(session, actor=Actor(user=owner))
    assert published.filename == wheel.filename
    assert list(upload_sessions.sessions_of(project)) == []


def test_only_the_projects_people_publish_on_the_web(owner, outsider, project):
    session = open_row(owner, version="2.0")
    wheel = make_wheel("sample-project", "2.0")
    upload_sessions.stage_file(
        session, content=received(wheel), token=None, actor=Actor(user=owner)
    )
    with pytest.raises(UploadError, match="isn't allowed to upload"):
        upload_sessions.publish_session(session, actor=Actor(user=outsider))
    assert not File.objects.exists()


def test_the_bytes_of_a_declared_file_are_taken_once(owner, project):
    session = open_row(owner, version="2.0")
    wheel = make_wheel("sample-project", "2.0")
    declared = upload_sessions.declare_file(
        session,
        filename=wheel.filename,
        size=len(wheel.content),
        hashes={"sha256": wheel.sha256, "sha512": "ignored"},
        token=None,
        actor=Actor(user=owner),
    )
    assert declared.declared_hashes == {"sha256": wheel.sha256}
    actor = Actor(user=owner)
    upload_sessions.stage_file(
        session, content=received(wheel), token=None, actor=actor, staged=declared
    )
    # The same declared row, read before the first arrival: a concurrent sender.
    with pytest.raises(UploadError, match="was uploaded already"):
        upload_sessions.stage_file(
            session, content=received(wheel), token=None, actor=actor, staged=declared
        )
    assert files_storage().exists(path_of(wheel))


def test_bytes_for_a_session_that_ended_meanwhile_are_not_kept(owner, project, tmp_path):
    session = open_row(owner, version="2.0")
    upload_sessions.cancel_session(session, actor=Actor(user=owner))
    with pytest.raises(UploadError, match="is canceled"):
        upload_sessions.stage_file(
            session, content=received(make_wheel("sample-project", "2.0")), token=None,
            actor=Actor(user=owner),
        )  # fmt: skip
    assert stored_names(tmp_path / "files") == []


def test_a_staged_copy_of_a_published_file_keeps_its_bytes_when_dropped(
    api, session, client, token, django_capture_on_commit_callbacks
):
    wheel = make_wheel("sample-project", "1.0")
    api.stage(session, wheel)
    StagedFile.objects.update(reserved=False)
    assert post_upload(client, wheel, token).status_code == 200
    StagedFile.objects.update(reserved=True)
    with django_capture_on_commit_callbacks(execute=True):
        upload_sessions.delete_staged_file(StagedFile.objects.get(), actor=Actor(user=None))
    assert files_storage().exists(path_of(wheel))  # the File's


def test_bytes_identical_to_a_published_file_are_refused(api, session, client, token):
    wheel = make_wheel("sample-project", "1.0")
    announced = api.announce(session, wheel).json()
    StagedFile.objects.update(reserved=False)
    assert post_upload(client, wheel, token).status_code == 200
    StagedFile.objects.update(reserved=True)
    response = api.send(announced, wheel.content)
    assert response.status_code == 409
    assert "is already published" in response.json()["detail"]


def test_an_sdist_published_meanwhile_stops_the_sessions_sdist(api, project, client, token):
    session = api.create("sample-project", "1.0").json()
    sdist = make_sdist("sample-project", "1.0")
    api.stage(session, sdist)
    StagedFile.objects.update(reserved=False)
    assert post_upload(client, sdist, token).status_code == 200
    StagedFile.objects.update(reserved=True)
    response = api.post(session["links"]["publish"])
    assert response.status_code == 409
    assert "Only one sdist" in response.json()["detail"]


def test_a_new_projects_session_canceled_records_nothing(owner):
    session = open_row(owner)
    upload_sessions.cancel_session(session, actor=Actor(user=owner))
    assert not Event.objects.filter(tag__startswith="project:upload-session").exists()
    assert not Project.objects.exists()


# --- trusted publishing --------------------------------------------------------------------


def test_a_trusted_publishers_later_tokens_continue_its_session(
    client, owner, project, django_capture_on_commit_callbacks
):
    publisher = TrustedPublisher.objects.create(
        project=project, provider="github", repository="o/r", workflow="release.yml"
    )

    def minted():
        return api_token_create(user=owner, projects=[project], trusted_publisher=publisher)

    first = Api(client, minted().secret, django_capture_on_commit_callbacks)
    session = first.create("sample-project", "2.0").json()
    row = UploadSession.objects.get()
    assert row.publisher_identity == publisher.identity
    later = Api(client, minted().secret, django_capture_on_commit_callbacks)
    later.stage(session, make_wheel("sample-project", "2.0"))
    # The owner's own token is other credentials than the publisher's.
    own = Api(client, api_token_create(user=owner).secret, django_capture_on_commit_callbacks)
    assert own.get(session["links"]["session"]).status_code == 403
    assert later.post(session["links"]["publish"]).status_code == 202
    uploaded = project.events.get(tag="project:file:uploaded")
    assert uploaded.details["publisher"] == publisher.identity


# --- limits ----------------------------------------------------------------------------------


def test_new_projects_through_sessions_count_against_the_creation_limit(api, settings):
    settings.RATELIMITS = {**settings.RATELIMITS, "project-create": (0, 3600)}
    response = api.create("brand-new", "1.0")
    assert response.status_code == 429
    assert response["Retry-After"]


def test_the_staged_files_count_against_the_projects_total(api, project, settings):
    project.total_size_limit = 1
    project.save()
    session = api.create("sample-project", "2.0").json()
    response = api.announce(session, make_wheel("sample-project", "2.0"))
    assert response.status_code == 400
    assert "Project size too large." in response.json()["detail"]


# --- expiry, admin, fsck ----------------------------------------------------------------------


def test_the_command_ends_overdue_sessions_and_forgets_unsent_files(api, session, tmp_path):
    wheel, sdist = make_wheel("sample-project", "1.0"), make_sdist("sample-project", "1.0")
    api.stage(session, wheel)
    other = api.create("sample-project", "2.0").json()
    api.announce(other, make_wheel("sample-project", "2.0"))
    StagedFile.objects.filter(status="pending").update(expires_at=timezone.now())
    out = io.StringIO()
    with api.on_commit(execute=True):
        call_command("expire_upload_sessions", stdout=out)
    assert out.getvalue() == "Expired 0 publishing sessions.\n"
    assert StagedFile.objects.get().filename == wheel.filename
    UploadSession.objects.filter(version="1.0").update(expires_at=timezone.now())
    with api.on_commit(execute=True):
        assert upload_sessions.reserved_filename(wheel.filename) is None
    UploadSession.objects.filter(version="2.0").update(expires_at=timezone.now())
    with api.on_commit(execute=True):
        call_command("expire_upload_sessions", stdout=out)
    assert out.getvalue().endswith("Expired 1 publishing session.\n")
    assert upload_sessions.reserved_name("sample-project") is None
    assert stored_names(tmp_path / "files") == []
    assert sdist.filename  # never sent: nothing of it anywhere


def test_an_overdue_session_holds_no_name(api, session, outsider):
    UploadSession.objects.update(expires_at=timezone.now())
    assert upload_sessions.reserved_name("sample-project") is None
    assert UploadSession.objects.get().status == "expired"


def test_fsck_counts_staged_files_as_referenced(api, session, settings):
    wheel = make_wheel("sample-project", "1.0")
    api.stage(session, wheel)
    assert consistency.check() == []
    old = consistency.Problem(
        consistency.ORPHAN, path_of(wheel), "", timezone.now() - timedelta(days=9)
    )
    assert consistency.repair([old], grace=timedelta(days=1)) == []
    assert files_storage().exists(path_of(wheel))


def test_moderators_see_and_cancel_sessions_in_the_admin(api, session, client, moderator, tmp_path):
    api.stage(session, make_wheel("sample-project", "1.0"))
    client.force_login(moderator)
    changelist = reverse("admin:packages_uploadsession_changelist")
    assert b"sample-project" in client.get(changelist).content
    row = UploadSession.objects.get()
    page = client.get(reverse("admin:packages_uploadsession_change", args=[row.pk]))
    assert page.status_code == 200
    assert row.preview_secret.encode() not in page.content
    data = {"action": "cancel_sessions", ACTION_CHECKBOX_NAME: [row.pk]}
    assert client.post(changelist, data).status_code == 200  # the confirmation page
    with api.on_commit(execute=True):
        client.post(changelist, {**data, "confirm": "1", "reason": "spam"})
    row.refresh_from_db()
    assert row.status == "canceled"
    assert stored_names(tmp_path / "files") == []
    UploadSession.objects.update(status="published")
    response = client.post(changelist, {**data, "confirm": "1", "reason": "again"}, follow=True)
    assert "This publishing session is published." in response.content.decode()


def test_an_overdue_session_of_the_release_gives_way_to_a_new_one(api, project):
    assert api.create("sample-project", "2.0").status_code == 201
    UploadSession.objects.update(expires_at=timezone.now())
    assert api.create("sample-project", "2.0").status_code == 201
    assert sorted(UploadSession.objects.values_list("status", flat=True)) == ["expired", "pending"]


def test_a_session_may_add_files_to_a_published_release(api, project, client, token):
    assert post_upload(client, make_wheel("sample-project", "1.0"), token).status_code == 200
    session = api.create("sample-project", "1.0").json()
    api.stage(session, make_sdist("sample-project", "1.0"))
    accept = "application/vnd.pypi.simple.v1+json"
    detail = client.get(session["links"]["stage"] + "sample-project/", HTTP_ACCEPT=accept).json()
    assert detail["versions"] == ["1.0"]
    assert len(detail["files"]) == 2
    assert api.post(session["links"]["publish"]).status_code == 202
    assert File.objects.count() == 2


def test_a_quarantined_projects_stage_offers_nothing(api, project, client):
    session = api.create("sample-project", "2.0").json()
    api.stage(session, make_wheel("sample-project", "2.0"))
    assert client.get(session["links"]["stage"]).status_code == 200
    Project.objects.update(quarantined_at=timezone.now())
    assert client.get(session["links"]["stage"] + "sample-project/").status_code == 404


def test_a_session_opened_before_its_project_is_listed_with_it(api, session, client, token):
    # Its creator's legacy upload created the project meanwhile.
    assert post_upload(client, make_wheel("sample-project", "0.1"), token).status_code == 200
    project = Project.objects.get()
    assert [row.version for row in upload_sessions.sessions_of(project)] == ["1.0"]


# --- attestations (PEP 740) ------------------------------------------------------------------


def test_a_staged_legacy_uploads_attestations_are_checked(owner, project):
    session = open_row(owner, version="2.0")
    wheel = make_wheel("sample-project", "2.0")
    form = MultiValueDict({k: [v] for k, v in wheel.form().items() if isinstance(v, str)})
    form["attestations"] = "[]"
    # An account's own token: attestations need trusted publishing, as on /legacy/.
    with pytest.raises(UploadError, match="only supported when using Trusted Publishing"):
        upload_sessions.stage_file(
            session, content=received(wheel), token=None, actor=Actor(user=owner), form=form
        )
    assert not StagedFile.objects.exists()


def test_kept_attestations_become_the_published_files_provenance(api, project, client):
    from packages.models import Provenance

    session = api.create("sample-project", "2.0").json()
    wheel, sdist = make_wheel("sample-project", "2.0"), make_sdist("sample-project", "2.0")
    api.stage(session, wheel)
    api.stage(session, sdist)
    kept = {
        "provenance": {"version": 1, "attestation_bundles": []},
        "publisher_kind": "github",
        "repository": "o/r",
        "workflow": "release.yml",
        "environment": "",
    }
    # As stage_file keeps a verified upload's (attestations.Verified as a dict).
    StagedFile.objects.filter(filename=wheel.filename).update(provenance=kept)
    assert api.post(session["links"]["publish"]).status_code == 202
    row = Provenance.objects.get()
    assert row.file.filename == wheel.filename
    assert (row.repository, row.workflow) == ("o/r", "release.yml")
