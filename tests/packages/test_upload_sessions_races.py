"""Publishing sessions under concurrency (PostgreSQL, where writers really run
at once): the unique index and the row locks decide, and every loser gets a
4xx naming what won, never a 5xx or a half-published release."""

import json
import threading

import pytest
from django.db import connection, connections
from django.test import Client

from accounts.tokens import api_token_create
from packages.models import File, JournalEntry, UploadSession
from tests.factories import make_sdist, make_wheel, post_upload
from tests.packages.test_upload_sessions_api import META, ROOT, V2, Api

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: nothing runs at once")


def at_once(*requests) -> list:
    """Run each callable on its own thread and database connection at the same
    moment; their answers, in order."""
    start = threading.Barrier(len(requests))
    answers: list = [None] * len(requests)

    def run(index, request):
        try:
            start.wait()
            answers[index] = request(Client())
        finally:
            connections.close_all()

    workers = [threading.Thread(target=run, args=item) for item in enumerate(requests)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    return answers


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_creates_of_one_release_at_once_open_one_session(owner):
    secret = api_token_create(user=owner).secret
    body = json.dumps({"meta": META, "name": "raced", "version": "1.0"})

    def create(client):
        return client.post(ROOT, body, content_type=V2, **bearer(secret))

    answers = at_once(*[create] * 6)
    assert sorted(answer.status_code for answer in answers) == [201] + [409] * 5
    (session,) = UploadSession.objects.all()
    locations = {answer["Location"] for answer in answers}
    assert locations == {f"http://testserver{ROOT}sessions/{session.uuid}/"}


def test_publishes_of_one_session_at_once_publish_it_once(
    owner, django_capture_on_commit_callbacks
):
    secret = api_token_create(user=owner).secret
    api = Api(Client(), secret, django_capture_on_commit_callbacks)
    session = api.create("raced", "1.0").json()
    api.stage(session, make_wheel("raced", "1.0"))
    api.stage(session, make_sdist("raced", "1.0"))
    publish_url = session["links"]["publish"]
    body = json.dumps({"meta": META})

    def publish(client):
        return client.post(publish_url, body, content_type=V2, **bearer(secret))

    answers = at_once(*[publish] * 4)
    assert sorted(answer.status_code for answer in answers) == [202, 409, 409, 409]
    assert File.objects.count() == 2
    assert JournalEntry.objects.count() == 1


def test_a_legacy_upload_racing_the_publish_of_its_filename_gets_one_file(
    owner, django_capture_on_commit_callbacks
):
    secret = api_token_create(user=owner).secret
    api = Api(Client(), secret, django_capture_on_commit_callbacks)
    session = api.create("raced", "1.0").json()
    wheel = make_wheel("raced", "1.0")
    api.stage(session, wheel)
    body = json.dumps({"meta": META})

    def publish(client):
        return client.post(session["links"]["publish"], body, content_type=V2, **bearer(secret))

    def legacy(client):
        return post_upload(client, wheel, secret)

    published, uploaded = at_once(publish, legacy)
    assert published.status_code == 202, published.content
    # Held by the session (409), or published by it a moment before: then the
    # identical bytes are "already uploaded" (200), as any identical re-upload.
    assert uploaded.status_code in (200, 409), uploaded.content
    assert File.objects.get().filename == wheel.filename
