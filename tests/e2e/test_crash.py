"""Nothing is left behind when a worker dies mid-upload: uploads to a live
gunicorn whose worker is killed (SIGKILL) at random moments, then
``manage.py fsck --repair`` and a clean ``manage.py fsck``.

A server of its own (one worker, so the kill hits the one serving the upload),
on SQLite and, with DATABASE_URL, on a throwaway PostgreSQL database.
"""

import http.client
import os
import secrets
import signal
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.factories import make_wheel
from tests.liveserver import (
    MANAGE,
    REPO,
    gunicorn_server,
    manage,
    post_upload,
    run,
    server_env,
    superuser_with_token,
    throwaway_postgresql_database,
)

from .conftest import _DATABASE_URL, BACKENDS

pytestmark = pytest.mark.e2e

UPLOADS = 20
BLOB = 8 * 1024 * 1024  # random, so the wheel stays this big: the upload takes a while


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def wait_for_a_new_worker(master: int, killed: set[int], deadline: float) -> None:
    while time.monotonic() < deadline:
        if set(worker_pids(master)) - killed:
            return
        time.sleep(0.05)
    pytest.fail("gunicorn did not start a new worker after the kill")


def stored_path(dist) -> str:
    """Where the store puts ``dist`` (packages.storage.file_path's layout)."""
    digest = dist.blake2_256
    return f"{digest[:2]}/{digest[2:4]}/{digest[4:]}/{dist.filename}"


def wait_until_stored(path: Path, sender: threading.Thread) -> None:
    # Polled, not slept: the commit after the store takes milliseconds.
    while not path.exists() and sender.is_alive():
        time.sleep(0.0005)


def fsck(env: dict[str, str], *args: str) -> tuple[int, str]:
    """(exit status, output) of ``manage.py fsck <args>`` against the server's state."""
    result = run([sys.executable, MANAGE, "fsck", *args], env=env, cwd=REPO)
    return result.returncode, (result.stdout + result.stderr).strip()


def upload(url: str, token: str, dist) -> str:
    try:
        response = post_upload(url, ("__token__", token), dist.form(), dist.filename, dist.content)
    except (OSError, http.client.HTTPException) as error:
        return f"killed: {type(error).__name__}"
    return f"{response.status}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_uploads_killed_mid_request_leave_nothing_after_fsck_repair(backend, tmp_path, capsys):
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    with ExitStack() as stack:
        database_url = None
        if backend == "postgresql":
            database_url, _name = stack.enter_context(
                throwaway_postgresql_database(_DATABASE_URL, f"crash_{secrets.token_hex(4)}")
            )
        env = server_env(
            var_dir,
            database_url,
            UPLOAD_MAX_BYTES=str(4 * BLOB),
            CACHE_KEY_PREFIX=f"crash-{secrets.token_hex(4)}",
        )
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        token = superuser_with_token(env, "crash-admin", secrets.token_urlsafe(16))
        server = stack.enter_context(gunicorn_server(env, var_dir, workers=1, threads=2))
        url = f"{server.url}/legacy/"
        master = server.process.pid

        # How long one upload takes here, so the kills fall inside uploads.
        first = make_wheel("crash-demo", "0.1", files={"crash_demo/blob.bin": os.urandom(BLOB)})
        started = time.monotonic()
        assert upload(url, token, first) == "200"
        duration = time.monotonic() - started

        moments = secrets.SystemRandom()
        outcomes = []
        for number in range(UPLOADS):
            dist = make_wheel(
                "crash-demo", f"1.{number}", files={"crash_demo/blob.bin": os.urandom(BLOB)}
            )
            answers: list[str] = []
            sender = threading.Thread(
                target=lambda d=dist, a=answers: a.append(upload(url, token, d))
            )
            sender.start()
            if number % 2:
                # The worst moment: the file is stored, its rows not yet committed.
                wait_until_stored(var_dir / "files" / stored_path(dist), sender)
            else:
                # Anywhere in the upload, mostly while its body arrives.
                time.sleep(moments.uniform(0, 1.2) * duration)
            killed = set(worker_pids(master))
            for pid in killed:
                os.kill(pid, signal.SIGKILL)
            sender.join(timeout=120)
            outcomes.append(answers[0] if answers else "no answer")
            wait_for_a_new_worker(master, killed, time.monotonic() + 30)

        before = fsck(env)
        repaired = fsck(env, "--repair", "--grace-seconds", "0")
        after = fsck(env)
        leftovers = sorted(os.listdir(var_dir / "tmp"))

    with capsys.disabled():
        print(f"\n--- crash test on {backend}: {UPLOADS} uploads of {BLOB >> 20} MiB")
        print(f"one upload took {duration:.2f} s; outcomes: {outcomes}")
        for label, (status, output) in (
            ("fsck", before),
            ("fsck --repair --grace-seconds 0", repaired),
            ("fsck", after),
        ):
            print(f"$ manage.py {label}  (exit {status})\n{output}")
    # Killed between store and commit: bytes without rows, until the repair.
    assert "orphan object:" in before[1], before
    assert after == (0, "No inconsistencies."), after
    assert repaired[0] == 0, repaired
    # Uploads receive into nameless files: not even before the repair was
    # there a temp file to remove.
    assert "stray temp file:" not in before[1]
    assert leftovers == []
