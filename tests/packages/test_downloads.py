"""Download counts: counted in the shared cache on both download paths
without a database write, moved to the database by the server processes
themselves (or the flush command), imported from CDN logs, and summed for the
project page and the JSON API within a minute."""

import gzip
import io
import json
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection
from django.test import override_settings
from django.utils import timezone

from packages import downloads
from packages.download_log import OVERLAP_LINES, RUN_LINES, WINDOW_RUNS, parse_line
from packages.models import DownloadCount, DownloadLogFingerprint, ImportedDownloadLog
from pypi_site.fastpath import file_answer
from tests.factories import add_file, make_release, make_sdist, make_wheel
from tests.polling import wait_until
from tests.pypi_site.test_fastpath import environ

pytestmark = pytest.mark.django_db


class Clock:
    """The time the code reads (django.utils.timezone.now), moved by the test."""

    def __init__(self, moment: datetime):
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    # A few seconds into an interval of every length the code uses.
    fixed = Clock(datetime(2026, 5, 1, 12, 0, 1, tzinfo=UTC))
    monkeypatch.setattr(timezone, "now", fixed.now)
    return fixed


@pytest.fixture(autouse=True)
def flusher(monkeypatch):
    """The process's flusher, as in a serving process; its thread is stopped
    at the end of the test."""
    fresh = downloads.Flusher()
    monkeypatch.setattr(downloads, "flusher", fresh)
    yield fresh
    fresh.stop()


@pytest.fixture
def wheel(project):
    return add_file(make_release(project, "1.0"), make_wheel(), with_metadata=True)


def stored_counts() -> dict[tuple[int, date], int]:
    return {(row.file_id, row.day): row.count for row in DownloadCount.objects.all()}


def output(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def failing_inserts(execute, sql, params, many, context):
    if sql.startswith("INSERT"):
        raise DatabaseError("server closed the connection unexpectedly")
    return execute(sql, params, many, context)


# --- Counting on the download paths ------------------------------------------------


def test_download_is_counted_in_the_cache_not_in_the_database(
    client, wheel, django_assert_num_queries
):
    assert client.get(f"/packages/{wheel.path}").status_code == 200
    with django_assert_num_queries(1):  # the file's lookup; no write
        assert client.get(f"/packages/{wheel.path}").status_code == 200
    assert not DownloadCount.objects.exists()

    assert downloads.flush() == 2
    row = DownloadCount.objects.get()
    assert (row.file_id, row.project_id, row.day, row.count) == (
        wheel.id,
        wheel.release.project_id,
        downloads.today(),
        2,
    )
    # Moved, not copied: a second flush finds nothing.
    assert downloads.flush() == 0
    assert stored_counts() == {(wheel.id, downloads.today()): 2}


def test_a_range_request_is_answered_whole_and_counted(client, wheel):
    response = client.get(f"/packages/{wheel.path}", headers={"Range": "bytes=0-9"})

    assert response.status_code == 200
    assert downloads.flush() == 1


def test_head_not_modified_metadata_and_missing_are_not_counted(client, wheel):
    assert client.head(f"/packages/{wheel.path}").status_code == 200
    etag = f'"{wheel.sha256_digest}"'
    assert client.get(f"/packages/{wheel.path}", headers={"If-None-Match": etag}).status_code == 304
    assert client.get(f"/packages/{wheel.path}.metadata").status_code == 200
    assert client.get(f"/packages/{wheel.path[:-4]}.zip").status_code == 404

    assert downloads.flush() == 0


def test_fast_path_counts_downloads_but_not_metadata(wheel):
    _headers, handle = file_answer(environ(f"/packages/{wheel.path}"))
    handle.close()
    _headers, handle = file_answer(environ(f"/packages/{wheel.path}.metadata"))
    handle.close()

    assert downloads.flush() == 1
    assert stored_counts() == {(wheel.id, downloads.today()): 1}


def test_counting_off(client, settings, wheel):
    settings.DOWNLOAD_COUNTS = False

    assert client.get(f"/packages/{wheel.path}").status_code == 200
    _headers, handle = file_answer(environ(f"/packages/{wheel.path}"))
    handle.close()

    assert downloads.flush() == 0


def test_a_cache_failure_does_not_fail_the_download(client, wheel, caplog):
    unreachable = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
    }
    with override_settings(CACHES={"default": unreachable}):
        response = client.get(f"/packages/{wheel.path}")

    assert response.status_code == 200
    assert f"Could not count a download of file {wheel.id}" in caplog.text


def test_several_files_and_an_evicted_counter(client, project, wheel):
    sdist = add_file(make_release(project, "1.0"), make_sdist())
    client.get(f"/packages/{wheel.path}")
    client.get(f"/packages/{sdist.path}")
    client.get(f"/packages/{sdist.path}")
    # The cache dropped the wheel's counter (eviction, restart): the next
    # download starts it again and enters the file in the day's list again.
    cache.delete(f"downloads:count:{downloads.today().isoformat()}:{wheel.id}")
    client.get(f"/packages/{wheel.path}")

    assert downloads.flush() == 3
    assert stored_counts() == {(wheel.id, downloads.today()): 1, (sdist.id, downloads.today()): 2}


def test_yesterdays_counts_are_moved_after_midnight(client, clock, wheel):
    clock.moment = datetime(2026, 5, 1, 23, 59, 59, tzinfo=UTC)
    client.get(f"/packages/{wheel.path}")
    clock.advance(2)
    client.get(f"/packages/{wheel.path}")

    assert downloads.flush() == 2
    assert stored_counts() == {(wheel.id, date(2026, 5, 1)): 1, (wheel.id, date(2026, 5, 2)): 1}


def test_no_download_is_lost_or_counted_twice_during_flushes(wheel):
    total = 1000
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


# --- Moving the counts to the database ---------------------------------------------


def test_a_failed_write_puts_the_counts_back(client, project, wheel):
    sdist = add_file(make_release(project, "1.0"), make_sdist())
    client.get(f"/packages/{wheel.path}")
    client.get(f"/packages/{sdist.path}")

    with connection.execute_wrapper(failing_inserts), pytest.raises(DatabaseError):
        downloads.flush(batch_size=1)
    assert not DownloadCount.objects.exists()

    client.get(f"/packages/{wheel.path}")
    assert downloads.flush() == 3
    assert stored_counts() == {(wheel.id, downloads.today()): 2, (sdist.id, downloads.today()): 1}


def test_only_one_flush_runs_at_a_time(client, wheel):
    client.get(f"/packages/{wheel.path}")
    assert cache.add(downloads.LOCK_KEY, "another flush", 60)

    assert output("flush_download_counts") == "Another flush is running; nothing done."
    assert not DownloadCount.objects.exists()
    assert cache.get(downloads.LOCK_KEY) == "another flush"

    cache.delete(downloads.LOCK_KEY)
    assert output("flush_download_counts") == "Recorded 1 downloads."
    assert output("flush_download_counts") == "Recorded 0 downloads."
    assert stored_counts() == {(wheel.id, downloads.today()): 1}


def test_a_flush_leaves_a_lock_taken_over_by_another(client, wheel):
    # Ours expired during a long flush and another flush took it: not ours to remove.
    def lock_taken_over(execute, sql, params, many, context):
        if sql.startswith("INSERT"):
            cache.set(downloads.LOCK_KEY, "another flush", 60)
        return execute(sql, params, many, context)

    client.get(f"/packages/{wheel.path}")
    with connection.execute_wrapper(lock_taken_over):
        assert downloads.flush() == 1

    assert cache.get(downloads.LOCK_KEY) == "another flush"


def test_batch_size_must_be_positive():
    with pytest.raises(CommandError, match="must be at least 1"):
        call_command("flush_download_counts", "--batch-size", "0")


def test_one_flush_per_interval_for_all_processes(client, clock, settings, flusher, wheel):
    settings.DOWNLOAD_COUNTS_FLUSH_SECONDS = 20
    client.get(f"/packages/{wheel.path}")
    other_process = downloads.Flusher()  # shares the cache

    assert flusher.tick() == 1
    client.get(f"/packages/{wheel.path}")
    clock.advance(10)
    assert other_process.tick() is None  # this interval's flush has run
    clock.advance(10)
    assert other_process.tick() == 1
    assert stored_counts() == {(wheel.id, downloads.today()): 2}


def test_a_failed_flush_is_logged_and_retried_next_interval(client, clock, flusher, wheel, caplog):
    client.get(f"/packages/{wheel.path}")

    with connection.execute_wrapper(failing_inserts):
        assert flusher.tick() is None
    assert "Could not move the download counts to the database" in caplog.text

    clock.advance(60)
    assert flusher.tick() == 1


def test_no_thread_outside_a_serving_process_or_when_turned_off(client, settings, flusher, wheel):
    client.get(f"/packages/{wheel.path}")
    assert flusher._thread is None

    settings.DOWNLOAD_COUNTS_FLUSH_SECONDS = 0
    flusher.serve()
    client.get(f"/packages/{wheel.path}")
    assert flusher._thread is None
    flusher.stop()  # nothing to stop
    assert downloads.flush() == 2


@pytest.mark.django_db(transaction=True)
def test_a_serving_process_moves_the_counts_itself(
    client, settings, flusher, owner, maintainer, project, wheel
):
    settings.DOWNLOAD_COUNTS_FLUSH_SECONDS = 1
    flusher.serve()

    for _ in range(3):
        assert client.get(f"/packages/{wheel.path}").status_code == 200
    thread = flusher._thread
    assert thread.is_alive()

    # No cron, no command: the process's thread writes them.
    wait_until(DownloadCount.objects.exists, seconds=10)
    assert stored_counts() == {(wheel.id, downloads.today()): 3}

    # At a graceful exit the thread stops and what is left is written.
    settings.DOWNLOAD_COUNTS_FLUSH_SECONDS = 3600
    downloads.count_download(wheel.id)
    flusher.stop()
    assert not thread.is_alive()
    assert stored_counts() == {(wheel.id, downloads.today()): 4}


@pytest.mark.django_db(transaction=True)
def test_a_failed_flush_at_exit_is_logged(client, settings, flusher, wheel, caplog):
    settings.DOWNLOAD_COUNTS_FLUSH_SECONDS = 3600
    flusher.serve()
    client.get(f"/packages/{wheel.path}")

    with connection.execute_wrapper(failing_inserts):
        flusher.stop()

    assert "Could not move the download counts to the database" in caplog.text
    assert downloads.flush() == 1


# --- The upsert ----------------------------------------------------------------------


def test_counts_add_to_existing_rows(wheel):
    today = downloads.today()
    yesterday = today - timedelta(days=1)
    downloads.write_batch({(today, wheel.id): 2, (yesterday, wheel.id): 5})
    downloads.write_batch({(today, wheel.id): 3})

    assert stored_counts() == {(wheel.id, today): 5, (wheel.id, yesterday): 5}


def test_batches_write_everything(project, wheel):
    sdist = add_file(make_release(project, "1.0"), make_sdist())
    today = downloads.today()
    counts = {(today, wheel.id): 1, (today, sdist.id): 2, (today - timedelta(days=3), wheel.id): 4}

    assert downloads.write_batch(counts, batch_size=1) == 7
    assert stored_counts() == {
        (wheel.id, today): 1,
        (sdist.id, today): 2,
        (wheel.id, today - timedelta(days=3)): 4,
    }


def test_counts_of_deleted_files_are_dropped(client, project, wheel):
    sdist = add_file(make_release(project, "1.0"), make_sdist())
    client.get(f"/packages/{wheel.path}")
    client.get(f"/packages/{sdist.path}")
    wheel.delete()

    assert downloads.flush() == 1
    assert stored_counts() == {(sdist.id, downloads.today()): 1}


def test_a_file_deleted_during_the_write_is_retried_without_it(wheel):
    # On PostgreSQL the foreign key is checked at commit: a file deleted after
    # the batch read it fails the whole batch, which is then written again.
    calls = []

    def fail_first_upsert(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith("INSERT"):
            calls.append(params)
            if len(calls) == 1:
                raise IntegrityError("insert or update violates foreign key constraint")
        return result

    with connection.execute_wrapper(fail_first_upsert):
        assert downloads.write_batch({(downloads.today(), wheel.id): 4}) == 4
    assert len(calls) == 2
    assert stored_counts() == {(wheel.id, downloads.today()): 4}  # not 8


def test_zero_counts_write_no_row(wheel):
    assert downloads.write_batch({(downloads.today(), wheel.id): 0}) == 0
    assert not DownloadCount.objects.exists()


# --- The summary, the project page and the JSON API ------------------------------------


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


def test_summary_is_cached_briefly(clock, project, history, django_assert_num_queries):
    downloads.download_summary(project)
    DownloadCount.objects.filter(day=history).update(count=50)

    with django_assert_num_queries(0):
        assert downloads.download_summary(project)["last_day"] == 1
    # Kept no longer than its span of time, whatever the cache's own expiry.
    clock.advance(downloads.SUMMARY_CACHE_SECONDS)
    assert downloads.download_summary(project)["last_day"] == 50


def test_project_page_shows_downloads(client, project, history):
    DownloadCount.objects.filter(day=history - timedelta(days=29)).update(count=1234567)

    page = client.get("/project/sample-project/").content.decode()

    assert '<h2 class="sidebar__title" id="downloads">Downloads</h2>' in page
    assert '<dd data-downloads="last_day">1</dd>' in page
    assert '<dd data-downloads="last_week">111</dd>' in page
    assert '<dd data-downloads="last_month">1,235,678</dd>' in page


def shown_downloads(client) -> tuple[int, int]:
    """Today's downloads in the JSON API (both endpoints) and on the project page."""
    info = json.loads(client.get("/pypi/sample-project/json").content)["info"]
    release = json.loads(client.get("/pypi/sample-project/1.0/json").content)["info"]
    page = client.get("/project/sample-project/").content.decode()
    shown = int(page.split('<dd data-downloads="last_day">')[1].split("<")[0])
    assert info["downloads"]["last_day"] == release["downloads"]["last_day"]
    return info["downloads"]["last_day"], shown


@pytest.mark.parametrize("phase", [0, 5, 9.9])
def test_a_download_shows_within_a_minute_without_cron(
    client, clock, settings, flusher, wheel, phase
):
    # Every process's thread wakes every half interval and the first of an
    # interval flushes; the pages were read (and their numbers cached) just
    # before the download. Worst case: 1.5 intervals + the summary's span.
    interval = settings.DOWNLOAD_COUNTS_FLUSH_SECONDS
    clock.advance(phase)
    assert shown_downloads(client) == (0, 0)
    assert client.get(f"/packages/{wheel.path}").status_code == 200

    waited = 0.0
    while shown_downloads(client) != (1, 1):
        assert waited < 60, "not shown within a minute"
        clock.advance(interval / 2)
        waited += interval / 2
        flusher.tick()
    assert waited <= 1.5 * interval + downloads.SUMMARY_CACHE_SECONDS


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


def test_the_same_log_imported_again_counts_once(tmp_path, log_lines):
    text, expected = log_lines
    plain = tmp_path / "access.log"
    plain.write_text(text)
    packed = tmp_path / "access.log.1.gz"
    packed.write_bytes(gzip.compress(text.encode()))

    assert output("import_download_log", str(plain)) == SUMMARY
    again = output("import_download_log", str(plain))
    # The same lines under another name, compressed: the same log.
    packed_again = output("import_download_log", str(packed), "--batch-size", "1")

    assert stored_counts() == expected
    record = ImportedDownloadLog.objects.get()
    assert (record.name, record.lines, record.downloads) == (str(plain), 26, 6)
    when = record.imported_at.strftime("%Y-%m-%d %H:%M UTC")
    assert again == f"Already imported on {when} as {plain}: nothing counted again."
    assert packed_again == again


def test_another_log_adds_to_the_counts(tmp_path, wheel):
    first, second = tmp_path / "access.log.2", tmp_path / "access.log.1"
    first.write_text(clf(f"/packages/{wheel.path}") + "\n")
    # Alike but for the time: another request, another log.
    second.write_text(clf(f"/packages/{wheel.path}", when="01/May/2025:12:00:01 +0000") + "\n")

    output("import_download_log", str(first))
    output("import_download_log", str(second), "--batch-size", "1")

    assert stored_counts() == {(wheel.id, date(2025, 5, 1)): 2}
    assert ImportedDownloadLog.objects.count() == 2


def test_a_log_imported_while_written_then_again_counts_each_line_once(tmp_path, wheel):
    line = clf(f"/packages/{wheel.path}")
    log = tmp_path / "access.log"
    # Imported while the CDN was writing its third line...
    log.write_text(f"{line}\n{line}\n{line[:40]}")
    assert output("import_download_log", str(log)) == (
        "Read 2 lines: counted 2 downloads, skipped 0 (0 malformed, 0 not downloads, "
        "0 of files not in the index). "
        "The last line is incomplete: it counts when the log is imported again."
    )
    # ...then once complete, and once more after it grew again.
    log.write_text(f"{line}\n{line}\n{line}\n")
    second = output("import_download_log", str(log))
    log.write_text(f"{line}\n{line}\n{line}\n\n{line}\n")
    third = output("import_download_log", str(log))

    assert stored_counts() == {(wheel.id, date(2025, 5, 1)): 4}
    first_import, second_import, _third_import = ImportedDownloadLog.objects.order_by("size")
    when = first_import.imported_at.strftime("%Y-%m-%d %H:%M UTC")
    assert second == (
        f"The first 2 lines were imported on {when} as {log}; counting the lines after them. "
        "Read 1 lines: counted 1 downloads, skipped 0 (0 malformed, 0 not downloads, "
        "0 of files not in the index)."
    )
    assert third.startswith("The first 3 lines were imported on")
    assert third.endswith(
        "Read 1 lines: counted 1 downloads, skipped 0 (0 malformed, "
        "0 not downloads, 0 of files not in the index)."
    )
    assert str(second_import) == f"{log} (3 lines)"


def test_a_log_that_begins_alike_but_differs_counts_whole(tmp_path, wheel):
    line = clf(f"/packages/{wheel.path}")
    other = clf(f"/packages/{wheel.path}", when="02/May/2025:12:00:00 +0000")
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text(f"{line}\n{line}\n")
    second.write_text(f"{line}\n{other}\n{line}\n")

    output("import_download_log", str(first))
    assert output("import_download_log", str(second)).startswith("Read 3 lines: counted 3")

    assert stored_counts() == {(wheel.id, date(2025, 5, 1)): 4, (wheel.id, date(2025, 5, 2)): 1}


def test_a_failed_import_counts_nothing_and_can_be_run_again(tmp_path, log_lines):
    text, expected = log_lines
    log = tmp_path / "access.log"
    log.write_text(text)

    with connection.execute_wrapper(failing_inserts), pytest.raises(DatabaseError):
        call_command("import_download_log", str(log), "--batch-size", "1")
    assert not DownloadCount.objects.exists()
    assert not ImportedDownloadLog.objects.exists()

    assert output("import_download_log", str(log)) == SUMMARY
    assert stored_counts() == expected


def test_a_log_imported_by_another_run_meanwhile_counts_once(tmp_path, wheel):
    log = tmp_path / "access.log"
    log.write_text(clf(f"/packages/{wheel.path}") + "\n")
    other_run = tmp_path / "copy.log"
    other_run.write_text(log.read_text())
    done = []

    def other_run_commits_first(execute, sql, params, many, context):
        # Once this run has read the log and looks its files up, before it writes.
        if '"path" IN' in sql and not done:
            done.append(True)
            output("import_download_log", str(other_run))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(other_run_commits_first):
        message = output("import_download_log", str(log))

    assert message.startswith("Already imported on")
    assert message.endswith(f"as {other_run}: nothing counted again.")
    assert stored_counts() == {(wheel.id, date(2025, 5, 1)): 1}


def test_a_database_error_during_the_import_is_raised(tmp_path, wheel):
    log = tmp_path / "access.log"
    log.write_text(clf(f"/packages/{wheel.path}") + "\n")

    def foreign_key_fails(execute, sql, params, many, context):
        if sql.startswith("INSERT"):
            raise IntegrityError("insert or update violates foreign key constraint")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(foreign_key_fails), pytest.raises(IntegrityError):
        call_command("import_download_log", str(log))
    assert not ImportedDownloadLog.objects.exists()


def test_an_empty_log_records_nothing(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("")

    assert output("import_download_log", str(log)).startswith("Read 0 lines: counted 0")
    assert not ImportedDownloadLog.objects.exists()


def test_import_from_standard_input(monkeypatch, log_lines):
    text, expected = log_lines
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode())))

    assert output("import_download_log", "-") == SUMMARY
    assert stored_counts() == expected
    assert ImportedDownloadLog.objects.get().name == "standard input"


def test_import_of_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_download_log", str(tmp_path / "nope.log"))


def test_import_of_a_broken_gzip_file_is_an_error(tmp_path):
    log = tmp_path / "access.log.gz"
    log.write_bytes(gzip.compress(b"x" * 1000)[:-20])

    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_download_log", str(log))


def test_combined_log_line_without_size_or_agents(wheel):
    # The common log format: no referer, no user agent, "-" for the size.
    line = f'::1 - alice [02/Jan/2025:00:00:00 +0100] "GET /packages/{wheel.path} HTTP/2" 200 -'

    hit = parse_line(line)

    assert (hit.day, hit.path) == (date(2025, 1, 1), wheel.path)


# --- Logs that overlap one imported before ----------------------------------------------


def distinct_lines(wheel, count: int) -> list[str]:
    """Downloads of ``wheel``, one a second from midnight on May 1, 2025."""
    start = datetime(2025, 5, 1, tzinfo=UTC)
    path = f"/packages/{wheel.path}"
    return [
        clf(path, when=(start + timedelta(seconds=n)).strftime("%d/%b/%Y:%H:%M:%S +0000"))
        for n in range(count)
    ]


def write_log(tmp_path, name: str, lines: list[str]) -> str:
    log = tmp_path / name
    log.write_text("".join(f"{line}\n" for line in lines))
    return str(log)


def refusal(log: ImportedDownloadLog) -> str:
    when = log.imported_at.strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Refused: this log shares lines with {log.name}, imported on {when}; counting it "
        "would count those downloads twice, so nothing of it was counted. Import only the "
        "lines that log does not hold (a longer copy of a log imported before is fine: only "
        "its new lines count)."
    )


def test_an_export_overlapping_one_imported_before_is_refused(tmp_path, wheel):
    lines = distinct_lines(wheel, 2000)
    first = write_log(tmp_path, "00-12.log", lines[:1000])
    # The next export's time range begins before the first one's ended.
    second = write_log(tmp_path, "11-24.log", lines[800:])
    output("import_download_log", first)

    with pytest.raises(CommandError) as refused:
        call_command("import_download_log", second)

    assert str(refused.value) == refusal(ImportedDownloadLog.objects.get())
    assert stored_counts() == {(wheel.id, date(2025, 5, 1)): 1000}
    # Refused, not recorded: once trimmed to its new lines it imports.
    trimmed = write_log(tmp_path, "12-24.log", lines[1000:])
    assert output("import_download_log", trimmed).startswith("Read 1000 lines: counted 1000")
    assert stored_counts() == {(wheel.id, date(2025, 5, 1)): 2000}


@pytest.mark.parametrize(
    "part",
    [
        pytest.param(slice(300, 600), id="a part of the imported log"),
        pytest.param(slice(0, OVERLAP_LINES), id="its first lines"),
        pytest.param(slice(1000 - OVERLAP_LINES, 1000), id="its last lines"),
        pytest.param(slice(517, 517 + OVERLAP_LINES), id="any run of the overlap length"),
    ],
)
def test_a_log_holding_lines_of_one_imported_before_is_refused(tmp_path, wheel, part):
    lines = distinct_lines(wheel, 3000)
    output("import_download_log", write_log(tmp_path, "first.log", lines[:1000]))
    # Copied between lines of its own, which the first log does not hold.
    mixed = lines[2000:2100] + lines[part] + lines[2100:2200]

    with pytest.raises(CommandError, match=r"^Refused: this log shares lines with "):
        call_command("import_download_log", write_log(tmp_path, "mixed.log", mixed))

    assert stored_counts() == {(wheel.id, date(2025, 5, 1)): 1000}
    assert ImportedDownloadLog.objects.count() == 1


def test_logs_that_share_no_lines_are_both_counted(tmp_path, wheel):
    lines = distinct_lines(wheel, 2000)
    output("import_download_log", write_log(tmp_path, "00-12.log", lines[:1000]))
    output("import_download_log", write_log(tmp_path, "12-24.log", lines[1000:]))

    assert stored_counts() == {(wheel.id, date(2025, 5, 1)): 2000}
    assert ImportedDownloadLog.objects.count() == 2


def test_a_longer_copy_is_counted_and_then_guards_its_new_lines(tmp_path, wheel):
    lines = distinct_lines(wheel, 2000)
    log = write_log(tmp_path, "access.log", lines[:500])
    output("import_download_log", log)
    write_log(tmp_path, "access.log", lines[:1000])
    assert output("import_download_log", log).startswith("The first 500 lines were imported")
    longer = ImportedDownloadLog.objects.get(lines=1000)

    # Lines that only the longer copy brought.
    with pytest.raises(CommandError) as refused:
        call_command("import_download_log", write_log(tmp_path, "part.log", lines[700:1200]))

    assert str(refused.value) == refusal(longer)
    assert stored_counts() == {(wheel.id, date(2025, 5, 1)): 1000}


def test_a_log_keeps_few_fingerprints(tmp_path, wheel):
    lines = distinct_lines(wheel, 1000)
    output("import_download_log", write_log(tmp_path, "access.log", lines))

    log = ImportedDownloadLog.objects.get()
    runs = len(lines) - RUN_LINES + 1
    # Winnowing keeps about two of every WINDOW_RUNS + 1 runs.
    assert 0 < log.fingerprints.count() <= 4 * runs // (WINDOW_RUNS + 1)
    fingerprint = log.fingerprints.first()
    assert str(fingerprint) == f"{log}: {fingerprint.value}"


def test_a_log_shorter_than_the_overlap_keeps_no_fingerprint(tmp_path, wheel):
    lines = distinct_lines(wheel, OVERLAP_LINES - 1)
    output("import_download_log", write_log(tmp_path, "short.log", lines))

    assert not DownloadLogFingerprint.objects.exists()
