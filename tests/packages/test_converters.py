"""URL segments no row could hold (a NUL, a newline, a control character, more
characters than the column) match no route: a 404 on SQLite and PostgreSQL
alike, never a query that PostgreSQL refuses or a header that can't be sent."""

import json

import pytest
from django.urls import reverse

from packages.models import Project
from tests.conftest import verified_user
from tests.factories import add_file, make_release, make_wheel, path_of

pytestmark = pytest.mark.django_db

HEX = "c" * 60


@pytest.fixture
def published(db):
    """Projects named in the URLs below, so that only the hostile segment can
    make a request miss; a user, a release and a stored file."""
    verified_user("u")
    for name in ("smoke-pkg", "x"):
        Project.objects.create(name=name, normalized_name=name)
    project = Project.objects.create(name="p", normalized_name="p")
    dist = make_wheel("p", "1.0")
    add_file(make_release(project, "1.0"), dist)
    return dist


HOSTILE = [
    # A trailing newline once passed the name check ("$"), then broke the
    # Surrogate-Key header.
    "/simple/smoke-pkg%0A/",
    "/simple/p%0A/",
    "/project/p%0A/",
    "/project/p/1.0%0A/",
    "/rss/project/p%0A/releases.xml",
    "/user/u%0A/",
    # PostgreSQL refuses a NUL in any string parameter.
    "/project/%00/",
    "/project/p/%00/",
    "/project/%00/report/",
    "/user/%00/",
    "/pypi/%00/",
    "/pypi/p/%00/",
    "/rss/project/%00/releases.xml",
    f"/packages/aa/bb/{HEX}/%00",
    f"/packages/aa/bb/{HEX}/x%00.whl",
    "/packages/%00/p/p/p-1.0.tar.gz",
    "/packages/source/p/p/%00",
    "/manage/project/%00/",
    "/manage/project/p/release/%00/",
    # Escape and other control characters, DEL, C1 controls.
    "/project/p/1%1B/",
    "/user/u%7F/",
    "/project/p/1%C2%85/",
    # Longer than the columns: names 200, versions 100, usernames 150, filenames 255.
    "/project/" + "a" * 201 + "/",
    "/simple/" + "a" * 201 + "/",
    "/project/p/" + "1" * 101 + "/",
    "/user/" + "u" * 151 + "/",
    f"/packages/aa/bb/{HEX}/" + "x" * 265,
]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_segments_match_no_route(client, published, url):
    response = client.get(url)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/pypi/x%0A/json",
        "/pypi/x%0A/1/json",
        "/pypi/p%0A/1.0/json",
        "/pypi/%00/json",
        "/pypi/p/%00/json",
        "/pypi/p/1.0%0A/json",
        "/pypi/" + "a" * 201 + "/json",
        "/pypi/p/" + "1" * 101 + "/json",
    ],
)
def test_the_json_api_answers_its_own_404(client, published, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"message": "Not Found"}
    # Cacheable, under no project's key.
    assert response["Surrogate-Key"] == "json"
    assert response["Access-Control-Allow-Origin"] == "*"


def test_the_json_404_answers_only_reads(client, published):
    assert client.post("/pypi/%00/json").status_code == 405


@pytest.mark.parametrize(
    "url",
    [
        "/simple/p/",
        "/project/p/",
        "/project/P/1.0/",
        "/pypi/p/json",
        "/pypi/p/1.0/json",
        "/user/u/",
        "/rss/project/p/releases.xml",
        "/project/p/report/",
    ],
)
def test_the_routes_still_take_real_segments(client, published, url):
    assert client.get(url).status_code in (200, 301, 302)


def test_stored_files_are_served(client, published):
    assert client.get(f"/packages/{path_of(published)}").status_code == 200


def test_longest_values_fit_the_routes():
    # Whatever the columns hold must reverse: pages link to every row.
    name = "a" * 200
    assert reverse("project", args=[name]) == f"/project/{name}/"
    assert reverse("release", args=[name, "1" * 100]) == f"/project/{name}/{'1' * 100}/"
    assert reverse("user", args=["u" * 150]) == f"/user/{'u' * 150}/"
    assert reverse("manage-release", args=["a.b_C", "1.0.post1+local.7"])
    assert reverse("user", args=["first.last+tag@example-host"])
    assert reverse("legacy-file", args=["py3", "P", "P", "P-1.0-py3-none-any.whl"])
