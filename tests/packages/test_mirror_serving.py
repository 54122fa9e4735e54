"""/simple/<name>/ and /simple/ of a company index mirroring an upstream: a real
static index on loopback (tests.upstream_server) is the upstream."""

import hashlib
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from packages import mirror, upstream
from packages.cache import local_pages
from packages.models import Project, UpstreamBlock, UpstreamFile, UpstreamProject
from pypi_site.fastpath import cached_simple_answer
from tests.factories import add_file, make_release, make_wheel
from tests.upstream_server import StaticIndex, dist

pytestmark = pytest.mark.django_db

JSON = "application/vnd.pypi.simple.v1+json"
LONG_AGO = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
METADATA = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"


def demo_dists(**overrides) -> list:
    return [
        dist(
            "demo-1.0-py3-none-any.whl",
            b"wheel one",
            requires_python=">=3.8",
            metadata=METADATA,
            upload_time=LONG_AGO,
        ),
        dist("demo-1.0.tar.gz", b"sdist one", upload_time=LONG_AGO),
        dist(
            "demo-2.0-py3-none-any.whl",
            b"wheel two",
            **{"yanked": "broken build", "upload_time": LONG_AGO, **overrides},
        ),
    ]


@pytest.fixture
def index(settings):
    with StaticIndex() as upstream:
        settings.UPSTREAM_INDEX_URL = upstream.simple_url
        settings.UPSTREAM_TIMEOUT = 1
        upstream.publish("demo", demo_dists())
        yield upstream


def page(client, name="demo", fmt=JSON, **headers):
    accept = {"Accept": fmt} if fmt else {}
    return client.get(f"/simple/{name}/", headers={**accept, **headers})


def test_a_name_without_a_local_project_answers_the_upstream_files(client, index):
    response = page(client)
    assert response.status_code == 200
    assert response["X-Mirror-Status"] == "fresh"
    assert response["X-Mirror-Checked"].endswith(" GMT")
    data = response.json()
    assert data["name"] == "demo"
    assert data["versions"] == ["1.0", "2.0"]
    assert data["meta"]["_last-serial"] == 0
    wheel, sdist, yanked = data["files"]
    assert wheel["filename"] == "demo-1.0-py3-none-any.whl"
    assert wheel["url"] == f"/packages/mirror/{wheel['hashes']['sha256']}/{wheel['filename']}"
    assert wheel["requires-python"] == ">=3.8"
    assert wheel["size"] == len(b"wheel one")
    assert wheel["upload-time"] == "2024-05-01T12:00:00.000000Z"
    assert wheel["core-metadata"] == {"sha256": index_metadata_sha()}
    assert sdist["core-metadata"] is False
    assert yanked["yanked"] == "broken build"
    assert sdist["yanked"] is False


def index_metadata_sha() -> str:
    return hashlib.sha256(METADATA).hexdigest()


def test_the_html_page_carries_the_yank_and_metadata_over(client, index):
    body = page(client, fmt=None).content.decode()
    assert 'data-yanked="broken build">demo-2.0-py3-none-any.whl' in body
    assert 'data-requires-python="&gt;=3.8"' in body
    assert f'data-core-metadata="sha256={index_metadata_sha()}"' in body
    assert 'href="/packages/mirror/' in body


def test_an_html_only_upstream_gives_pages_without_sizes_or_times(client, settings):
    with StaticIndex(json_pages=False) as upstream:
        settings.UPSTREAM_INDEX_URL = upstream.simple_url
        upstream.publish("demo", demo_dists())
        files = page(client).json()["files"]
    assert [entry["size"] for entry in files] == [None, None, None]
    assert all("upload-time" not in entry for entry in files)
    assert files[2]["yanked"] == "broken build"


def test_the_page_is_served_from_the_cache_until_it_is_stale(client, index):
    page(client)
    page(client, fmt=None)
    assert index.requested("/simple/demo/") == 1


def test_a_local_project_is_never_merged_with_the_upstream(client, index, project):
    # The upstream has a far higher version of the local name: not one file of it.
    index.publish("sample-project", [dist("sample_project-99.0.tar.gz", b"evil")])
    add_file(make_release(project, "1.0"), make_wheel("sample-project", "1.0"))
    data = page(client, "sample-project").json()
    assert [entry["filename"] for entry in data["files"]] == ["sample_project-1.0-py3-none-any.whl"]
    assert data["versions"] == ["1.0"]
    assert index.requested("/simple/sample-project/") == 0
    assert "X-Mirror-Status" not in page(client, "sample-project")


def test_a_quarantined_local_project_does_not_fall_back_to_the_upstream(client, index, project):
    index.publish("sample-project", [dist("sample_project-99.0.tar.gz", b"evil")])
    Project.objects.filter(pk=project.pk).update(quarantined_at=timezone.now())
    # PEP 792: the local page answers, quarantined and without a file.
    response = page(client, "sample-project")
    assert response.status_code == 200
    assert response.json()["files"] == []
    assert response.json()["project-status"]["status"] == "quarantined"
    assert index.requested("/simple/sample-project/") == 0


def test_a_private_name_is_never_fetched(client, index, settings):
    settings.PRIVATE_NAME_PATTERNS = ["acme-*"]
    index.publish("acme-tools", [dist("acme_tools-99.0.tar.gz", b"squatted")])
    response = page(client, "acme-tools")
    assert response.status_code == 404
    assert "X-Mirror-Status" not in response
    assert index.requests == []


def test_refresh_never_asks_for_a_private_name(index, settings):
    settings.PRIVATE_NAME_PATTERNS = ["acme-*"]
    assert mirror.refresh("acme-tools") is None
    assert index.requests == []


def test_a_blocked_project_is_absent(client, index):
    UpstreamBlock.objects.create(normalized_name="demo", reason="typosquat")
    assert page(client).status_code == 404


def test_a_blocked_version_is_absent(client, index):
    UpstreamBlock.objects.create(normalized_name="demo", version="2.0", reason="broken")
    data = page(client).json()
    assert data["versions"] == ["1.0"]
    assert "demo-2.0-py3-none-any.whl" not in [entry["filename"] for entry in data["files"]]


def test_a_too_young_release_is_absent_then_offered(client, index, settings):
    settings.UPSTREAM_MIN_AGE = 2
    index.publish("demo", demo_dists(upload_time=timezone.now()))
    assert page(client).json()["versions"] == ["1.0"]
    # The page is kept only until the young release comes of age.
    time.sleep(2.5)
    assert page(client).json()["versions"] == ["1.0", "2.0"]
    assert index.requested("/simple/demo/") == 1


def test_a_name_the_upstream_does_not_have_is_404(
    client, index, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = page(client, "nothing-here")
    assert response.status_code == 404
    assert UpstreamProject.objects.get(normalized_name="nothing-here").exists is False
    # Nothing was offered under it: no page to drop, no purge per probed name.
    assert mirror.generation() is None


def test_probed_names_are_kept_no_longer_than_their_answer_is_believed(client, index, settings):
    # Would catch: every name anyone probes staying a row forever.
    settings.UPSTREAM_FRESHNESS = 60
    assert page(client, "probe-one").status_code == 404
    UpstreamProject.objects.filter(normalized_name="probe-one").update(
        checked_at=timezone.now() - timedelta(seconds=61)
    )
    kept = UpstreamProject.objects.create(
        normalized_name="claimed",
        exists=False,
        checked_at=timezone.now() - timedelta(days=1),
        claim_allowed_at=timezone.now(),
    )
    assert page(client, "probe-two").status_code == 404
    assert sorted(UpstreamProject.objects.values_list("normalized_name", flat=True)) == [
        "claimed",
        "probe-two",
    ]
    assert kept.pk


def test_without_an_upstream_an_unknown_name_is_a_plain_404(client, settings):
    settings.UPSTREAM_INDEX_URL = ""
    response = page(client, "demo")
    assert response.status_code == 404
    assert not UpstreamProject.objects.exists()


def make_stale(name="demo"):
    """The upstream's answer two hours old, and no page of it kept."""
    UpstreamProject.objects.filter(normalized_name=name).update(
        checked_at=timezone.now() - timedelta(hours=2)
    )
    cache.clear()
    local_pages.clear()


def stop(index: StaticIndex) -> None:
    index.stop()
    # Its handler threads still answer on the connections kept alive in the
    # client's pool: a new client, as a server really gone would leave.
    upstream._configured.cache_clear()


def test_the_upstream_stopped_the_stale_copy_is_served_saying_so(client, index):
    checked = page(client)["X-Mirror-Checked"]
    stop(index)
    make_stale()
    response = page(client)
    assert response.status_code == 200
    assert response["X-Mirror-Status"] == "stale"
    assert response["X-Mirror-Checked"] != checked
    assert len(response.json()["files"]) == 3


def test_a_slow_upstream_does_not_hold_a_stale_page_past_the_timeout(client, index):
    page(client)
    make_stale()
    index.delay = 3
    started = time.monotonic()
    response = page(client)
    assert time.monotonic() - started < 2.5
    assert response["X-Mirror-Status"] == "stale"


def test_a_name_never_fetched_with_the_upstream_down_is_a_quick_404_saying_why(client, index):
    stop(index)
    started = time.monotonic()
    response = page(client)
    assert time.monotonic() - started < 1
    assert response.status_code == 404
    assert b"upstream index could not be reached" in response.content
    assert response["Cache-Control"] == "no-store"
    assert "could not be reached" in response.reason_phrase


def test_revalidation_carries_changes_over(client, index):
    page(client)
    stored = UpstreamFile.objects.get(filename="demo-1.0.tar.gz")
    stored.path = "mirror/kept"
    stored.save()
    # Upstream: 1.0's wheel is gone, the sdist too (fetched here: kept),
    # 2.0 is no longer yanked, 3.0 is new.
    index.publish(
        "demo",
        [
            dist("demo-2.0-py3-none-any.whl", b"wheel two", upload_time=LONG_AGO),
            dist("demo-3.0.tar.gz", b"three", upload_time=LONG_AGO),
        ],
    )
    make_stale()
    data = page(client).json()
    assert [entry["filename"] for entry in data["files"]] == [
        "demo-1.0.tar.gz",
        "demo-2.0-py3-none-any.whl",
        "demo-3.0.tar.gz",
    ]
    assert data["files"][1]["yanked"] is False


def test_an_unchanged_page_is_revalidated_with_its_etag(client, index):
    page(client)
    make_stale()
    assert page(client)["X-Mirror-Status"] == "fresh"
    assert index.requests[-1][1].get("If-None-Match")
    assert UpstreamProject.objects.get().checked_at > timezone.now() - timedelta(minutes=1)


def test_a_project_gone_upstream_is_absent_here(client, index):
    page(client)
    index.unpublish("demo")
    make_stale()
    assert page(client).status_code == 404
    assert UpstreamProject.objects.get().exists is False


def test_a_local_project_created_later_takes_the_cached_name_over(client, index, owner):
    assert page(client).status_code == 200
    project = Project.objects.create(name="demo", normalized_name="demo")
    add_file(make_release(project, "0.1"), make_wheel("demo", "0.1"))
    data = page(client).json()
    assert [entry["filename"] for entry in data["files"]] == ["demo-0.1-py3-none-any.whl"]


def test_the_fast_path_serves_a_mirrored_page_with_djangos_headers(client, index):
    response = page(client)
    answer = cached_simple_answer(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/simple/demo/",
            "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_ACCEPT": JSON,
            "wsgi.url_scheme": "http",
        }
    )
    assert answer is not None
    headers, body = answer
    assert body == response.content
    assert dict(headers) == dict(response.items())
    assert dict(headers)["X-Mirror-Status"] == "fresh"


def test_an_edge_keeps_a_mirrored_page_no_longer_than_its_freshness(client, index, settings):
    settings.EDGE_PURGE_URLS = ["http://127.0.0.1:9"]
    settings.UPSTREAM_FRESHNESS = 120
    assert page(client)["Surrogate-Control"].startswith("max-age=120,")
    assert page(client, "absent")["Surrogate-Control"].startswith("max-age=120,")


# --- /simple/ ---------------------------------------------------------------------


def index_names(client) -> list[str]:
    return [
        entry["name"]
        for entry in client.get("/simple/", headers={"Accept": JSON}).json()["projects"]
    ]


def test_a_mirrored_project_is_listed_once_fetched(
    client, index, project, django_capture_on_commit_callbacks
):
    assert index_names(client) == ["Sample.Project"]  # cached now
    with django_capture_on_commit_callbacks(execute=True):
        page(client)
    assert index_names(client) == ["demo", "Sample.Project"]
    assert "demo" in client.get("/simple/").content.decode()


def test_a_blocked_mirrored_project_leaves_the_index(
    client, index, django_capture_on_commit_callbacks
):
    page(client)
    assert index_names(client) == ["demo"]
    UpstreamBlock.objects.create(normalized_name="demo", reason="no")
    with django_capture_on_commit_callbacks(execute=True):
        mirror.forget("demo")
    assert index_names(client) == []


def test_a_revalidation_that_changes_nothing_drops_no_page(
    client, index, django_capture_on_commit_callbacks
):
    page(client)
    generation = mirror.generation()
    UpstreamProject.objects.update(etag="")  # a 200 with the same page, not a 304
    make_stale()
    with django_capture_on_commit_callbacks(execute=True):
        assert page(client).status_code == 200
    assert index.requested("/simple/demo/") == 2
    assert mirror.generation() == generation


def test_a_file_listed_twice_is_recorded_once(client, index):
    index.publish("demo", [*demo_dists(), demo_dists()[0]])
    assert len(page(client).json()["files"]) == 3


def test_a_fetched_copy_keeps_its_digest_when_the_upstream_changes_it(client, index):
    page(client)
    UpstreamFile.objects.update(path="mirror/kept")
    kept = UpstreamFile.objects.get(filename="demo-1.0.tar.gz").sha256_digest
    changed = [*demo_dists()[:1], dist("demo-1.0.tar.gz", b"other bytes", upload_time=LONG_AGO)]
    index.publish("demo", changed)
    make_stale()
    sdist = next(f for f in page(client).json()["files"] if f["filename"] == "demo-1.0.tar.gz")
    assert sdist["hashes"]["sha256"] == kept
