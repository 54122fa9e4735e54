"""The RSS feeds, read back as XML."""

import xml.etree.ElementTree as ET
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
from django.utils import timezone

from packages.models import Project
from tests.factories import make_release

NOW = timezone.now().replace(microsecond=0)
DC = "{http://purl.org/dc/elements/1.1/}"


def ago(minutes: int):
    return NOW - timedelta(minutes=minutes)


def new_project(name: str, *, minutes: int = 0) -> Project:
    normalized = name.lower().replace(".", "-").replace("_", "-")
    return Project.objects.create(name=name, normalized_name=normalized, created_at=ago(minutes))


def read_feed(client, url: str):
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/rss+xml; charset=utf-8"
    channel = ET.fromstring(response.content).find("channel")  # noqa: S314 (our own output)
    return channel, channel.findall("item")


def pubdate(item):
    return parsedate_to_datetime(item.findtext("pubDate"))


# --- /rss/updates.xml -----------------------------------------------------------------


@pytest.fixture
def many_releases(db):
    """45 releases of 3 projects, one a minute, the newest the highest number."""
    projects = [new_project(f"Proj_{n}", minutes=100) for n in range(3)]
    return [
        make_release(
            projects[number % 3],
            f"1.{number}",
            summary=f"Summary {number}",
            created_at=ago(45 - number),
        )
        for number in range(45)
    ]


def test_updates_lists_the_40_latest_releases_newest_first(client, many_releases):
    channel, items = read_feed(client, "/rss/updates.xml")
    assert len(items) == 40
    expected = list(reversed(many_releases))[:40]
    assert [item.findtext("title") for item in items] == [
        f"{r.project.name} {r.version}" for r in expected
    ]
    first = items[0]
    assert first.findtext("link") == "http://testserver/project/proj-2/1.44/"
    assert first.findtext("description") == "Summary 44"
    assert pubdate(first) == many_releases[44].created_at
    assert pubdate(items[-1]) == many_releases[5].created_at
    assert channel.findtext("link") == "http://testserver/"


def test_updates_release_links_keep_the_version_as_uploaded(client, project):
    make_release(project, "2.0.0rc1", created_at=NOW)
    _, items = read_feed(client, "/rss/updates.xml")
    assert items[0].findtext("link") == "http://testserver/project/sample-project/2.0.0rc1/"


def test_updates_authors(client, project):
    make_release(project, "1.0", author="Ada", author_email="ada@example.org", created_at=ago(3))
    make_release(project, "2.0", author="Grace", created_at=ago(2))
    make_release(project, "3.0", created_at=ago(1))
    _, items = read_feed(client, "/rss/updates.xml")
    no_author, name_only, both = items
    assert both.findtext("author") == "ada@example.org (Ada)"
    assert name_only.findtext(f"{DC}creator") == "Grace"
    assert name_only.find("author") is None
    assert no_author.find("author") is None
    assert no_author.find(f"{DC}creator") is None


def test_updates_is_one_query(client, many_releases, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        client.get("/rss/updates.xml")


def test_updates_summary_is_escaped_text(client, project):
    make_release(project, "1.0", summary="<b>bold</b> & more")
    response = client.get("/rss/updates.xml")
    assert b"&lt;b&gt;bold&lt;/b&gt; &amp; more" in response.content
    _, items = read_feed(client, "/rss/updates.xml")
    assert items[0].findtext("description") == "<b>bold</b> & more"


# --- /rss/packages.xml ----------------------------------------------------------------


def test_packages_lists_the_40_newest_projects_newest_first(client, db):
    projects = [new_project(f"Pkg{n}", minutes=50 - n) for n in range(42)]
    channel, items = read_feed(client, "/rss/packages.xml")
    assert [item.findtext("title") for item in items] == [p.name for p in projects[::-1][:40]]
    assert items[0].findtext("link") == "http://testserver/project/pkg41/"
    assert pubdate(items[0]) == projects[41].created_at
    assert channel.findtext("link") == "http://testserver/"


def test_packages_description_is_the_summary_of_the_first_release(client, db):
    project = new_project("Described")
    # Uploaded out of version order: "first" is by time, not by version.
    make_release(project, "2.0", summary="Later summary", created_at=ago(1))
    make_release(project, "1.0", summary="First summary", created_at=ago(5))
    new_project("Empty", minutes=-1)
    _, items = read_feed(client, "/rss/packages.xml")
    empty, described = items
    assert described.findtext("description") == "First summary"
    assert empty.findtext("title") == "Empty"
    assert empty.findtext("description") in ("", None)


def test_packages_is_one_query(client, many_releases, django_assert_max_num_queries):
    for n in range(40):
        new_project(f"More{n}", minutes=n)
    with django_assert_max_num_queries(1):
        response = client.get("/rss/packages.xml")
    assert response.content.count(b"<item>") == 40


# --- /rss/project/<name>/releases.xml ---------------------------------------------------


def test_project_feed_lists_its_40_latest_releases_by_date(client, project):
    # Created in an order that differs from version order.
    for number in range(42):
        make_release(project, f"{number}.0", summary=f"S{number}", created_at=ago(number))
    make_release(new_project("Other"), "9.9", created_at=NOW)
    channel, items = read_feed(client, "/rss/project/sample-project/releases.xml")
    assert [item.findtext("title") for item in items] == [
        f"Sample.Project {number}.0" for number in range(40)
    ]
    assert items[0].findtext("link") == "http://testserver/project/sample-project/0.0/"
    assert items[0].findtext("description") == "S0"
    assert channel.findtext("title") == "Package Index: latest releases of Sample.Project"
    assert channel.findtext("link") == "http://testserver/project/sample-project/"


def test_project_feed_queries_are_constant(client, project, django_assert_max_num_queries):
    for number in range(40):
        make_release(project, f"{number}.0", author="Ada", created_at=ago(number))
    with django_assert_max_num_queries(2):
        response = client.get("/rss/project/sample-project/releases.xml")
    assert response.content.count(b"<item>") == 40


def test_project_feed_of_a_project_without_releases_is_empty(client, project):
    _, items = read_feed(client, "/rss/project/sample-project/releases.xml")
    assert items == []


@pytest.mark.parametrize("name", ["no-such-project", "No.Such_Project", "not a name"])
def test_project_feed_of_an_unknown_project_is_404(client, project, name):
    assert client.get(f"/rss/project/{name}/releases.xml").status_code == 404


@pytest.mark.parametrize("name", ["Sample.Project", "sample_project", "SAMPLE--project"])
def test_project_feed_redirects_other_spellings_permanently(client, project, name):
    response = client.get(f"/rss/project/{name}/releases.xml")
    assert response.status_code == 301
    assert response["Location"] == "/rss/project/sample-project/releases.xml"
    assert response["Cache-Control"] == "public, max-age=300"


# --- Caching ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/rss/updates.xml", "/rss/packages.xml", "/rss/project/sample-project/releases.xml"]
)
def test_feeds_are_public_for_five_minutes(client, project, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=300"


@pytest.mark.django_db
def test_feed_titles_carry_the_configured_site_name(client, project, settings):
    settings.SITE_NAME = "Acme Packages"
    make_release(project, "1.0")
    updates, _items = read_feed(client, "/rss/updates.xml")
    assert updates.findtext("title") == "Acme Packages: latest releases"
    assert updates.findtext("description") == ("The 40 latest releases on the Acme Packages.")
    packages, _items = read_feed(client, "/rss/packages.xml")
    assert packages.findtext("title") == "Acme Packages: newest projects"
    assert packages.findtext("description") == "The 40 newest projects on the Acme Packages."
    releases, _items = read_feed(client, "/rss/project/sample-project/releases.xml")
    assert releases.findtext("title") == "Acme Packages: latest releases of Sample.Project"


# --- Text that XML 1.0 cannot carry ------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/rss/updates.xml", "/rss/packages.xml", "/rss/project/sample-project/releases.xml"]
)
def test_control_characters_in_metadata_do_not_break_the_feeds(client, project, url):
    # Any uploader could put an escape character in a summary, and every feed
    # listing the release answered 500 until 40 newer ones pushed it out.
    make_release(
        project,
        "1.0",
        summary="Colours \x1b[31mred\x1b[0m, a form\x0cfeed, a \x01 and a tab\tkept",
        author="Ada\x07 Lovelace",
        author_email="ada\x08@example.org",
        created_at=NOW,
    )
    _, (item,) = read_feed(client, url)
    assert item.findtext("description") == ("Colours [31mred[0m, a formfeed, a  and a tab\tkept")
    if url != "/rss/packages.xml":
        assert item.findtext("author") == "ada@example.org (Ada Lovelace)"
