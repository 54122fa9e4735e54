"""The project page of a project mirrored from the upstream index
(packages.mirrored, packages.pages.mirrored_page, templates/packages/
mirrored_project.html): what it shows, when it is a 404, and when visiting it
asks the upstream."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from packages import mirrored
from packages.models import Project, UpstreamBlock, UpstreamProject
from tests.factories import add_file, make_release, make_sdist
from tests.packages.mirror_rows import (
    CHECKED,
    UPSTREAM,
    demo_project,
    mirror_on,
    upstream_file,
    upstream_project,
)
from tests.packages.test_pages import assert_well_formed
from tests.upstream_server import StaticIndex, dist

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings):
    mirror_on(settings)
    return demo_project()


def page_of(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    assert_well_formed(response)
    return response.content.decode()


def mirror_url(project: UpstreamProject, filename: str) -> str:
    file = project.files.get(filename=filename)
    return reverse("mirror-file", args=[file.sha256_digest, file.filename])


# --- What the page shows ---------------------------------------------------------------


def test_the_page_says_it_is_mirrored_from_where_and_when_last_checked(client, demo):
    html = page_of(client, "/project/demo/")

    assert "Mirrored from the upstream index" in html
    assert f'<a href="{UPSTREAM}" rel="nofollow">{UPSTREAM}</a>' in html
    assert f'<time datetime="{CHECKED.isoformat()}">May 2, 2024 09:15 UTC</time>' in html
    assert "pip install demo</code>" in html


def test_the_latest_version_is_shown_with_its_files_linked_to_this_index(client, demo):
    html = page_of(client, "/project/demo/")

    # 2.0: neither yanked nor a pre-release (2.1rc1 is newer, 1.1 yanked).
    assert '<span class="package-header__version">2.0</span>' in html
    assert "latest version" in html
    for filename in ("demo-2.0.tar.gz", "demo-2.0-cp312-cp312-manylinux_2_17_x86_64.whl"):
        assert f'href="{mirror_url(demo, filename)}">{filename}</a>' in html
        assert demo.files.get(filename=filename).sha256_digest in html
    # The source first, then the wheel; its requirement and size.
    assert html.index("demo-2.0.tar.gz</a>") < html.index("demo-2.0-cp312")
    assert "<code>&gt;=3.9</code>" in html
    assert "28\xa0bytes" in html  # b"the bytes of demo-2.0.tar.gz"
    assert "March 1, 2024 12:30 UTC" in html
    assert "demo-1.0.tar.gz" not in html  # another version's files


def test_every_offered_version_is_in_the_history(client, demo):
    html = page_of(client, "/project/demo/")

    for version in ("2.1rc1", "2.0", "1.1", "1.0"):
        assert f'href="/project/demo/{version}/"' in html, version
    assert html.index('"/project/demo/2.1rc1/"') < html.index('"/project/demo/1.0/"')
    assert "Yanked: Broken build" in html


def test_a_version_page_shows_that_version_and_its_yank(client, demo):
    html = page_of(client, "/project/demo/1.1/")

    assert '<span class="package-header__version">1.1</span>' in html
    assert "This release has been yanked upstream." in html
    assert "Reason given: Broken build" in html
    assert "pip install demo==1.1" in html
    assert 'href="/project/demo/2.0/">2.0</a>' in html  # the version installed by default
    assert "demo-1.1.tar.gz</a>" in html


def test_a_pre_release_page_says_so(client, demo):
    html = page_of(client, "/project/demo/2.1rc1/")

    assert "This is a pre-release." in html
    assert "pip install demo==2.1rc1" in html


def test_a_yanked_file_of_a_version_says_so(client, demo):
    upstream_file(demo, "demo-2.0-py3-none-any.whl", yanked=True, yanked_reason="Wrong tag")

    html = page_of(client, "/project/demo/")

    assert "This release has been yanked" not in html  # two of its three files are not
    assert '<span class="badge badge--yanked">yanked</span> ' in html
    assert "Wrong tag" in html


def test_there_is_nothing_to_manage_or_maintain(client, demo, owner):
    client.force_login(owner)

    html = page_of(client, "/project/demo/")

    assert "Maintainers" not in html
    assert "/manage/project/demo" not in html
    assert "Report this project" not in html
    assert 'href="/simple/demo/"' in html
    assert 'href="/pypi/demo/json"' in html


def test_a_file_without_size_or_upload_time_shows_what_is_known(client, demo):
    seen = timezone.now().replace(microsecond=0)
    file = upstream_file(demo, "demo-3.0.tar.gz", size=None, upload_time=None)
    file.first_seen_at = seen
    file.save()

    html = page_of(client, "/project/demo/")

    assert '<span class="package-header__version">3.0</span>' in html
    assert "unknown" in html
    assert f'<time datetime="{seen.isoformat()}">' in html


def test_versions_are_shown_as_their_filenames_spell_them(client, demo):
    upstream_file(demo, "demo-3.0.0.tar.gz")

    html = page_of(client, "/project/demo/")

    # 3.0.0, not its canonical form 3.
    assert '<span class="package-header__version">3.0.0</span>' in html


def test_the_page_is_public_and_carries_the_project_key(client, demo):
    response = client.get("/project/demo/")

    assert response["Cache-Control"] == "public, max-age=60"
    assert "project-demo" in response["Surrogate-Key"].split()


def test_an_edge_keeps_the_page_only_while_the_copy_is_fresh(client, demo, settings, owner):
    settings.EDGE_PURGE_URLS = ["http://127.0.0.1:9/"]
    settings.EDGE_MAX_AGE, settings.UPSTREAM_FRESHNESS = 86400, 600
    local = Project.objects.create(name="ours", normalized_name="ours")
    add_file(make_release(local, "1.0"), make_sdist("ours", "1.0"))

    mirrored_page = client.get("/project/demo/")
    local_page = client.get("/project/ours/")

    stale = settings.EDGE_STALE_IF_ERROR
    assert mirrored_page["Surrogate-Control"] == f"max-age=600, stale-if-error={stale}"
    assert local_page["Surrogate-Control"] == f"max-age=86400, stale-if-error={stale}"


def test_queries_do_not_grow_with_versions_and_files(client, demo):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/project/demo/").status_code == 200
        return len(captured)

    few = queries()
    for minor in range(30):
        upstream_file(demo, f"demo-1.{minor + 2}.tar.gz")
        upstream_file(demo, f"demo-1.{minor + 2}-py3-none-any.whl")

    assert queries() == few


# --- Names and versions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("/project/Demo/", "/project/demo/"),
        ("/project/DEMO/1.0/", "/project/demo/1.0/"),
        ("/project/demo/1.0.0/", "/project/demo/1.0/"),
        ("/project/demo/2.1.0rc1/", "/project/demo/2.1rc1/"),
    ],
)
def test_other_spellings_redirect_permanently(client, demo, url, location):
    response = client.get(url)

    assert response.status_code == 301
    assert response["Location"] == location


def test_an_unknown_version_is_a_404(client, demo):
    response = client.get("/project/demo/9.9/")

    assert response.status_code == 404


# --- What is no mirrored page -----------------------------------------------------------


def _quarantined(project):
    UpstreamProject.objects.filter(pk=project.pk).update(quarantined_at=timezone.now())


def _gone(project):
    UpstreamProject.objects.filter(pk=project.pk).update(exists=False)


def _blocked(project):
    UpstreamBlock.objects.create(normalized_name=project.normalized_name, reason="Malware")


def _too_young(project):
    project.files.update(upload_time=timezone.now() - timedelta(hours=1))


def _mirror_off(project):
    from django.conf import settings

    settings.UPSTREAM_INDEX_URL = ""


def _private(project):
    from django.conf import settings

    settings.PRIVATE_NAME_PATTERNS = ["dem*"]


def _quarantined_local_project(project):
    Project.objects.create(name="demo", normalized_name="demo", quarantined_at=timezone.now())


@pytest.mark.parametrize(
    "change",
    [_quarantined, _gone, _blocked, _too_young, _mirror_off, _private, _quarantined_local_project],
)
def test_what_offers_nothing_is_a_404_as_a_missing_project(client, demo, settings, change):
    settings.UPSTREAM_MIN_AGE = 86400
    demo.files.update(upload_time=timezone.now() - timedelta(days=2))
    assert client.get("/project/demo/").status_code == 200

    change(demo)

    for url in ("/project/demo/", "/project/demo/2.0/"):
        response = client.get(url)
        if change is _quarantined_local_project and url == "/project/demo/":
            # PEP 792: the local project's page says it is quarantined, and
            # shows nothing of the upstream's.
            assert response.status_code == 200
            assert 'data-project-status="quarantined"' in response.content.decode()
            assert "Mirrored from" not in response.content.decode()
            continue
        assert response.status_code == 404, (change.__name__, url)


def test_a_local_project_of_the_name_is_shown_not_the_upstream(client, demo, owner):
    assert "Mirrored from" in page_of(client, "/project/demo/2.0/")
    local = Project.objects.create(name="demo", normalized_name="demo")
    add_file(make_release(local, "0.5"), make_sdist("demo", "0.5"))

    html = page_of(client, "/project/demo/")

    assert "0.5" in html
    assert "Mirrored from" not in html
    assert "demo-2.0.tar.gz" not in html
    assert client.get("/project/demo/2.0/").status_code == 404


def test_a_blocked_version_has_no_page_and_is_not_listed(client, demo):
    UpstreamBlock.objects.create(normalized_name="demo", version="2.0", reason="Bad")

    html = page_of(client, "/project/demo/")

    assert '<span class="package-header__version">1.0</span>' in html
    assert '"/project/demo/2.0/"' not in html
    assert client.get("/project/demo/2.0/").status_code == 404


# --- When the upstream is asked ---------------------------------------------------------


@pytest.fixture
def upstream(settings):
    with StaticIndex() as index:
        mirror_on(settings, index.simple_url)
        yield index


def test_a_name_never_asked_for_is_fetched_once_then_shown(client, upstream):
    upstream.publish("fresh", [dist("fresh-1.0.tar.gz", b"fresh sdist", requires_python=">=3")])

    html = page_of(client, "/project/fresh/")

    assert upstream.requested("/simple/fresh/") == 1
    assert "Mirrored from the upstream index" in html
    assert upstream.simple_url in html
    row = UpstreamProject.objects.get(normalized_name="fresh")
    assert f'href="{mirror_url(row, "fresh-1.0.tar.gz")}"' in html
    # The file itself is fetched only when it is downloaded.
    assert upstream.requested("/files/fresh-1.0.tar.gz") == 0

    page_of(client, "/project/fresh/1.0/")
    assert upstream.requested("/simple/fresh/") == 1


def test_a_copy_held_is_shown_however_old_without_asking_the_upstream(client, upstream):
    project = upstream_project("held", checked_at=CHECKED)
    upstream_file(project, "held-1.0.tar.gz")
    upstream.publish("held", [dist("held-2.0.tar.gz", b"newer upstream")])

    html = page_of(client, "/project/held/")

    assert upstream.requests == []
    assert "held-1.0.tar.gz" in html
    assert "May 2, 2024 09:15 UTC" in html


def test_a_name_the_upstream_lacks_is_a_404_and_is_asked_only_once(client, upstream):
    assert client.get("/project/nowhere/").status_code == 404
    assert client.get("/project/nowhere/").status_code == 404

    assert upstream.requested("/simple/nowhere/") == 1
    assert not UpstreamProject.objects.get(normalized_name="nowhere").exists


def test_the_upstream_failing_and_no_copy_is_a_404(client, upstream):
    upstream.publish("reached", [dist("reached-1.0.tar.gz", b"sdist")])
    upstream.publish("unreached", [dist("unreached-1.0.tar.gz", b"sdist")])
    assert client.get("/project/reached/").status_code == 200

    upstream.fail_with = 503

    assert client.get("/project/unreached/").status_code == 404
    assert client.get("/project/reached/").status_code == 200  # the copy held
    assert not UpstreamProject.objects.filter(normalized_name="unreached").exists()


def test_a_local_name_never_asks_the_upstream(client, upstream, owner):
    Project.objects.create(name="ours", normalized_name="ours", quarantined_at=timezone.now())
    upstream.publish("ours", [dist("ours-99.0.tar.gz", b"confusion")])
    upstream.publish("theirs", [dist("theirs-1.0.tar.gz", b"public")])

    # A quarantined local project's page (PEP 792) says so; nothing upstream.
    assert "This project is quarantined" in client.get("/project/ours/").content.decode()
    assert client.get("/project/theirs/").status_code == 200
    assert [path for path, _headers in upstream.requests] == ["/simple/theirs/"]


# --- The read model ---------------------------------------------------------------------


def test_filenames_that_name_no_version_still_show(demo):
    """Rows written by hand (not packages.mirror) may hold anything."""
    upstream_file(demo, "demo-installer.exe", version="not a version")

    found = mirrored.lookup("demo", fetch=False)

    assert found.versions[-1].version == "not a version"
    assert not found.versions[-1].is_prerelease
    assert found.find("x" * 101) is None
    assert mirrored.python_version("demo-installer.exe") == "source"
