"""The Upload 2.0 API (PEP 694) through Django's test client: real
distributions, real rows and stored objects."""

import json
import os
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tokens import api_token_create
from packages.models import File, JournalEntry, Project, Release, StagedFile, UploadSession
from packages.storage import files_storage, metadata_path
from tests.factories import basic, core_metadata, make_sdist, make_wheel, path_of, post_upload

pytestmark = pytest.mark.django_db

ROOT = "/upload/2.0/"
V2 = "application/vnd.pypi.upload.v2+json"
META = {"api-version": "2.0"}


def stored_names(root) -> list[str]:
    found = []
    for directory, _dirs, names in os.walk(root):
        found += [os.path.join(directory, name) for name in names]
    return found


class Api:
    """A PEP 694 client, as one would be written: JSON requests of the v2
    media type, the token as a Bearer credential."""

    def __init__(self, client, secret: str, on_commit):
        self.client = client
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
        # What each request leaves for after its commit (removing bytes) runs
        # as it would in production; the test's own transaction never commits.
        self.on_commit = on_commit

    def post(self, url: str, data: dict | None = None, **extra):
        body = json.dumps({"meta": META, **(data or {})})
        with self.on_commit(execute=True):
            return self.client.post(url, body, content_type=V2, **self.auth, **extra)

    def get(self, url: str):
        with self.on_commit(execute=True):
            return self.client.get(url, **self.auth)

    def delete(self, url: str):
        with self.on_commit(execute=True):
            return self.client.delete(url, **self.auth)

    def create(self, name: str = "sample-project", version: str = "1.0"):
        return self.post(ROOT, {"name": name, "version": version})

    def announce(self, session: dict, dist, **overrides):
        data = {
            "filename": dist.filename,
            "size": len(dist.content),
            "hashes": {"sha256": dist.sha256},
            "mechanism": "http-post-bytes",
            **overrides,
        }
        return self.post(session["links"]["upload"], data)

    def send(self, file_session: dict, content: bytes):
        return self.client.post(
            file_session["mechanism"]["file_url"],
            content,
            content_type="application/octet-stream",
            **self.auth,
        )

    def stage(self, session: dict, dist) -> dict:
        """Announce ``dist``, send its bytes, complete: the file-upload session's body."""
        announced = self.announce(session, dist)
        assert announced.status_code == 202, announced.content
        sent = self.send(announced.json(), dist.content)
        assert sent.status_code == 201, sent.content
        completed = self.post(announced.json()["links"]["complete"])
        assert completed.status_code == 200, completed.content
        return completed.json()


@pytest.fixture
def api(client, token, django_capture_on_commit_callbacks):
    return Api(client, token, django_capture_on_commit_callbacks)


def assert_problem(response, status: int, detail: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert detail in body["detail"]
    assert detail in response.reason_phrase


# --- a whole session ----------------------------------------------------------------------


def test_a_session_stages_two_files_and_publishes_them_at_once(api, client, owner, tmp_path):
    created = api.create("Sample.Project", "1.0")
    assert created.status_code == 201, created.content
    assert created["Content-Type"] == V2
    session = created.json()
    assert created["Location"] == session["links"]["session"]
    assert session["status"] == "pending"
    assert session["mechanisms"] == ["http-post-bytes"]
    assert session["expires-at"].endswith("Z")
    assert session["links"]["stage"].endswith(f"/upload/2.0/stage/{session['session-token']}/")
    wheel, sdist = make_wheel("Sample.Project", "1.0"), make_sdist("Sample.Project", "1.0")
    api.stage(session, wheel)
    api.stage(session, sdist)
    status = api.get(session["links"]["session"]).json()
    assert {name: f["status"] for name, f in status["files"].items()} == {
        wheel.filename: "complete",
        sdist.filename: "complete",
    }
    # Staged, stored where the files will be, and public nowhere.
    assert not Project.objects.exists()
    assert not File.objects.exists()
    assert files_storage().exists(path_of(wheel))
    assert client.get("/simple/sample-project/").status_code == 404
    assert client.get(f"/packages/{path_of(wheel)}").status_code == 404

    published = api.post(session["links"]["publish"])
    assert published.status_code == 202, published.content
    assert published.json()["status"] == "published"
    project = Project.objects.get()
    assert project.name == "Sample.Project"
    assert sorted(File.objects.values_list("filename", flat=True)) == sorted(
        [wheel.filename, sdist.filename]
    )
    # One journal entry, one serial, for the project, its release and its files.
    (entry,) = JournalEntry.objects.all()
    assert project.last_serial == entry.id
    assert entry.action == (
        f"create; add Owner {owner.username}; new release; add py3 file {wheel.filename}; "
        f"add source file {sdist.filename}"
    )
    assert Release.objects.get().summary == "A test package"
    assert client.get("/simple/sample-project/").status_code == 200
    assert client.get(f"/packages/{path_of(wheel)}").status_code == 200
    assert files_storage().exists(metadata_path(path_of(wheel)))
    assert api.get(session["links"]["stage"]).status_code == 404


@pytest.fixture
def outsider_api(client, outsider, django_capture_on_commit_callbacks):
    return Api(client, api_token_create(user=outsider).secret, django_capture_on_commit_callbacks)


@pytest.fixture
def session(api) -> dict:
    created = api.create()
    assert created.status_code == 201, created.content
    return created.json()


# --- the request ----------------------------------------------------------------------


def test_each_endpoint_names_its_methods(api, session):
    assert_problem(api.get(ROOT), 405, "Use POST here.")
    assert api.get(ROOT)["Allow"] == "POST"
    assert_problem(api.post(session["links"]["session"]), 405, "Use GET or DELETE here.")


def test_credentials_are_required_and_checked(client, token):
    response = client.post(ROOT, "{}", content_type=V2)
    assert_problem(response, 401, "Invalid or non-existent authentication information.")
    assert "Bearer" in response["WWW-Authenticate"]
    response = client.post(ROOT, "{}", content_type=V2, HTTP_AUTHORIZATION="Bearer pypi-nope")
    assert_problem(response, 403, "See /help/#invalid-auth")
    # twine's way works as well: __token__ and the token as a password.
    body = json.dumps({"meta": META, "name": "sample-project", "version": "1.0"})
    response = client.post(ROOT, body, content_type=V2, HTTP_AUTHORIZATION=basic(token))
    assert response.status_code == 201, response.content


def test_repeated_refused_credentials_are_rate_limited(client, settings):
    for _attempt in range(100):
        response = client.post(ROOT, "{}", content_type=V2, HTTP_AUTHORIZATION="Bearer pypi-x")
        if response.status_code == 429:
            break
    assert_problem(response, 429, "Too many failed upload authentications")
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("body", "content_type", "status", "detail"),
    [
        ("{}", "application/json", 415, f"Send the request as {V2}."),
        ("[1]", V2, 400, "The request body must be a JSON object."),
        ("{nope", V2, 400, "The request body is not valid JSON."),
        (b"\xff\xfe", V2, 400, "The request body is not valid JSON."),
        ('{"name": "x"}', V2, 400, '"api-version": "2.0"'),
        ('{"meta": {"api-version": "3.0"}}', V2, 400, '"api-version": "2.0"'),
        ('{"meta": [], "name": "x"}', V2, 400, '"api-version": "2.0"'),
        ("x" * 70_000, V2, 413, "at most 65536 bytes"),
        ("[" * 60_000, V2, 400, "The request body is not valid JSON."),
    ],
)
def test_a_malformed_request_is_a_problem_not_a_crash(
    client, token, body, content_type, status, detail
):
    response = client.post(
        ROOT, body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert_problem(response, status, detail)


def test_an_unreadable_content_length_is_refused(client, token):
    response = client.generic(
        "POST", ROOT, b"{}", content_type=V2, HTTP_AUTHORIZATION=f"Bearer {token}",
        CONTENT_LENGTH="lots",
    )  # fmt: skip
    assert_problem(response, 413, "at most 65536 bytes")


@pytest.mark.parametrize(
    ("name", "version", "detail"),
    [
        ("-bad-", "1.0", "is not a valid project name"),
        (None, "1.0", "is not a valid project name"),
        ("good", "one", "is not a valid PEP 440 version"),
        ("good", 1.0, "is not a valid version"),
        ("good", "1.0+local", "is a local version"),
        ("go\x00od", "1.0", "is not a valid project name"),
        ("good", "1.0\x00", "is not a valid PEP 440 version"),
        ("g" * 300, "1.0", "is not a valid project name"),
    ],
)
def test_a_session_needs_a_valid_name_and_version(api, name, version, detail):
    assert_problem(api.post(ROOT, {"name": name, "version": version}), 400, detail)


# --- opening --------------------------------------------------------------------------


def test_a_second_create_for_the_release_answers_with_the_open_session(api, session):
    again = api.create("Sample_Project", "1.0.0")
    assert_problem(again, 409, "is already open")
    assert again["Location"] == session["links"]["session"]
    assert UploadSession.objects.count() == 1


def test_a_second_create_with_other_credentials_is_forbidden(api, session, outsider_api):
    assert_problem(outsider_api.create(), 403, "already open with other credentials")


def test_a_new_projects_name_is_reserved_to_its_sessions_creator(
    api, session, outsider_api, client, outsider
):
    assert_problem(outsider_api.create("sample-project", "2.0"), 409, "is reserved by another")
    # The legacy API too, with a message twine prints.
    secret = api_token_create(user=outsider).secret
    response = post_upload(client, make_wheel("sample-project", "3.0"), secret)
    assert response.status_code == 409
    assert "is reserved by another account's open publishing session" in response.reason_phrase
    # Its creator may open another release's session for the name.
    assert api.create("sample-project", "2.0").status_code == 201


def test_a_staged_filename_is_refused_to_legacy_uploads(api, session, client, token):
    wheel = make_wheel("sample-project", "1.0")
    api.stage(session, wheel)
    response = post_upload(client, wheel, token)
    assert response.status_code == 409
    assert "is staged in an open publishing session" in response.reason_phrase
    assert not File.objects.exists()


def test_an_outsider_cannot_open_a_session_of_a_project(project, outsider_api):
    assert_problem(outsider_api.create("sample-project", "2.0"), 403, "isn't allowed to upload")


def test_a_session_of_an_existing_project_is_in_its_history(api, project, owner):
    created = api.create("sample-project", "2.0")
    assert created.status_code == 201
    assert created.json()["links"]["session"]
    assert project.events.filter(tag="project:upload-session:opened").exists()


def test_the_session_is_only_its_creators(api, session, outsider_api):
    assert_problem(outsider_api.get(session["links"]["session"]), 403, "other credentials")
    assert_problem(api.get(ROOT + "sessions/00000000-0000-0000-0000-000000000000/"), 404, "No such")


def test_extending_moves_the_expiry_at_most_a_week_and_never_earlier(api, session):
    row = UploadSession.objects.get()
    before = row.expires_at
    assert api.post(session["links"]["extend"], {"extend-for": 60}).status_code == 200
    row.refresh_from_db()
    assert row.expires_at == before
    extended = api.post(session["links"]["extend"], {"extend-for": 30 * 24 * 3600})
    assert extended.status_code == 200, extended.content
    row.refresh_from_db()
    assert timedelta(days=6) < row.expires_at - timezone.now() <= timedelta(days=7)
    assert extended.json()["expires-at"] == row.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    huge = api.post(session["links"]["extend"], {"extend-for": 10**30})
    assert huge.status_code == 200, huge.content
    for wrong in ("60", 0, True, None):
        assert_problem(
            api.post(session["links"]["extend"], {"extend-for": wrong}), 400, "extend-for"
        )


# --- files ----------------------------------------------------------------------------


def test_announcing_a_file_reserves_it_and_tells_where_to_send_it(api, session):
    wheel = make_wheel("sample-project", "1.0")
    announced = api.announce(session, wheel)
    assert announced.status_code == 202, announced.content
    assert announced["Retry-After"] == "1"
    body = announced.json()
    assert announced["Location"] == body["links"]["file-upload-session"]
    assert body["status"] == "pending"
    assert body["mechanism"]["identifier"] == "http-post-bytes"
    assert body["links"]["publishing-session"] == session["links"]["session"]
    status = api.get(session["links"]["session"]).json()
    assert status["files"][wheel.filename]["status"] == "pending"
    assert api.get(body["links"]["file-upload-session"]).json()["status"] == "pending"
    # Not yet sent: neither complete nor publishable.
    assert_problem(api.post(body["links"]["complete"]), 409, "have not been received")
    assert_problem(api.post(session["links"]["publish"]), 409, "have not been uploaded")


@pytest.mark.parametrize(
    ("overrides", "status", "detail"),
    [
        ({"mechanism": "vnd-s3"}, 422, "Unsupported mechanism 'vnd-s3'"),
        ({"filename": None}, 400, "Give the file's 'filename'."),
        ({"filename": "sample_project-1.0.exe"}, 400, "Invalid file extension"),
        ({"filename": "other-1.0.tar.gz"}, 400, "Start filename for 'sample-project'"),
        ({"filename": "sample_project-2.0.tar.gz"}, 400, "Version in filename"),
        ({"size": -1}, 400, "Give the file's 'size'"),
        ({"size": True}, 400, "Give the file's 'size'"),
        ({"size": 10**12}, 400, "File too large."),
        ({"hashes": {"md5": "x"}}, 400, "at least 'sha256'"),
        ({"hashes": None}, 400, "at least 'sha256'"),
        ({"hashes": {"sha256": "ab"}}, 400, "The 'sha256' hash must be 64 hexadecimal"),
        ({"hashes": {"sha256": "\x00" * 64}}, 400, "The 'sha256' hash must be 64 hexadecimal"),
        ({"hashes": {"sha256": "a" * 64, "md5": 5}}, 400, "The 'md5' hash must be 32"),
        ({"filename": "sample_project-1.0.tar.gz\x00"}, 400, "only printable ASCII"),
        ({"filename": "../sample_project-1.0.tar.gz"}, 400, "must not contain a path separator"),
        ({"filename": "s" * 300 + "-1.0.tar.gz"}, 400, "Filename"),
    ],
)
def test_an_announced_file_is_checked_before_its_bytes(api, session, overrides, status, detail):
    response = api.announce(session, make_sdist("sample-project", "1.0"), **overrides)
    assert_problem(response, status, detail)
    assert not StagedFile.objects.exists()


def test_a_filename_is_taken_once(api, session, client, token):
    wheel = make_wheel("sample-project", "1.0")
    assert api.announce(session, wheel).status_code == 202
    assert_problem(api.announce(session, wheel), 409, "is already staged")
    post = post_upload(client, make_wheel("sample-project", "0.9"), token)
    assert post.status_code == 200, post.content
    other = api.create("sample-project", "0.9").json()
    assert_problem(
        api.announce(other, make_wheel("sample-project", "0.9")), 409, "is already published"
    )


def test_one_sdist_per_release(api, session):
    api.stage(session, make_sdist("sample-project", "1.0"))
    zipped = make_sdist("sample-project", "1.0", filename="sample_project-1.0.zip")
    assert_problem(api.announce(session, zipped), 409, "Only one sdist")


@pytest.mark.parametrize(
    ("sent", "content_type", "status", "detail"),
    [
        (b"x", "application/octet-stream", 400, "with Content-Length:"),
        (None, "text/plain", 415, "application/octet-stream"),
    ],
)
def test_the_bytes_must_be_the_declared_ones(api, session, sent, content_type, status, detail):
    wheel = make_wheel("sample-project", "1.0")
    announced = api.announce(session, wheel).json()
    response = api.client.post(
        announced["mechanism"]["file_url"],
        wheel.content if sent is None else sent,
        content_type=content_type,
        **api.auth,
    )
    assert_problem(response, status, detail)


def test_bytes_of_other_content_are_refused_and_leave_nothing(api, session, tmp_path):
    wheel = make_wheel("sample-project", "1.0")
    other = make_wheel("sample-project", "1.0", files={"x.py": b"other = True\n"})
    announced = api.announce(session, wheel).json()
    padded = other.content[: len(wheel.content)].ljust(len(wheel.content), b"\0")
    assert_problem(api.send(announced, padded), 400, "The sha256 of the bytes received")
    assert stored_names(tmp_path / "files") == []
    # Still waiting for the right bytes: they are taken after the refusal.
    assert api.send(announced, wheel.content).status_code == 201
    assert_problem(api.send(announced, wheel.content), 409, "were received already")


def test_the_declared_blake2_and_md5_are_checked_too(api, session):
    wheel = make_wheel("sample-project", "1.0")
    announced = api.announce(
        session, wheel, hashes={"sha256": wheel.sha256, "blake2b_256": "00" * 32}
    ).json()
    assert_problem(api.send(announced, wheel.content), 400, "The blake2b_256 of the bytes")


@pytest.mark.parametrize(
    ("name", "version", "detail"),
    [
        ("sample-project", "1.1", "The file is of version 1.1; this session publishes 1.0."),
        ("other", "1.0", "The file is of project 'other'; this session publishes"),
    ],
)
def test_a_file_of_another_release_is_refused_on_arrival(api, session, name, version, detail):
    # The filename says sample-project 1.0; the METADATA inside says otherwise.
    wheel = make_wheel("sample-project", "1.0", metadata=core_metadata(name, version))
    announced = api.announce(session, wheel).json()
    assert_problem(api.send(announced, wheel.content), 400, detail)


def test_a_staged_file_is_deleted_to_replace_it(api, session, tmp_path):
    wheel = make_wheel("sample-project", "1.0")
    staged = api.stage(session, wheel)
    assert stored_names(tmp_path / "files")
    deleted = api.delete(staged["links"]["file-upload-session"])
    assert deleted.status_code == 204
    assert stored_names(tmp_path / "files") == []
    assert api.get(session["links"]["session"]).json()["files"] == {}
    assert_problem(api.get(staged["links"]["file-upload-session"]), 404, "No such file")
    replacement = make_wheel("sample-project", "1.0", files={"new.py": b"NEW = 1\n"})
    api.stage(session, replacement)
    assert StagedFile.objects.get().sha256_digest == replacement.sha256


# --- publishing ---------------------------------------------------------------------------


def test_an_empty_session_has_nothing_to_publish(api, session):
    assert_problem(api.post(session["links"]["publish"]), 409, "has no files to publish")


def test_a_session_adds_a_release_to_an_existing_project(api, project, client, owner):
    session = api.create("sample-project", "2.0").json()
    wheel = make_wheel("sample-project", "2.0")
    api.stage(session, wheel)
    before = JournalEntry.objects.count()
    assert api.post(session["links"]["publish"]).status_code == 202
    assert JournalEntry.objects.count() == before + 1
    entry = JournalEntry.objects.latest("id")
    assert entry.action == f"new release; add py3 file {wheel.filename}"
    assert entry.version == "2.0"
    project.refresh_from_db()
    assert project.last_serial == entry.id
    assert project.events.filter(tag="project:upload-session:published").exists()
    uploaded = project.events.get(tag="project:file:uploaded")
    assert uploaded.details["filename"] == wheel.filename
    assert File.objects.get().uploader == owner
    # Published: the session is closed to changes.
    assert_problem(api.post(session["links"]["publish"]), 409, "is published")
    assert_problem(api.delete(session["links"]["session"]), 409, "is published")
    status = api.get(session["links"]["session"]).json()
    assert status["files"][wheel.filename]["status"] == "published"
    assert "stage" not in status["links"]


def test_a_file_published_meanwhile_makes_the_publish_fail_whole(api, session, client, token):
    wheel, sdist = make_wheel("sample-project", "1.0"), make_sdist("sample-project", "1.0")
    api.stage(session, wheel)
    api.stage(session, sdist)
    # The wheel's name published by a legacy upload that got past the
    # reservation (the race the publish must catch under its lock).
    StagedFile.objects.filter(filename=wheel.filename).update(reserved=False)
    assert post_upload(client, wheel, token).status_code == 200
    StagedFile.objects.filter(filename=wheel.filename).update(reserved=True)
    response = api.post(session["links"]["publish"])
    assert_problem(response, 409, "was published meanwhile")
    assert list(File.objects.values_list("filename", flat=True)) == [wheel.filename]
    assert UploadSession.objects.get().status == "pending"


def test_a_staged_file_missing_from_storage_stops_the_publish(api, session):
    wheel = make_wheel("sample-project", "1.0")
    api.stage(session, wheel)
    files_storage().delete(path_of(wheel))
    assert_problem(api.post(session["links"]["publish"]), 409, "is missing from the file store")
    assert not File.objects.exists()


# --- ending -------------------------------------------------------------------------------


def test_canceling_leaves_nothing_and_twice_is_once(api, session, tmp_path, project):
    created = api.create("sample-project", "3.0").json()
    api.stage(created, make_wheel("sample-project", "3.0"))
    canceled = api.delete(created["links"]["session"])
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    assert canceled.json()["files"] == {}
    assert not StagedFile.objects.exists()
    assert stored_names(tmp_path / "files") == []
    assert api.delete(created["links"]["session"]).json()["status"] == "canceled"
    assert project.events.filter(tag="project:upload-session:canceled").count() == 1
    assert_problem(api.post(created["links"]["publish"]), 409, "is canceled")


def test_an_expired_session_is_gone_when_next_read(api, session, tmp_path):
    wheel = make_wheel("sample-project", "1.0")
    api.stage(session, wheel)
    UploadSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    status = api.get(session["links"]["session"]).json()
    assert status["status"] == "canceled"
    assert "expired" in status["notices"][0]
    assert status["files"] == {}
    assert stored_names(tmp_path / "files") == []
    assert UploadSession.objects.get().status == "expired"
    # The release is free for a new session.
    assert api.create().status_code == 201


def test_an_expired_session_frees_its_filenames_and_name(api, session, outsider_api, client):
    wheel = make_wheel("sample-project", "1.0")
    api.stage(session, wheel)
    UploadSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert outsider_api.create("sample-project", "2.0").status_code == 201


def test_an_expired_session_refuses_a_publish(api, session):
    api.stage(session, make_wheel("sample-project", "1.0"))
    row = UploadSession.objects.get()
    UploadSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    from packages import upload_sessions

    with pytest.raises(upload_sessions.UploadError, match="has expired"):
        upload_sessions.extend_session(row, seconds=60, actor=None)
    assert StagedFile.objects.exists()  # ended when next read
    assert api.get(session["links"]["session"]).json()["status"] == "canceled"
    assert not StagedFile.objects.exists()


def test_a_project_requiring_sessions_is_published_on_the_web_only(api, project):
    project.require_upload_sessions = True
    project.save()
    session = api.create("sample-project", "2.0").json()
    api.stage(session, make_wheel("sample-project", "2.0"))
    response = api.post(session["links"]["publish"])
    assert_problem(response, 403, "requires its staged releases to be published on the web")
    assert "/manage/project/sample-project/sessions/" in response.json()["detail"]
    assert not File.objects.exists()
    assert UploadSession.objects.get().status == "pending"


def test_a_filename_once_published_and_deleted_is_refused_when_announced(api, session):
    from packages.models import FileRegistry

    wheel = make_wheel("sample-project", "1.0")
    FileRegistry.objects.create(filename=wheel.filename)  # what a deleted file leaves
    assert_problem(api.announce(session, wheel), 409, "a filename is never used twice")
