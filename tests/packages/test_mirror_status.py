"""PEP 792 status of the upstream's projects, carried into the mirrored pages
here (packages.upstream reads it, packages.mirror stores it on
UpstreamProject, packages.simple renders it as for a local project), and an
upstream quarantine: no file offered, not even a copy already held. The
upstream is a real static index on loopback (tests.upstream_server), speaking
PEP 691 JSON or, for an HTML-only upstream, PEP 503 HTML."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from packages import mirror, upstream
from packages.cache import local_pages
from packages.models import UpstreamFile, UpstreamProject
from tests.upstream_server import StaticIndex, dist

pytestmark = pytest.mark.django_db

JSON = "application/vnd.pypi.simple.v1+json"
HTML = "application/vnd.pypi.simple.v1+html"
LONG_AGO = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
REASON = "Superseded by demo-ng; see its page"


def demo_dists() -> list:
    return [dist("demo-1.0-py3-none-any.whl", b"wheel one", upload_time=LONG_AGO)]


@pytest.fixture(params=[True, False], ids=["json-upstream", "html-upstream"])
def index(request, settings):
    """The upstream, speaking PEP 691 JSON, or only HTML (as pypiserver does)."""
    with StaticIndex(json_pages=request.param) as index:
        settings.UPSTREAM_INDEX_URL = index.simple_url
        settings.UPSTREAM_TIMEOUT = 1
        settings.UPSTREAM_MIN_AGE = 0
        settings.PRIVATE_NAME_PATTERNS = []
        yield index


def json_page(client, name="demo"):
    response = client.get(f"/simple/{name}/", headers={"Accept": JSON})
    assert response.status_code == 200, response.content
    return response.json()


def html_page(client, name="demo") -> str:
    response = client.get(f"/simple/{name}/", headers={"Accept": HTML})
    assert response.status_code == 200, response.content
    return response.content.decode()


def meta_tags(html: str) -> dict[str, str]:
    return dict(re.findall(r'<meta name="(pypi:project-status[^"]*)" content="([^"]*)">', html))


def expire(name="demo") -> None:
    """The copy is older than UPSTREAM_FRESHNESS and no page of it is kept:
    the next request asks the upstream again."""
    UpstreamProject.objects.filter(normalized_name=name).update(
        checked_at=timezone.now() - timedelta(days=30)
    )
    cache.clear()
    local_pages.clear()


@pytest.mark.parametrize("status", ["archived", "deprecated"])
def test_the_upstream_status_and_reason_are_carried_into_both_formats(client, index, status):
    index.publish("demo", demo_dists(), status=status, status_reason=REASON)
    data = json_page(client)
    assert data["project-status"] == {"status": status, "reason": REASON}
    # Its files are offered still: archived and deprecated projects stay installable.
    assert [f["filename"] for f in data["files"]] == ["demo-1.0-py3-none-any.whl"]
    assert meta_tags(html_page(client)) == {
        "pypi:project-status": status,
        "pypi:project-status-reason": REASON,
    }
    row = UpstreamProject.objects.get()
    assert (row.status, row.status_reason) == (status, REASON)


def test_a_status_without_a_reason_carries_no_reason(client, index):
    index.publish("demo", demo_dists(), status="archived")
    assert json_page(client)["project-status"] == {"status": "archived"}
    assert meta_tags(html_page(client)) == {"pypi:project-status": "archived"}


@pytest.mark.parametrize("status", ["", "active", "retired"])
def test_an_active_or_unknown_status_renders_as_a_local_active_project(client, index, status):
    # PEP 792: an index answers one of the four statuses; anything else the
    # upstream says is read as active, which a page says by saying nothing.
    index.publish("demo", demo_dists(), status=status, status_reason="ignored")
    data = json_page(client)
    assert "project-status" not in data
    assert meta_tags(html_page(client)) == {}
    assert (UpstreamProject.objects.get().status, UpstreamProject.objects.get().status_reason) == (
        "active",
        "",
    )


def test_a_long_reason_on_several_lines_is_kept_on_one_line_and_bounded(client, index):
    index.publish("demo", demo_dists(), status="deprecated", status_reason="why\n  " + "x" * 900)
    reason = json_page(client)["project-status"]["reason"]
    assert reason.startswith("why x")
    assert len(reason) == 500


def test_a_status_change_upstream_is_seen_once_the_copy_is_revalidated(
    client, index, django_capture_on_commit_callbacks
):
    index.publish("demo", demo_dists())
    assert "project-status" not in json_page(client)
    generation = mirror.generation()
    index.publish("demo", demo_dists(), status="deprecated", status_reason=REASON)
    expire()
    with django_capture_on_commit_callbacks(execute=True):
        data = json_page(client)
    assert data["project-status"] == {"status": "deprecated", "reason": REASON}
    # A change of what is offered: pages dropped here and at the edges (forget).
    assert mirror.generation() != generation
    assert meta_tags(html_page(client))["pypi:project-status"] == "deprecated"
    # And back to active: the key goes again.
    index.publish("demo", demo_dists())
    expire()
    assert "project-status" not in json_page(client)


def test_a_revalidation_without_a_status_change_drops_no_page(
    client, index, django_capture_on_commit_callbacks
):
    index.publish("demo", demo_dists(), status="archived")
    json_page(client)
    generation = mirror.generation()
    UpstreamProject.objects.update(etag="")  # a 200 with the same page, not a 304
    expire()
    with django_capture_on_commit_callbacks(execute=True):
        assert json_page(client)["project-status"] == {"status": "archived"}
    assert index.requested("/simple/demo/") == 2
    assert mirror.generation() == generation


def test_a_quarantined_upstream_project_answers_its_status_and_no_file(client, index):
    index.publish("demo", [], status="quarantined", status_reason="Malware reported")
    data = json_page(client)
    assert data["project-status"] == {"status": "quarantined", "reason": "Malware reported"}
    assert data["files"] == [] and data["versions"] == []
    html = html_page(client)
    assert meta_tags(html) == {
        "pypi:project-status": "quarantined",
        "pypi:project-status-reason": "Malware reported",
    }
    assert "<a " not in html
    # Nor is it listed in /simple/.
    assert "demo" not in client.get("/simple/", headers={"Accept": JSON}).json()["projects"]


def test_an_upstream_quarantine_withdraws_the_copies_already_held(client, index):
    index.publish("demo", demo_dists())
    (wheel,) = json_page(client)["files"]
    fetched = client.get(wheel["url"])
    assert fetched.status_code == 200
    assert b"".join(fetched.streaming_content) == b"wheel one"
    assert UpstreamFile.objects.get().path
    assert [
        p["name"] for p in client.get("/simple/", headers={"Accept": JSON}).json()["projects"]
    ] == ["demo"]

    # The upstream quarantines the project: its page lists no file any more.
    index.publish("demo", [], status="quarantined")
    expire()
    data = json_page(client)
    assert data["project-status"] == {"status": "quarantined"}
    assert data["files"] == []
    # The copy stays stored (for fsck and for the quarantine's end), but is not served.
    assert UpstreamFile.objects.get().path
    assert client.get(wheel["url"]).status_code == 404
    assert client.get("/simple/", headers={"Accept": JSON}).json()["projects"] == []
    assert client.get("/pypi/demo/json").status_code == 404

    # The quarantine lifted: the same copy is offered and served again.
    index.publish("demo", demo_dists())
    expire()
    assert [f["filename"] for f in json_page(client)["files"]] == ["demo-1.0-py3-none-any.whl"]
    assert client.get(wheel["url"]).status_code == 200


def test_a_quarantine_upstream_that_still_lists_files_offers_none(client, index):
    index.publish("demo", demo_dists(), status="quarantined")
    data = json_page(client)
    assert data["files"] == []
    (row,) = UpstreamFile.objects.all()
    assert client.get(f"/packages/mirror/{row.sha256_digest}/{row.filename}").status_code == 404
    assert index.requested("/files/demo-1.0-py3-none-any.whl") == 0


def test_a_quarantine_here_wins_over_the_upstream_status(
    client, index, django_capture_on_commit_callbacks
):
    # A moderator's quarantine of the mirrored name answers the name as absent,
    # as before: this index's decision, not the upstream's page.
    index.publish("demo", [], status="quarantined")
    json_page(client)
    with django_capture_on_commit_callbacks(execute=True):
        UpstreamProject.objects.update(quarantined_at=timezone.now())
        mirror.forget("demo")
    assert client.get("/simple/demo/", headers={"Accept": JSON}).status_code == 404


def test_a_project_gone_upstream_forgets_its_status(index):
    index.publish("demo", demo_dists(), status="deprecated", status_reason=REASON)
    mirror.refresh("demo")
    index.unpublish("demo")
    expire()
    row = mirror.refresh("demo")
    assert (row.exists, row.status, row.status_reason) == (False, "active", "")


def test_the_client_reads_the_status_of_a_page(index):
    index.publish("demo", demo_dists(), status="archived", status_reason=REASON)
    page = upstream.Upstream(index.simple_url).project_page("demo")
    assert (page.status, page.status_reason) == ("archived", REASON)


def test_a_malformed_project_status_reads_as_active():
    # A project-status that is no object, or a status or reason that is no string.
    assert upstream.json_page_status({"project-status": {"status": "archived", "reason": 4}}) == (
        "archived",
        "",
    )
    assert upstream.json_page_status({"project-status": ["deprecated"]}) == ("active", "")
    assert upstream.json_page_status({"project-status": {"status": 3}}) == ("active", "")
    assert upstream.json_page_status({}) == ("active", "")
