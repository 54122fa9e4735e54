"""/packages/mirror/<sha256>/<filename>[.metadata]: files of the upstream index,
fetched and checked on their first request, then served from storage; and
fsck, which counts their copies as expected objects."""

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone

from packages import consistency, mirror, upstream
from packages.models import Project, UpstreamBlock, UpstreamFile, UpstreamProject
from packages.storage import files_storage
from tests.upstream_server import StaticIndex, dist

LONG_AGO = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
WHEEL = b"wheel bytes " * 1000
METADATA = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
WHEEL_SHA = hashlib.sha256(WHEEL).hexdigest()
WHEEL_URL = f"/packages/mirror/{WHEEL_SHA}/demo-1.0-py3-none-any.whl"


@pytest.fixture
def index(settings):
    with StaticIndex() as served:
        settings.UPSTREAM_INDEX_URL = served.simple_url
        settings.UPSTREAM_TIMEOUT = 1
        served.publish(
            "demo",
            [
                dist("demo-1.0-py3-none-any.whl", WHEEL, metadata=METADATA, upload_time=LONG_AGO),
                dist("demo-1.0.tar.gz", b"sdist", upload_time=LONG_AGO),
            ],
        )
        yield served


@pytest.fixture
def fetched_page(index, db):
    assert mirror.refresh("demo") is not None
    return index


def stop(index: StaticIndex) -> None:
    index.stop()
    # Its handler threads would still answer on the connections kept alive.
    upstream._configured.cache_clear()


def row(filename="demo-1.0-py3-none-any.whl") -> UpstreamFile:
    return UpstreamFile.objects.get(filename=filename)


def mirror_objects() -> list[str]:
    return sorted(
        stored.name
        for stored in consistency.stored_objects(files_storage())
        if stored.name.startswith("mirror/")
    )


@pytest.mark.django_db
def test_the_first_request_fetches_checks_stores_and_serves(client, fetched_page):
    response = client.get(WHEEL_URL)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == WHEEL
    assert response["ETag"] == f'"{WHEEL_SHA}"'
    assert response["Content-Length"] == str(len(WHEEL))
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "demo-1.0-py3-none-any.whl" in response["Content-Disposition"]
    assert response["Surrogate-Key"] == "files files-demo"
    stored = row()
    assert stored.path == mirror.storage_path(stored)
    assert stored.fetched_at is not None
    assert mirror_objects() == [stored.path]


@pytest.mark.django_db
def test_a_stored_copy_is_served_with_the_upstream_down(client, fetched_page):
    client.get(WHEEL_URL)
    stop(fetched_page)
    response = client.get(WHEEL_URL)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == WHEEL
    assert fetched_page.requested("/files/demo-1.0-py3-none-any.whl") == 1


@pytest.mark.django_db
def test_head_and_conditional_requests(client, fetched_page):
    head = client.head(WHEEL_URL)
    assert head.status_code == 200
    assert head["Content-Length"] == str(len(WHEEL))
    again = client.get(WHEEL_URL, headers={"If-None-Match": f'"{WHEEL_SHA}"'})
    assert again.status_code == 304
    assert again["ETag"] == f'"{WHEEL_SHA}"'
    assert again["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.django_db
def test_the_size_is_recorded_when_the_upstream_gave_none(client, settings):
    with StaticIndex(json_pages=False) as served:
        settings.UPSTREAM_INDEX_URL = served.simple_url
        served.publish("demo", [dist("demo-1.0-py3-none-any.whl", WHEEL)])
        mirror.refresh("demo")
        assert row().size is None
        assert client.get(WHEEL_URL).status_code == 200
    assert row().size == len(WHEEL)


@pytest.mark.django_db
def test_bytes_other_than_announced_are_refused_and_nothing_is_stored(client, settings):
    with StaticIndex() as served:
        settings.UPSTREAM_INDEX_URL = served.simple_url
        served.publish(
            "demo",
            [
                dist(
                    "demo-1.0-py3-none-any.whl",
                    b"tampered",
                    announced_sha256=WHEEL_SHA,
                    upload_time=LONG_AGO,
                )
            ],
        )
        mirror.refresh("demo")
        response = client.get(WHEEL_URL)
    assert response.status_code == 502
    assert b"do not match its sha256" in response.content
    assert "nothing was stored" in response.reason_phrase
    assert response["Cache-Control"] == "no-store"
    assert row().path == ""
    assert mirror_objects() == []


@pytest.mark.django_db
def test_an_unreachable_upstream_is_a_502_saying_so(client, fetched_page):
    stop(fetched_page)
    response = client.get(WHEEL_URL)
    assert response.status_code == 502
    assert b"could not be fetched from the upstream index" in response.content
    assert mirror_objects() == []


@pytest.mark.django_db
def test_the_core_metadata_is_fetched_and_checked(client, fetched_page):
    response = client.get(WHEEL_URL + ".metadata")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == METADATA
    assert response["ETag"] == f'"{hashlib.sha256(METADATA).hexdigest()}"'
    assert row().metadata_path == mirror.storage_path(row()) + ".metadata"
    stop(fetched_page)
    assert client.get(WHEEL_URL + ".metadata").status_code == 200


@pytest.mark.django_db
def test_no_metadata_for_a_file_without_it(client, fetched_page):
    sdist = row("demo-1.0.tar.gz")
    url = mirror.mirror_file_url(sdist)
    assert client.get(url + ".metadata").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        lambda: UpstreamBlock.objects.create(normalized_name="demo", version="1.0", reason="x"),
        lambda: UpstreamProject.objects.update(quarantined_at=timezone.now()),
        lambda: Project.objects.create(name="demo", normalized_name="demo"),
        lambda: UpstreamFile.objects.update(upload_time=timezone.now()),
    ],
    ids=["blocked", "quarantined", "local", "too-young"],
)
def test_a_file_not_offered_is_404(client, fetched_page, settings, change):
    settings.UPSTREAM_MIN_AGE = 3600
    change()
    assert client.get(WHEEL_URL).status_code == 404
    assert fetched_page.requested("/files/demo-1.0-py3-none-any.whl") == 0


@pytest.mark.django_db
def test_an_unknown_digest_is_404(client, fetched_page):
    assert client.get(f"/packages/mirror/{'0' * 64}/demo-1.0.tar.gz").status_code == 404


@pytest.mark.django_db
def test_only_get_and_head(client, fetched_page):
    assert client.post(WHEEL_URL).status_code == 405


@pytest.mark.django_db
def test_on_another_host_than_files_url_the_file_is_redirected(client, fetched_page, settings):
    settings.FILES_URL = "https://files.example.com"
    response = client.get(WHEEL_URL)
    assert response.status_code == 302
    assert response["Location"] == f"https://files.example.com{WHEEL_URL}"


@pytest.mark.django_db
def test_without_an_upstream_nothing_is_fetched(fetched_page, settings):
    settings.UPSTREAM_INDEX_URL = ""
    with pytest.raises(upstream.UpstreamError, match="UPSTREAM_INDEX_URL"):
        mirror.fetch_file(row())


@pytest.mark.django_db(transaction=True)
def test_two_first_requests_at_once_store_one_good_copy(fetched_page):
    fetched_page.delay = 0.3  # both requests are in flight together
    answers = []

    def fetch():
        try:
            response = Client().get(WHEEL_URL)
            answers.append((response.status_code, b"".join(response.streaming_content)))
        finally:
            close_old_connections()

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [(200, WHEEL), (200, WHEEL)]
    stored = row()
    assert mirror_objects() == [stored.path]
    with files_storage().open(stored.path) as handle:
        assert handle.read() == WHEEL


# --- fsck ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_fsck_counts_mirrored_copies_as_expected(client, fetched_page):
    client.get(WHEEL_URL)
    client.get(WHEEL_URL + ".metadata")
    assert consistency.check(verify_digests=True) == []


@pytest.mark.django_db
def test_fsck_counts_a_metadata_fetched_alone_and_a_file_without_metadata(client, fetched_page):
    client.get(WHEEL_URL + ".metadata")
    client.get(mirror.mirror_file_url(row("demo-1.0.tar.gz")))
    assert consistency.check(verify_digests=True) == []
    assert len(mirror_objects()) == 2


@pytest.mark.django_db
def test_fsck_reports_a_mirrored_copy_gone_or_damaged(client, fetched_page):
    client.get(WHEEL_URL)
    client.get(WHEEL_URL + ".metadata")
    stored = row()
    storage = files_storage()
    for path, data in ((stored.path, b"x" * len(WHEEL)), (stored.metadata_path, b"other")):
        storage.delete(path)
        storage.save(path, ContentFile(data))
    kinds = {(problem.kind, problem.name) for problem in consistency.check(verify_digests=True)}
    assert kinds == {(consistency.DIGEST, stored.path), (consistency.DIGEST, stored.metadata_path)}
    storage.delete(stored.path)
    storage.save(stored.path, ContentFile(b"short"))
    storage.delete(stored.metadata_path)
    kinds = {(problem.kind, problem.name) for problem in consistency.check()}
    assert kinds == {
        (consistency.SIZE, stored.path),
        (consistency.MISSING_METADATA, stored.metadata_path),
    }
    storage.delete(stored.path)
    kinds = {problem.kind for problem in consistency.check()}
    assert consistency.MISSING in kinds


@pytest.mark.django_db
def test_a_copy_whose_row_is_gone_is_an_orphan_fsck_repairs(client, fetched_page):
    client.get(WHEEL_URL)
    path = row().path
    UpstreamFile.objects.all().delete()
    problems = consistency.check()
    assert [(problem.kind, problem.name) for problem in problems] == [(consistency.ORPHAN, path)]
    repaired = consistency.repair(problems, grace=timedelta(0))
    assert len(repaired) == 1
    assert mirror_objects() == []


@pytest.mark.django_db
def test_fsck_repair_keeps_a_copy_whose_row_appeared_meanwhile(client, fetched_page):
    client.get(WHEEL_URL)
    stored = row()
    UpstreamFile.objects.filter(pk=stored.pk).update(path="")
    problems = consistency.check()
    UpstreamFile.objects.filter(pk=stored.pk).update(path=stored.path)
    assert consistency.repair(problems, grace=timedelta(0)) == []
    assert mirror_objects() == [stored.path]
