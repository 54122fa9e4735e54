"""Project and release pages: the "insecure" mark with the advisories and the
fix version, the "deprecated" mark with its reason, and both in the release list."""

import pytest
from django.utils import timezone

from accounts.events import Actor
from packages import advisories
from packages.models import Advisory
from tests.factories import make_release

pytestmark = pytest.mark.django_db


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def releases(project):
    return {version: make_release(project, version) for version in ("1.0", "1.1", "2.0")}


def test_an_affected_release_is_marked_insecure_with_the_fix(client, project, releases):
    Advisory.objects.create(
        project=project,
        osv_id="PYSEC-2024-1",
        summary="Remote code execution",
        aliases=["CVE-2024-9"],
        link="https://example.com/pysec-1",
        ranges=[[{"introduced": "0"}, {"fixed": "2.0"}]],
        fixed_in=["2.0"],
    )
    Advisory.objects.create(
        project=project,
        osv_id="GHSA-gone",
        affected_versions=["1.0"],
        withdrawn_at=timezone.now(),
    )

    html = page(client, "/project/sample-project/1.0/")

    assert "This release has 1 known vulnerability." in html
    assert "Fixed in 2.0." in html
    assert '<a href="https://example.com/pysec-1" rel="nofollow noopener">PYSEC-2024-1</a>' in html
    assert "(CVE-2024-9): Remote code execution (fixed in 2.0)" in html
    # A withdrawn advisory marks nothing.
    assert "GHSA-gone" not in html
    # The release list marks 1.0 and 1.1, not 2.0.
    assert html.count('badge--insecure">insecure</span>') == 1 + 2


def test_the_latest_release_unaffected_shows_no_mark_but_the_list_does(client, project, releases):
    Advisory.objects.create(
        project=project, osv_id="L-1", affected_versions=["1.1", "1.0"], source="index"
    )
    Advisory.objects.create(project=project, osv_id="L-2", affected_versions=["1.1"])

    latest = page(client, "/project/sample-project/")
    old = page(client, "/project/sample-project/1.1/")

    assert "known vulnerabilit" not in latest
    assert latest.count('badge--insecure">insecure</span>') == 2
    assert "This release has 2 known vulnerabilities." in old
    assert "No fixed version is known." in old


def test_a_deprecated_release_says_why(client, project, releases):
    advisories.release_deprecate(
        release=releases["1.1"], reason="Broken <b>wheel</b>", actor=Actor()
    )

    html = page(client, "/project/sample-project/1.1/")
    latest = page(client, "/project/sample-project/")

    assert "Its Owners have deprecated this release." in html
    assert "Reason given: Broken &lt;b&gt;wheel&lt;/b&gt;" in html
    assert html.count('badge--deprecated">deprecated</span>') == 2  # the notice and the list
    assert "Its Owners have deprecated this release." not in latest
    assert latest.count('badge--deprecated">deprecated</span>') == 1


def test_a_project_without_releases_has_no_marks(client, project):
    html = page(client, "/project/sample-project/")

    assert "insecure" not in html and "deprecated</span>" not in html
