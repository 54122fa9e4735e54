"""packages.mirror: what the pull-through mirror offers under a name (local
names never merged, private names, blocks, quarantine, the minimum age), and
how a change of it is forgotten by the caches."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

from packages import mirror
from packages.cache import local_pages, simple_detail_key, simple_index_key
from packages.models import EdgePurge, Project, UpstreamBlock, UpstreamFile, UpstreamProject

SHA = "ab" * 32
UPSTREAM = "http://127.0.0.1:9/simple/"
LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)


def upstream_project(name: str = "requests", **fields) -> UpstreamProject:
    return UpstreamProject.objects.create(normalized_name=name, checked_at=timezone.now(), **fields)


def upstream_file(project, filename: str, version: str, **fields) -> UpstreamFile:
    fields.setdefault("upload_time", LONG_AGO)
    fields.setdefault("sha256_digest", SHA)
    return UpstreamFile.objects.create(
        project=project,
        filename=filename,
        version=version,
        url=f"http://127.0.0.1:9/files/{filename}",
        **fields,
    )


def filenames(files) -> list[str]:
    return [file.filename for file in files]


@pytest.fixture
def requests_project(db):
    project = upstream_project()
    upstream_file(project, "requests-2.0-py3-none-any.whl", "2.0")
    upstream_file(project, "requests-2.0.tar.gz", "2.0")
    upstream_file(project, "requests-3.0-py3-none-any.whl", "3.0")
    return project


def test_every_file_of_an_unblocked_project_is_offered(requests_project):
    assert filenames(mirror.offered_files(requests_project)) == [
        "requests-2.0-py3-none-any.whl",
        "requests-2.0.tar.gz",
        "requests-3.0-py3-none-any.whl",
    ]


def test_a_local_project_of_the_name_takes_every_upstream_file_away(requests_project):
    Project.objects.create(name="Requests", normalized_name="requests")
    assert mirror.offered_files(requests_project) == []


def test_a_quarantined_local_project_still_shadows_the_upstream(requests_project):
    Project.objects.create(
        name="requests", normalized_name="requests", quarantined_at=timezone.now()
    )
    assert mirror.offered_files(requests_project) == []


def test_a_quarantined_upstream_project_offers_nothing(requests_project):
    requests_project.quarantined_at = timezone.now()
    assert mirror.offered_files(requests_project) == []


def test_a_project_gone_upstream_offers_nothing(requests_project):
    requests_project.exists = False
    assert mirror.offered_files(requests_project) == []


@override_settings(PRIVATE_NAME_PATTERNS=["acme-*"])
def test_a_private_name_offers_nothing(db):
    project = upstream_project("acme-tools")
    upstream_file(project, "acme_tools-1.0.tar.gz", "1.0")
    assert mirror.is_private("acme-tools")
    assert not mirror.is_private("requests")
    assert mirror.offered_files(project) == []


def test_a_blocked_project_offers_nothing(requests_project):
    UpstreamBlock.objects.create(normalized_name="requests", version="", reason="typosquat")
    assert mirror.offered_files(requests_project) == []


def test_a_blocked_version_is_left_out(requests_project):
    UpstreamBlock.objects.create(normalized_name="requests", version="3.0", reason="broken")
    assert filenames(mirror.offered_files(requests_project)) == [
        "requests-2.0-py3-none-any.whl",
        "requests-2.0.tar.gz",
    ]
    files = requests_project.files.all()
    assert [mirror.is_offered(file) for file in files] == [True, True, False]


@override_settings(UPSTREAM_MIN_AGE=7 * 86400)
def test_a_release_younger_than_the_minimum_age_waits(requests_project):
    young = timezone.now() - timedelta(days=2)
    UpstreamFile.objects.filter(version="3.0").update(upload_time=young)
    assert "requests-3.0-py3-none-any.whl" not in filenames(mirror.offered_files(requests_project))
    assert mirror.next_offer_change(requests_project) == pytest.approx(5 * 86400, abs=5)
    later = timezone.now() + timedelta(days=5, seconds=1)
    assert "requests-3.0-py3-none-any.whl" in filenames(
        mirror.offered_files(requests_project, now=later)
    )


@override_settings(UPSTREAM_MIN_AGE=3600)
def test_without_an_upload_time_the_age_counts_from_the_first_sight(db):
    project = upstream_project()
    upstream_file(project, "requests-1.0.tar.gz", "1.0", upload_time=None)
    assert mirror.offered_files(project) == []
    assert filenames(mirror.offered_files(project, now=timezone.now() + timedelta(hours=2))) == [
        "requests-1.0.tar.gz"
    ]


def test_nothing_waits_when_every_file_is_old_enough(requests_project):
    assert mirror.next_offer_change(requests_project) is None


def test_the_index_lists_a_mirrored_project_once_something_is_offered(requests_project):
    assert mirror.listed_projects() == ["requests"]


@pytest.mark.parametrize(
    "change",
    [
        lambda: Project.objects.create(name="requests", normalized_name="requests"),
        lambda: UpstreamBlock.objects.create(normalized_name="requests", reason="no"),
        lambda: UpstreamProject.objects.update(quarantined_at=timezone.now()),
        lambda: UpstreamProject.objects.update(exists=False),
        lambda: UpstreamBlock.objects.bulk_create(
            [UpstreamBlock(normalized_name="requests", version=v, reason="no") for v in "23"]
        ),
    ],
    ids=["local", "blocked", "quarantined", "gone", "every-version-blocked"],
)
def test_the_index_leaves_out_what_offers_nothing(requests_project, change):
    UpstreamFile.objects.filter(version="3.0").update(version="3")
    UpstreamFile.objects.filter(version="2.0").update(version="2")
    change()
    assert mirror.listed_projects() == []


@override_settings(UPSTREAM_MIN_AGE=86400)
def test_the_index_leaves_out_a_project_whose_files_are_all_too_young(db):
    project = upstream_project()
    upstream_file(project, "requests-1.0.tar.gz", "1.0", upload_time=timezone.now())
    assert mirror.listed_projects() == []
    assert mirror.listed_projects(now=timezone.now() + timedelta(days=2)) == ["requests"]


@override_settings(PRIVATE_NAME_PATTERNS=["acme-*"])
def test_the_index_leaves_out_a_private_name(requests_project):
    project = upstream_project("acme-tools")
    upstream_file(project, "acme_tools-1.0.tar.gz", "1.0")
    assert mirror.listed_projects() == ["requests"]


def test_forget_drops_the_cached_pages_and_the_index(
    requests_project, django_capture_on_commit_callbacks
):
    keys = [simple_detail_key("requests", "html"), simple_index_key("json")]
    for key in keys:
        cache.set(key, b"old")
        local_pages.put(key, b"old", 3)
    before = mirror.generation()
    with django_capture_on_commit_callbacks(execute=True):
        mirror.forget("requests")
    assert cache.get_many(keys) == {}
    assert all(local_pages.get(key) is None for key in keys)
    assert mirror.generation() not in (None, before)


@override_settings(EDGE_PURGE_URLS=["http://127.0.0.1:9"])
def test_forget_queues_the_edge_purge_of_the_name_and_its_files(requests_project, db):
    mirror.forget("requests")
    keys = set(EdgePurge.objects.values_list("keys", flat=True).first().split())
    assert {"simple-requests", "simple-index", "files-requests", "json-requests"} <= keys


def test_a_mirrored_file_url_is_this_index_own(requests_project):
    file = requests_project.files.first()
    assert mirror.mirror_file_url(file) == f"/packages/mirror/{SHA}/{file.filename}"


@override_settings(FILES_URL="https://files.example.com")
def test_a_mirrored_file_url_is_on_the_files_host(requests_project):
    file = requests_project.files.first()
    assert mirror.mirror_file_url(file) == (
        f"https://files.example.com/packages/mirror/{SHA}/{file.filename}"
    )


def test_the_copy_of_a_file_is_stored_under_its_sha256(requests_project):
    file = requests_project.files.first()
    assert mirror.storage_path(file) == f"mirror/ab/ab/{'ab' * 30}/{file.filename}"


@pytest.mark.parametrize(
    ("filename", "version"),
    [
        ("requests-2.31.0-py3-none-any.whl", "2.31.0"),
        ("requests-2.31.0.tar.gz", "2.31.0"),
        ("Django-1.0.zip", "1.0"),
        ("zope.interface-5.0-cp311-cp311-manylinux1_x86_64.whl", "5.0"),
        ("pkg-1.0-py2.7.egg", None),
        ("pkg-1.0.win32.exe", None),
        ("broken.whl", None),
    ],
)
def test_the_version_a_filename_names(filename, version):
    assert mirror.file_version(filename) == version


def test_a_page_checked_within_the_freshness_is_fresh(requests_project):
    assert mirror.is_fresh(requests_project)
    requests_project.checked_at = timezone.now() - timedelta(hours=1)
    assert not mirror.is_fresh(requests_project)
    requests_project.checked_at = None
    assert not mirror.is_fresh(requests_project)
