import json

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection, connections
from django.test import RequestFactory

from pypi_site import views

pytestmark = pytest.mark.django_db


def test_all_dependencies_answer(client):
    response = client.get("/_health/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "storage": "ok"},
    }
    assert "no-cache" in response["Cache-Control"]


def test_a_failing_dependency_is_named_with_503(client, monkeypatch):
    def broken():
        raise ConnectionError("redis down")

    monkeypatch.setitem(views.CHECKS, "cache", broken)
    response = client.get("/_health/")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "error: ConnectionError"
    assert response.json()["checks"]["database"] == "ok"


def test_cache_that_loses_values_fails(client, monkeypatch):
    monkeypatch.setattr(views.cache, "get", lambda key: None)
    assert client.get("/_health/").json()["checks"]["cache"] == "error: RuntimeError"


def test_storage_that_returns_other_bytes_fails(client, monkeypatch):
    from django.core.files.base import ContentFile

    storage = views.files_storage()
    monkeypatch.setattr(storage, "open", lambda name, mode="rb": ContentFile(b"no"))
    assert client.get("/_health/").json()["checks"]["storage"] == "error: RuntimeError"


def test_post_is_not_allowed(client):
    assert client.post("/_health/").status_code == 405


# --- A database restart ------------------------------------------------------------


def _serve(path: str) -> tuple[str, bytes]:
    """One request through the WSGI handler gunicorn calls: its request_started
    and request_finished signals (which the test client leaves out) decide
    whether a kept connection is reused."""
    statuses = []
    answer = WSGIHandler()(RequestFactory().get(path).environ, lambda s, h: statuses.append(s))
    try:
        return statuses[0], b"".join(answer)
    finally:
        answer.close()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="terminates a PostgreSQL backend")
@pytest.mark.django_db(transaction=True)
def test_the_first_request_after_a_database_restart_succeeds():
    assert _serve("/_health/")[0] == "200 OK"
    kept_pid = connection.connection.info.backend_pid

    # What a restart does to every kept connection: the server side is gone.
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [kept_pid])
    finally:
        other.close()

    status, body = _serve("/_health/")
    assert (status, json.loads(body)["checks"]["database"]) == ("200 OK", "ok")
    assert connection.connection.info.backend_pid != kept_pid
