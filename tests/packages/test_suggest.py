"""/search/suggest/?q=: JSON name suggestions for the search box."""

import pytest
from django.db import connection
from django.urls import reverse

from packages.search import MAX_QUERY_LENGTH
from tests.packages.test_search import indexed

URL = "/search/suggest/"


@pytest.fixture
def projects(db):
    for name in ("Flask-SQLAlchemy", "flask", "Flask_Login", "django"):
        indexed(name)


def test_the_url_is_named():
    assert reverse("search-suggest") == URL


def test_suggests_names_starting_with_the_query_with_their_pages(client, projects):
    response = client.get(URL, {"q": "Flask"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "query": "Flask",
        "suggestions": [
            {"name": "flask", "url": "/project/flask/"},
            {"name": "Flask_Login", "url": "/project/flask-login/"},
            {"name": "Flask-SQLAlchemy", "url": "/project/flask-sqlalchemy/"},
        ],
    }


def test_answers_may_be_cached_for_a_minute_by_anyone(client, projects):
    response = client.get(URL, {"q": "fl"})
    assert response["Cache-Control"] == "public, max-age=60"


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}])
def test_an_empty_query_suggests_nothing(client, projects, params):
    response = client.get(URL, params)
    assert response.status_code == 200
    assert response.json() == {"query": "", "suggestions": []}


def test_no_match_suggests_nothing(client, projects):
    assert client.get(URL, {"q": "zzz"}).json()["suggestions"] == []


def test_at_most_ten_suggestions(client, db):
    for number in range(12):
        indexed(f"widget-{number:02d}")
    suggestions = client.get(URL, {"q": "widget"}).json()["suggestions"]
    assert [s["name"] for s in suggestions] == [f"widget-{n:02d}" for n in range(10)]


def test_a_long_query_is_cut(client, projects):
    response = client.get(URL, {"q": "f" * 500})
    assert response.status_code == 200
    assert response.json() == {"query": "f" * MAX_QUERY_LENGTH, "suggestions": []}


def test_head_is_answered(client, projects):
    response = client.head(URL, {"q": "flask"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=60"


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_other_methods_are_refused(client, projects, method):
    response = getattr(client, method)(URL)
    assert response.status_code == 405
    assert set(response["Allow"].split(", ")) == {"GET", "HEAD"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram similarity")
def test_a_misspelt_name_is_suggested_on_postgresql(client, projects):
    suggestions = client.get(URL, {"q": "flaks"}).json()["suggestions"]
    assert suggestions[0] == {"name": "flask", "url": "/project/flask/"}
