"""The edge purge queue (packages.purges) and the worker that drains it, against
edges standing in over real HTTP on loopback: a Varnish-like server taking
``PURGE`` with ``xkey-purge``, and tests/fastly_standin.py for Fastly's API."""

import os
import signal
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.events import Actor
from moderation.services import project_quarantine, project_unquarantine
from packages import purges
from packages.downloads import count_download
from packages.models import EdgePurge
from packages.services import file_delete, release_delete, release_unyank, release_yank
from tests.conftest import verified_user
from tests.factories import add_file, make_release, make_wheel
from tests.fastly_standin import FastlyStandIn
from tests.polling import wait_until

SAMPLE_KEYS = [
    "simple-index",
    "simple-sample-project",
    "json-sample-project",
    "project-sample-project",
    "rss",
    "rss-sample-project",
]


class VarnishStandIn:
    """Takes ``PURGE /`` as edge/default.vcl does, answering 200 (or ``status``),
    and records the keys of each request."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.purges: list[list[str]] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_PURGE(self):
                standin.purges.append(self.headers.get("xkey-purge", "").split())
                body = b"purged" if standin.status == 200 else b"not allowed"
                self.send_response(standin.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll: shutdown() waits for it, after every test.
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def keys(self) -> list[str]:
        return [key for purge in self.purges for key in purge]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _no_echo(settings):
    """One row per change, unless a test asks for the repeated purge."""
    settings.EDGE_PURGE_ECHO_SECONDS = 0


@pytest.fixture
def varnish(settings):
    edge = VarnishStandIn()
    settings.EDGE_PURGE_URLS = [edge.url]
    yield edge
    edge.close()


@pytest.fixture
def fastly(settings):
    with FastlyStandIn(token="tok-123", service_id="SU1Z0isxPaozGVKXdv0eY") as standin:
        settings.FASTLY_API_URL = standin.url
        settings.FASTLY_API_TOKEN = "tok-123"
        settings.FASTLY_SERVICE_ID = "SU1Z0isxPaozGVKXdv0eY"
        yield standin


def refused_url() -> str:
    """An address where nothing listens: the edge is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def make_due():
    EdgePurge.objects.update(due_at=timezone.now() - timedelta(seconds=1))


# --- Keys and enqueueing -------------------------------------------------------------


def test_project_keys_name_the_project_pages_and_with_files_its_files():
    assert purges.project_keys("demo") == [
        "simple-index",
        "simple-demo",
        "json-demo",
        "project-demo",
        "rss",
        "rss-demo",
    ]
    assert purges.project_keys("demo", files=True)[-1] == "files-demo"


def test_nothing_is_queued_without_an_edge(project, owner):
    release_yank(release=make_release(project, after_commit=False), actor=Actor(owner))
    assert not EdgePurge.objects.exists()


def test_a_yank_queues_its_keys_in_its_transaction(project, owner, varnish):
    release = make_release(project, after_commit=False)
    with transaction.atomic():
        release_yank(release=release, actor=Actor(owner))
        # Written with the change: visible inside its transaction already.
        assert [row.keys.split() for row in EdgePurge.objects.all()] == [SAMPLE_KEYS]


def test_a_rolled_back_change_queues_nothing(project, owner, varnish):
    release = make_release(project, after_commit=False)
    with pytest.raises(RuntimeError), transaction.atomic():
        release_yank(release=release, actor=Actor(owner))
        raise RuntimeError("the change fails after the yank")
    assert not EdgePurge.objects.exists()


def test_after_the_commit_the_edge_is_purged_and_the_row_is_gone(
    project, owner, varnish, django_capture_on_commit_callbacks
):
    release = make_release(project, after_commit=False)
    with django_capture_on_commit_callbacks(execute=True):
        release_yank(release=release, actor=Actor(owner))
    assert varnish.purges == [SAMPLE_KEYS]
    assert not EdgePurge.objects.exists()


@pytest.mark.parametrize("change", ["delete release", "delete file", "quarantine", "release"])
def test_changes_to_files_purge_the_files_too(project, owner, moderator, varnish, change):
    release = make_release(project, after_commit=False)
    file = add_file(release, make_wheel("sample-project", "1.0"))
    if change == "delete release":
        release_delete(release=release, actor=Actor(owner))
    elif change == "delete file":
        file_delete(file=file, actor=Actor(owner))
    elif change == "quarantine":
        project_quarantine(project=project, actor=Actor(user=moderator), reason="malware")
    else:
        project.quarantined_at = timezone.now()
        project.save()
        project_unquarantine(project=project, actor=Actor(user=moderator), reason="cleared")
    assert EdgePurge.objects.get().keys.split() == [*SAMPLE_KEYS, "files-sample-project"]


def test_an_unyank_purges_the_pages_but_not_the_files(project, owner, varnish):
    release = make_release(project, yanked=True)
    release_unyank(release=release, actor=Actor(owner))
    assert EdgePurge.objects.get().keys.split() == SAMPLE_KEYS


# --- Failures, retries, coalescing -----------------------------------------------------


def test_an_edge_that_is_down_leaves_the_row_with_its_error_and_a_retry_time(
    project, owner, settings, django_capture_on_commit_callbacks
):
    settings.EDGE_PURGE_URLS = [refused_url()]
    with django_capture_on_commit_callbacks(execute=True):
        release_yank(release=make_release(project, after_commit=False), actor=Actor(owner))
    row = EdgePurge.objects.get()
    assert row.attempts == 1
    assert "Connection refused" in row.last_error
    assert row.claim == ""
    wait = row.due_at - timezone.now()
    assert timedelta(seconds=3) < wait <= timedelta(seconds=5)


def test_the_worker_retries_once_due_until_the_edge_takes_it(project, owner, settings):
    settings.EDGE_PURGE_URLS = [refused_url()]
    release_yank(release=make_release(project, after_commit=False), actor=Actor(owner))
    # The first attempt is the committing process's; the worker waits for it.
    assert purges.work_all_due() == 0
    make_due()
    assert purges.work_all_due() == 0
    row = EdgePurge.objects.get()
    assert (row.attempts, row.last_error != "") == (1, True)
    assert purges.work_all_due() == 0  # not due again before its delay
    make_due()
    purges.work_all_due()
    assert EdgePurge.objects.get().attempts == 2
    edge = VarnishStandIn()
    try:
        settings.EDGE_PURGE_URLS = [edge.url]
        make_due()
        assert purges.work_all_due() == 1
    finally:
        edge.close()
    assert edge.purges == [SAMPLE_KEYS]
    assert not EdgePurge.objects.exists()


def test_retries_wait_longer_each_time_up_to_ten_minutes():
    delays = [purges.retry_delay(attempt).total_seconds() for attempt in (1, 2, 3, 8, 30)]
    assert delays == [5, 10, 20, 600, 600]


def test_an_edge_answering_an_error_is_a_failure_with_its_answer(project, owner, settings):
    edge = VarnishStandIn(status=405)
    settings.EDGE_PURGE_URLS = [edge.url]
    try:
        release_yank(release=make_release(project, after_commit=False), actor=Actor(owner))
        make_due()
        assert purges.work_all_due() == 0
    finally:
        edge.close()
    assert EdgePurge.objects.get().last_error == (
        f"PURGE {edge.url}/: 405 Method Not Allowed: not allowed"
    )


def test_a_malformed_edge_url_is_a_recorded_failure(project, owner, settings):
    settings.EDGE_PURGE_URLS = ["http://127.0.0.1:notaport"]
    release_yank(release=make_release(project, after_commit=False), actor=Actor(owner))
    make_due()
    purges.work_all_due()
    assert "nonnumeric port" in EdgePurge.objects.get().last_error


def test_due_rows_are_coalesced_into_one_request_per_edge(project, owner, varnish):
    other = project.__class__.objects.create(name="other", normalized_name="other")
    release_yank(release=make_release(project, after_commit=False), actor=Actor(owner))
    release_unyank(release=make_release(project, after_commit=False), actor=Actor(owner))
    release_yank(release=make_release(other, after_commit=False), actor=Actor(owner))
    make_due()
    assert purges.work_all_due() == 3
    assert len(varnish.purges) == 1
    assert varnish.purges[0] == [
        *SAMPLE_KEYS,
        "simple-other",
        "json-other",
        "project-other",
        "rss-other",
    ]
    assert not EdgePurge.objects.exists()


def test_many_keys_go_in_requests_of_at_most_each_edges_limit(varnish, fastly):
    keys = [f"k{i}" for i in range(300)]
    purges.purge_everywhere(keys)
    assert [len(purge) for purge in varnish.purges] == [100, 100, 100]
    assert [len(purge.keys) for purge in fastly.purges] == [256, 44]
    assert varnish.keys() == keys


def test_a_failing_edge_fails_the_purge_but_the_others_still_get_it(settings, varnish):
    down = refused_url()
    settings.EDGE_PURGE_URLS = [down, varnish.url]
    with pytest.raises(purges.PurgeError, match=f"PURGE {down}/: .*refused"):
        purges.purge_everywhere(["k"])
    assert varnish.purges == [["k"]]


# --- Fastly ----------------------------------------------------------------------------


def test_fastly_gets_a_soft_batch_purge_with_the_token(
    project, owner, fastly, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        release_yank(release=make_release(project, after_commit=False), actor=Actor(owner))
    [purge] = fastly.purges
    assert (purge.service_id, list(purge.keys), purge.soft) == (
        "SU1Z0isxPaozGVKXdv0eY",
        SAMPLE_KEYS,
        True,
    )
    assert not EdgePurge.objects.exists()


def test_fastly_hard_purge_when_soft_purge_is_off(settings, fastly):
    settings.FASTLY_SOFT_PURGE = False
    purges.purge_everywhere(["k"])
    assert fastly.purges[0].soft is False


def test_a_refused_fastly_token_is_recorded_and_retried_until_it_is_fixed(
    project, owner, settings, request, django_capture_on_commit_callbacks
):
    # Uploaded and rendered before there is an edge: the worker below has only
    # the yank's purge to retry.
    release = make_release(project)
    fastly = request.getfixturevalue("fastly")
    settings.FASTLY_API_TOKEN = "revoked"
    with django_capture_on_commit_callbacks(execute=True):
        release_yank(release=release, actor=Actor(owner))
    row = EdgePurge.objects.get()
    assert row.attempts == 1
    assert row.last_error == (
        f"POST {fastly.url}/service/SU1Z0isxPaozGVKXdv0eY/purge: 401 Unauthorized: "
        '{"msg": "Provided credentials are missing or invalid"}'
    )
    assert "revoked" not in row.last_error
    assert fastly.purges == []
    settings.FASTLY_API_TOKEN = "tok-123"
    make_due()
    call_command("worker", "--once", stdout=StringIO())
    assert [list(purge.keys) for purge in fastly.purges] == [SAMPLE_KEYS]
    assert not EdgePurge.objects.exists()


def test_fastly_is_not_a_target_without_a_service(settings):
    settings.FASTLY_API_TOKEN = "tok"
    settings.FASTLY_SERVICE_ID = ""
    settings.EDGE_PURGE_URLS = []
    assert purges.targets() == []


# --- Claims -----------------------------------------------------------------------------


def test_the_first_attempt_leaves_a_row_the_worker_took(project, owner, varnish):
    release_yank(release=make_release(project, after_commit=False), actor=Actor(owner))
    row = EdgePurge.objects.get()
    make_due()
    token, claimed = purges._claim(purges.Q(due_at__lte=timezone.now()), 10)
    assert [r.pk for r in claimed] == [row.pk]
    # The committing process comes late: the row is the worker's now.
    assert purges.attempt([row.pk]) == 0
    assert varnish.purges == []
    assert purges._work(token, claimed) == 1
    assert varnish.purges == [SAMPLE_KEYS]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED is PostgreSQL's")
def test_a_worker_skips_rows_another_worker_holds(varnish):
    held = EdgePurge.objects.create(keys="held")
    EdgePurge.objects.create(keys="free")
    make_due()
    locked, done = threading.Event(), threading.Event()

    def other_worker():
        with transaction.atomic():
            list(EdgePurge.objects.select_for_update().filter(pk=held.pk))
            locked.set()
            done.wait(10)
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        assert purges.work_all_due() == 1
        assert time.monotonic() - started < 2  # passed it by, did not wait
    finally:
        done.set()
        thread.join()
    assert varnish.purges == [["free"]]
    assert list(EdgePurge.objects.values_list("keys", flat=True)) == ["held"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
def test_workers_at_once_purge_each_row_once(varnish, monkeypatch):
    EdgePurge.objects.bulk_create(EdgePurge(keys=f"k{i}") for i in range(60))
    make_due()
    # Small claims, so that the four workers take turns.
    monkeypatch.setattr(purges, "BATCH_SIZE", 5)
    barrier = threading.Barrier(4)

    def worker():
        barrier.wait()
        purges.work_all_due()
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Each key once: no row was purged by two workers.
    assert sorted(varnish.keys()) == sorted(f"k{i}" for i in range(60))
    assert not EdgePurge.objects.exists()


# --- The serving process's thread ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_serving_process_purges_in_a_thread_of_its_own(varnish):
    purger = purges.Purger()
    purger.serve()
    purger.stop()  # nothing started yet: nothing to stop
    # Committed rows whose first attempt is due, as a request leaves them.
    rows = [EdgePurge.objects.create(keys=f"k{i}") for i in range(3)]
    try:
        for row in rows:
            purger.submit(row.pk)
        # Watched at the edge, not in the table: on SQLite's shared in-memory
        # test database a read beside the thread's delete is "table is locked".
        wait_until(lambda: len(varnish.keys()) == 3)
    finally:
        purger.stop()  # joins the thread, which deletes the rows it purged first
    assert sorted(varnish.keys()) == ["k0", "k1", "k2"]
    assert not EdgePurge.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_idle_serving_process_retries_what_is_due(varnish, caplog):
    purger = purges.Purger(idle_seconds=0.05)
    purger.serve()
    # A purge that failed before, due again.
    EdgePurge.objects.create(keys="retried", attempts=1, due_at=timezone.now())
    try:
        purger.submit(0)  # no such row: starts the thread, purges nothing
        wait_until(lambda: varnish.purges)
    finally:
        purger.stop()
    assert varnish.purges == [["retried"]]
    assert not EdgePurge.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_purge_of_an_autocommitted_change_follows_it_at_once(varnish):
    # Outside a transaction on_commit runs at once: no serving thread here.
    row = purges.enqueue(["now"])
    assert varnish.purges == [["now"]]
    assert not EdgePurge.objects.filter(pk=row.pk).exists()


def test_a_failing_first_attempt_never_reaches_the_committed_change(varnish, caplog):
    purges.Purger().submit("not a row")
    assert "Could not purge the edges now" in caplog.text


# --- The worker command ----------------------------------------------------------------


def run_worker_for(seconds: float) -> str:
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    out = StringIO()
    try:
        call_command("worker", stdout=out)
    finally:
        timer.cancel()
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_until_sigterm_purging_and_flushing(varnish, settings):
    settings.DOWNLOAD_COUNTS_FLUSH_SECONDS = 20
    previous = signal.getsignal(signal.SIGTERM)
    settings.EDGE_PURGE_URLS = [refused_url()]
    purges.enqueue(["late"])  # first attempt fails: the edge is down
    settings.EDGE_PURGE_URLS = [varnish.url]
    make_due()
    assert run_worker_for(1.5) == "Worker started.\nWorker stopped.\n"
    assert varnish.purges == [["late"]]
    assert signal.getsignal(signal.SIGTERM) is previous


@pytest.mark.django_db(transaction=True)
def test_the_worker_outlives_a_cache_that_is_down(varnish, caplog):
    broken = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    with override_settings(CACHES={"default": broken}, DOWNLOAD_COUNTS_FLUSH_SECONDS=2):
        assert run_worker_for(1.2).endswith("Worker stopped.\n")
    assert "The worker could not work its queue" in caplog.text


def test_worker_once_works_what_is_due_and_flushes(project, owner, varnish, settings):
    settings.DOWNLOAD_COUNTS_FLUSH_SECONDS = 0  # counts left to cron: --once flushes
    file = add_file(make_release(project, after_commit=False), make_wheel("sample-project", "1.0"))
    count_download(file.pk)
    release_yank(release=make_release(project, after_commit=False), actor=Actor(owner))
    make_due()
    out = StringIO()
    call_command("worker", "--once", stdout=out)
    assert out.getvalue() == "Purged 1 queued changes.\n"
    assert file.download_counts.get().count == 1


def test_rendering_descriptions_again_purges_the_project_pages(project, varnish):
    make_release(project, "1.0", description="# Title", description_content_type="text/markdown")
    make_release(project, "2.0", description="Text", description_content_type="text/plain")
    call_command("render_descriptions", "--all", stdout=StringIO())
    assert EdgePurge.objects.get().keys == "project-sample-project"


def test_the_admin_lists_the_purges_still_waiting_for_superusers_only(client, moderator):
    EdgePurge.objects.create(keys="simple-demo json-demo", attempts=3, last_error="refused")
    url = reverse("admin:packages_edgepurge_changelist")
    client.force_login(moderator)
    assert client.get(url).status_code == 403
    admin = verified_user("ada", staff=True, two_factor=True)
    admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    response = client.get(url)
    assert response.status_code == 200
    assert b"simple-demo json-demo" in response.content
    assert b"refused" in response.content
    # Read-only: nothing to add.
    assert reverse("admin:packages_edgepurge_add").encode() not in response.content


def test_the_worker_purges_a_change_again_a_little_later(
    project, owner, varnish, settings, django_capture_on_commit_callbacks
):
    settings.EDGE_PURGE_ECHO_SECONDS = 3
    with django_capture_on_commit_callbacks(execute=True):
        release_yank(release=make_release(project, after_commit=False), actor=Actor(owner))
    assert varnish.purges == [SAMPLE_KEYS]
    echo = EdgePurge.objects.get()
    assert (echo.keys.split(), echo.attempts) == (SAMPLE_KEYS, 0)
    assert timedelta(seconds=2) < echo.due_at - timezone.now() <= timedelta(seconds=3)
    assert purges.work_all_due() == 0  # not before its time
    make_due()
    assert purges.work_all_due() == 1
    assert varnish.purges == [SAMPLE_KEYS, SAMPLE_KEYS]
    assert not EdgePurge.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_serving_process_purges_the_echo_when_it_is_due_not_once_idle(varnish, settings):
    settings.EDGE_PURGE_ECHO_SECONDS = 1
    # Autocommitted: the first purge goes at once; the echo waits in the table.
    purges.enqueue(["changed"])
    assert varnish.purges == [["changed"]]
    echo = EdgePurge.objects.get()
    purger = purges.Purger(idle_seconds=60)
    purger.serve()
    try:
        purger.submit(0)  # as after a commit: starts the thread, which owes an echo
        assert wait_until(lambda: len(varnish.purges) == 2, seconds=5)
    finally:
        purger.stop()
    assert varnish.purges == [["changed"], ["changed"]]
    assert timezone.now() >= echo.due_at
    assert not EdgePurge.objects.exists()
