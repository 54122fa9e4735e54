import pytest

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
