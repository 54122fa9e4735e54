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
from tests.factories import basic, make_sdist, make_wheel, path_of, post_upload

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

    def __init__(self, client, secret: str):
        self.client = client
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    def post(self, url: str, data: dict | None = None, **extra):
        body = json.dumps({"meta": META, **(data or {})})
        return self.client.post(url, body, content_type=V2, **self.auth, **extra)

    def get(self, url: str):
        return self.client.get(url, **self.auth)

    def delete(self, url: str):
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
def api(client, token):
    return Api(client, token)


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
