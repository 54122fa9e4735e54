"""Download counts: counted on both download paths without a database write,
written in batches (from Redis by the flush command, or by each process
itself), imported from CDN logs, and summed for the project page."""

import gzip
import io
import os
import threading
import time
from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError

from packages import downloads
from packages.download_log import parse_line
from packages.models import DownloadCount
from pypi_site.fastpath import file_answer
from tests.factories import add_file, make_release, make_sdist, make_wheel
from tests.pypi_site.test_fastpath import environ

pytestmark = pytest.mark.django_db

needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs a Redis server (REDIS_URL)"
)


@pytest.fixture(autouse=True)
def counter(monkeypatch):
    """A fresh in-process counter that only writes when told to."""
    fresh = downloads.LocalCounter(autostart=False)
    monkeypatch.setattr(downloads, "local_counter", fresh)
    return fresh


@pytest.fixture
def local(settings):
    settings.REDIS_URL = ""


@pytest.fixture
def redis_mode(settings):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs a Redis server (REDIS_URL)")
    return downloads._redis()


@pytest.fixture
def wheel(project):
    return add_file(make_release(project, "1.0"), make_wheel(), with_metadata=True)


def stored_counts() -> dict[tuple[int, date], int]:
    return {(row.file_id, row.day): row.count for row in DownloadCount.objects.all()}


def output(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


# --- Counting on the download paths (local memory) ---------------------------------


def test_download_is_counted_in_memory_not_in_the_database(client, local, counter, wheel):
    assert client.get(f"/packages/{wheel.path}").status_code == 200
    assert client.get(f"/packages/{wheel.path}").status_code == 200

    assert counter.pending() == {(downloads.today(), wheel.id): 2}
    assert not DownloadCount.objects.exists()

    assert downloads.flush() == 2
    row = DownloadCount.objects.get()
    assert (row.file_id, row.project_id, row.day, row.count) == (
        wheel.id,
        wheel.release.project_id,
        downloads.today(),
        2,
    )
    assert counter.pending() == {}


def test_a_range_request_is_answered_whole_and_counted(client, local, counter, wheel):
    response = client.get(f"/packages/{wheel.path}", headers={"Range": "bytes=0-9"})

    assert response.status_code == 200
    assert counter.pending() == {(downloads.today(), wheel.id): 1}


def test_head_not_modified_metadata_and_missing_are_not_counted(client, local, counter, wheel):
    assert client.head(f"/packages/{wheel.path}").status_code == 200
    etag = f'"{wheel.sha256_digest}"'
    assert client.get(f"/packages/{wheel.path}", headers={"If-None-Match": etag}).status_code == 304
    assert client.get(f"/packages/{wheel.path}.metadata").status_code == 200
    assert client.get(f"/packages/{wheel.path[:-4]}.zip").status_code == 404

    assert counter.pending() == {}


def test_fast_path_counts_downloads_but_not_metadata(local, counter, wheel):
    _headers, handle = file_answer(environ(f"/packages/{wheel.path}"))
    handle.close()
    _headers, handle = file_answer(environ(f"/packages/{wheel.path}.metadata"))
    handle.close()

    assert counter.pending() == {(downloads.today(), wheel.id): 1}


@pytest.mark.parametrize("redis", [False, True], ids=["local", "redis"])
def test_counting_off(client, request, settings, counter, wheel, redis):
    if redis:
        conn = request.getfixturevalue("redis_mode")
    else:
        settings.REDIS_URL = ""
    settings.DOWNLOAD_COUNTS = False

    assert client.get(f"/packages/{wheel.path}").status_code == 200
    _headers, handle = file_answer(environ(f"/packages/{wheel.path}"))
    handle.close()

    assert counter.pending() == {}
    if redis:
        assert not conn.exists(downloads._redis_key("live"))


def test_a_failed_write_keeps_the_counts_for_the_next_try(
    client, local, counter, wheel, monkeypatch, caplog
):
    client.get(f"/packages/{wheel.path}")

    def database_down(counts, **kwargs):
        raise DatabaseError("server closed the connection")

    with monkeypatch.context() as patch:
        patch.setattr(downloads, "add_counts", database_down)
        assert counter.flush() == 0
    assert "Could not write 1 download counts" in caplog.text
    assert counter.pending() == {(downloads.today(), wheel.id): 1}

    client.get(f"/packages/{wheel.path}")
    assert counter.flush() == 2
    assert stored_counts() == {(wheel.id, downloads.today()): 2}


def test_flush_with_nothing_pending_writes_nothing(local, counter, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert counter.flush() == 0


def test_a_forked_worker_starts_empty(local, counter, wheel):
    counter.add((downloads.today(), wheel.id))
    counter.after_fork()

    assert counter.pending() == {}


@pytest.mark.django_db(transaction=True)
def test_each_process_writes_its_counts_from_a_thread(
    client, settings, monkeypatch, owner, maintainer, project, wheel
):
    settings.REDIS_URL = ""
    settings.DOWNLOAD_COUNTS_FLUSH_SECONDS = 60
    monkeypatch.setattr(downloads, "LOCAL_FLUSH_THRESHOLD", 3)
    writer = downloads.LocalCounter()
    monkeypatch.setattr(downloads, "local_counter", writer)

    for _ in range(3):
        assert client.get(f"/packages/{wheel.path}").status_code == 200

    # The threshold wakes the thread long before its 60 s interval.
    deadline = time.monotonic() + 10
    while not DownloadCount.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stored_counts() == {(wheel.id, downloads.today()): 3}
    assert writer.pending() == {}


def test_flush_command_without_redis_says_processes_write_their_own(local, settings):
    settings.DOWNLOAD_COUNTS_FLUSH_SECONDS = 30

    assert output("flush_download_counts") == (
        "No Redis: each server process writes its own download counts every 30 s; "
        "nothing to move here."
    )


def test_batch_size_must_be_positive():
    with pytest.raises(CommandError, match="must be at least 1"):
        call_command("flush_download_counts", "--batch-size", "0")


# --- The upsert ----------------------------------------------------------------------


def test_counts_add_to_existing_rows(wheel):
    today = downloads.today()
    yesterday = today - timedelta(days=1)
    downloads.add_counts({(today, wheel.id): 2, (yesterday, wheel.id): 5})
    downloads.add_counts({(today, wheel.id): 3})

    assert stored_counts() == {(wheel.id, today): 5, (wheel.id, yesterday): 5}


def test_batches_write_everything(project, wheel):
    sdist = add_file(make_release(project, "1.0"), make_sdist())
    today = downloads.today()
    counts = {(today, wheel.id): 1, (today, sdist.id): 2, (today - timedelta(days=3), wheel.id): 4}

    assert downloads.add_counts(counts, batch_size=1) == 7
    assert stored_counts() == {
        (wheel.id, today): 1,
        (sdist.id, today): 2,
        (wheel.id, today - timedelta(days=3)): 4,
    }


def test_counts_of_deleted_files_are_dropped(client, local, counter, project, wheel):
    sdist = add_file(make_release(project, "1.0"), make_sdist())
    client.get(f"/packages/{wheel.path}")
    client.get(f"/packages/{sdist.path}")
    wheel.delete()

    assert downloads.flush() == 1
    assert stored_counts() == {(sdist.id, downloads.today()): 1}


def test_a_file_deleted_during_the_write_is_retried_without_it(wheel, monkeypatch):
    # On PostgreSQL the foreign key is checked at commit: a file deleted after
    # the batch read it fails the whole batch, which is then written again.
    real_upsert = downloads._upsert
    calls = []

    def upsert_then_fail_once(rows):
        real_upsert(rows)
        calls.append(rows)
        if len(calls) == 1:
            raise IntegrityError("insert or update violates foreign key constraint")

    monkeypatch.setattr(downloads, "_upsert", upsert_then_fail_once)

    assert downloads.write_batch({(downloads.today(), wheel.id): 4}) == 4
    assert len(calls) == 2
    assert stored_counts() == {(wheel.id, downloads.today()): 4}  # not 8


def test_zero_counts_write_no_row(wheel):
    assert downloads.write_batch({(downloads.today(), wheel.id): 0}) == 0
    assert not DownloadCount.objects.exists()


# --- Redis ---------------------------------------------------------------------------


def live_field(file_id: int) -> str:
    return f"{downloads.today().isoformat()}:{file_id}"


@needs_redis
def test_redis_counts_then_flush_moves_them_once(client, redis_mode, counter, wheel):
    live, flushing = downloads._redis_key("live"), downloads._redis_key("flushing")
    client.get(f"/packages/{wheel.path}")
    client.get(f"/packages/{wheel.path}")
    client.head(f"/packages/{wheel.path}")

    assert int(redis_mode.hget(live, live_field(wheel.id))) == 2
    assert counter.pending() == {}  # Redis, not the process
    assert not DownloadCount.objects.exists()

    assert output("flush_download_counts") == "Recorded 2 downloads."
    assert stored_counts() == {(wheel.id, downloads.today()): 2}
    assert not redis_mode.exists(live)
    assert not redis_mode.exists(flushing)

    # A second run finds nothing new: no double count.
    assert output("flush_download_counts") == "Recorded 0 downloads."
    assert stored_counts() == {(wheel.id, downloads.today()): 2}


@needs_redis
def test_fast_path_counts_in_redis(redis_mode, wheel):
    live = downloads._redis_key("live")
    _headers, handle = file_answer(environ(f"/packages/{wheel.path}"))
    handle.close()

    assert int(redis_mode.hget(live, live_field(wheel.id))) == 1


@needs_redis
def test_no_download_is_lost_or_counted_twice_during_flushes(redis_mode, wheel):
    total = 3000
    done = threading.Event()

    def download_many():
        for _ in range(total):
            downloads.count_download(wheel.id)
        done.set()

    worker = threading.Thread(target=download_many)
    worker.start()
    flushes = 0
    while not done.is_set():
        downloads.flush(batch_size=1)
        flushes += 1
    worker.join()
    downloads.flush()

    assert flushes > 1
    assert DownloadCount.objects.get().count == total


@needs_redis
def test_a_flush_that_died_is_finished_by_the_next(redis_mode, project, wheel):
    # Renamed, read, then killed before its commit: the fields are still in the
    # flushing key and the next run applies them, then what came since.
    live, flushing = downloads._redis_key("live"), downloads._redis_key("flushing")
    sdist = add_file(make_release(project, "1.0"), make_sdist())
    redis_mode.hset(flushing, mapping={live_field(wheel.id): 5, live_field(sdist.id): 1})
    redis_mode.hincrby(live, live_field(wheel.id), 2)

    assert downloads.flush_redis(batch_size=1) == 8
    assert stored_counts() == {(wheel.id, downloads.today()): 7, (sdist.id, downloads.today()): 1}
    assert not redis_mode.exists(flushing)
    assert not redis_mode.exists(live)


@needs_redis
def test_only_one_flush_runs_at_a_time(redis_mode, wheel):
    live, lock_key = downloads._redis_key("live"), downloads._redis_key("flush-lock")
    downloads.count_download(wheel.id)
    other = redis_mode.lock(lock_key, timeout=60)
    assert other.acquire(blocking=False)
    try:
        assert output("flush_download_counts") == "Another flush is running; nothing done."
    finally:
        other.release()

    assert not DownloadCount.objects.exists()
    assert int(redis_mode.hget(live, live_field(wheel.id))) == 1


def test_redis_failure_does_not_fail_the_download(client, settings, counter, wheel, caplog):
    from redis.exceptions import ConnectionError as RedisConnectionError

    class Down:
        def hincrby(self, *args):
            raise RedisConnectionError("Connection refused")

    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    original = downloads._redis
    downloads._redis = Down
    try:
        response = client.get(f"/packages/{wheel.path}")
    finally:
        downloads._redis = original

    assert response.status_code == 200
    assert f"Could not count a download of file {wheel.id}" in caplog.text


# --- The summary and the project page ------------------------------------------------


@pytest.fixture
def history(project, wheel):
    """Downloads spread over the windows' edges, and another project's."""
    from packages.models import Project

    today = downloads.today()
    other = Project.objects.create(name="other", normalized_name="other")
    other_file = add_file(make_release(other, "1.0"), make_wheel("other"))
    for days_ago, count in [
        (0, 1),
        (1, 10),
        (6, 100),
        (7, 1000),
        (29, 10000),
        (30, 100000),
        (-1, 1000000),  # tomorrow: a clock ahead, or a CDN log from the future
    ]:
        DownloadCount.objects.create(
            file=wheel, project=project, day=today - timedelta(days=days_ago), count=count
        )
    DownloadCount.objects.create(file=other_file, project=other, day=today, count=7)
    return today


def test_summary_windows_end_today(project, history):
    assert downloads.download_summary(project) == {
        "last_day": 1,
        "last_week": 111,
        "last_month": 11111,
    }


def test_summary_without_downloads_is_zero(project):
    assert downloads.download_summary(project) == {"last_day": 0, "last_week": 0, "last_month": 0}


def test_summary_is_cached_briefly(project, history, wheel, django_assert_num_queries):
    downloads.download_summary(project)
    DownloadCount.objects.filter(day=history).update(count=50)

    with django_assert_num_queries(0):
        assert downloads.download_summary(project)["last_day"] == 1


def test_project_page_shows_downloads(client, project, history):
    DownloadCount.objects.filter(day=history - timedelta(days=29)).update(count=1234567)

    page = client.get("/project/sample-project/").content.decode()

    assert '<h2 class="sidebar__title" id="downloads">Downloads</h2>' in page
    assert '<dd data-downloads="last_day">1</dd>' in page
    assert '<dd data-downloads="last_week">111</dd>' in page
    assert '<dd data-downloads="last_month">1,235,678</dd>' in page


# --- CDN log import --------------------------------------------------------------------


def clf(path, *, method="GET", status=200, when="01/May/2025:12:00:00 +0000"):
    return f'203.0.113.9 - - [{when}] "{method} {path} HTTP/1.1" {status} 1234 "-" "pip/25.0"'


@pytest.fixture
def log_lines(project, wheel):
    sdist = add_file(make_release(project, "1.0"), make_sdist())
    file_url = f"/packages/{wheel.path}"
    unknown = f"/packages/00/11/{'2' * 60}/gone-1.0.tar.gz"
    lines = [
        clf(file_url),  # May 1
        clf(file_url, when="01/May/2025:23:30:00 -0100"),  # 00:30 UTC: May 2
        clf(file_url.replace("-", "%2D") + "?source=mirror"),  # escaped, with a query
        f'{{"path": "/packages/{sdist.path}", "status": 200, "timestamp": "2025-05-01T10:00:00Z"}}',
        f'{{"path": "/packages/{sdist.path}", "status": 200, "timestamp": "2025-05-01T10:00:00"}}',
        f'{{"path": "/packages/{sdist.path}", "status": "200", "timestamp": 1746144000}}',  # May 2
        "",  # blank: not a line
        # Read but not downloads:
        clf(file_url, method="HEAD"),
        clf(file_url, status=304),
        clf(file_url, status=206),
        clf(file_url, status=404),
        clf(f"{file_url}.metadata"),
        clf("/simple/sample-project/"),
        f'{{"path": "{file_url}", "status": 200, "timestamp": 1746144000, "method": "POST"}}',
        # Downloads of a file the index doesn't have:
        clf(unknown),
        clf(unknown),
        # Malformed:
        "garbage",
        clf(file_url, when="01/Mai/2025:12:00:00 +0000"),
        clf(file_url, when="yesterday"),
        "[1, 2]",
        '{"path": 5, "status": 200, "timestamp": 1746144000}',
        f'{{"path": "{file_url}", "timestamp": 1746144000}}',
        f'{{"path": "{file_url}", "status": 200, "timestamp": null}}',
        f'{{"path": "{file_url}", "status": 200, "timestamp": true}}',
        f'{{"path": "{file_url}", "status": 200, "timestamp": "soon"}}',
        f'{{"path": "{file_url}", "status": 200, "timestamp": 1e300}}',
        "{not json",
    ]
    expected = {
        (wheel.id, date(2025, 5, 1)): 2,
        (wheel.id, date(2025, 5, 2)): 1,
        (sdist.id, date(2025, 5, 1)): 2,
        (sdist.id, date(2025, 5, 2)): 1,
    }
    return "\n".join(lines) + "\n", expected


SUMMARY = (
    "Read 26 lines: counted 6 downloads, skipped 20 "
    "(11 malformed, 7 not downloads, 2 of files not in the index)."
)


def test_import_log_file(tmp_path, log_lines):
    text, expected = log_lines
    log = tmp_path / "access.log"
    log.write_text(text)

    assert output("import_download_log", str(log)) == SUMMARY
    assert stored_counts() == expected


def test_import_adds_to_counts_already_there(tmp_path, log_lines):
    text, expected = log_lines
    log = tmp_path / "access.log.gz"
    log.write_bytes(gzip.compress(text.encode()))

    output("import_download_log", str(log), "--batch-size", "1")
    output("import_download_log", str(log))

    assert stored_counts() == {key: 2 * count for key, count in expected.items()}


def test_import_from_standard_input(monkeypatch, log_lines):
    text, expected = log_lines
    monkeypatch.setattr("sys.stdin", io.StringIO(text))

    assert output("import_download_log", "-") == SUMMARY
    assert stored_counts() == expected


def test_import_of_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_download_log", str(tmp_path / "nope.log"))


def test_combined_log_line_without_size_or_agents(wheel):
    # The common log format: no referer, no user agent, "-" for the size.
    line = f'::1 - alice [02/Jan/2025:00:00:00 +0100] "GET /packages/{wheel.path} HTTP/2" 200 -'

    hit = parse_line(line)

    assert (hit.day, hit.path) == (date(2025, 1, 1), wheel.path)
