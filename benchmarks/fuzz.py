#!/usr/bin/env python
"""Fuzz a live index: a bounded number of hostile requests to the URL space
and the XML-RPC endpoint of a real server, counted by status class.

    DATABASE_URL=postgresql://user:pass@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/fuzz.py [--requests 20000] [--concurrency 8]

Starts gunicorn (DEBUG off, as deployed) on a free port of 127.0.0.1, on a
throwaway PostgreSQL database next to the one DATABASE_URL names (SQLite in a
temporary directory without it; REDIS_URL is passed on when set), uploads one
project through the real upload endpoint, signs one browser in, then sends the
requests from a thread pool over keep-alive connections and prints how many were
sent and what came back: by status class, by status, connection errors, and the
tracebacks the server logged. The exit status is 1 if any answer was a 5xx, any
connection failed or the server logged an error.

The requests are drawn by the same Hypothesis strategies as the bounded fuzz
tests of the suite (tests/pypi_site/test_urls_fuzz.py, three in four requests,
and tests/packages/test_xmlrpc_fuzz.py), from a fixed seed: a run is repeatable.
Every request goes to 127.0.0.1 only, and every process started here is stopped
by its PID before the script exits.
"""

from __future__ import annotations

import argparse
import http.client
import http.cookies
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlencode, urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.factories import make_wheel  # noqa: E402
from tests.liveserver import (  # noqa: E402
    LiveServerError,
    gunicorn_server,
    is_postgresql,
    manage,
    post_upload,
    server_env,
    superuser_with_token,
    throwaway_postgresql_database,
)

PROJECT = "fuzzed-project"
USERNAME = "fuzz-owner"


def log(message: str) -> None:
    print(f"[fuzz] {message}", file=sys.stderr, flush=True)


# --- The requests --------------------------------------------------------------------


def draw_requests(count: int, seed: int, stored: dict) -> list[tuple[str, str, bytes, dict]]:
    """(method, target, body, headers) of ``count`` requests, from the suite's
    strategies. Django is set up in this process only to read the URL map."""
    import django

    django.setup()
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as fixed_seed
    from hypothesis import strategies as st

    from tests.packages import test_xmlrpc_fuzz as rpc_fuzz
    from tests.pypi_site import test_urls_fuzz as url_fuzz

    drawn: list[tuple[str, str, bytes, dict]] = []
    rpc_bodies = st.one_of(
        rpc_fuzz.typed_calls(), rpc_fuzz.typed_calls(), rpc_fuzz.CALLS, rpc_fuzz.GARBAGE
    )

    @fixed_seed(seed)
    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def collect(data):
        if len(drawn) >= count:
            return
        if data.draw(st.integers(0, 3)):
            method, path, query, accept, form = data.draw(url_fuzz.requests(stored))
            headers = {"Accept": accept} if accept is not None else {}
            if form:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            if data.draw(st.booleans()):
                headers["Cookie"] = "signed-in"  # replaced by the session's cookies
            target = f"{path}?{query}" if query else path
            drawn.append((method, target, form.encode(), headers))
        else:
            body = data.draw(rpc_bodies)
            drawn.append(("POST", "/pypi", body, {"Content-Type": "text/xml"}))

    # Hypothesis may stop a little short of max_examples when it has seen all
    # it wants; drawing again with the next seed tops the list up.
    while len(drawn) < count:
        before = len(drawn)
        collect()
        if len(drawn) == before:
            break
        seed += 1
        collect = fixed_seed(seed)(collect)
    return drawn[:count]


# --- The server ------------------------------------------------------------------------


def sign_in(url: str, username: str, password: str) -> str:
    """The Cookie header of a browser signed in through the login form."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    cookies = http.cookies.SimpleCookie()
    connection.request("GET", "/account/login/")
    page = connection.getresponse()
    html = page.read().decode()
    for header in page.headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]
    body = urlencode({"csrfmiddlewaretoken": token, "username": username, "password": password})
    jar = "; ".join(f"{key}={morsel.value}" for key, morsel in cookies.items())
    connection.request(
        "POST",
        "/account/login/",
        body,
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": jar, "Referer": url},
    )
    answer = connection.getresponse()
    answer.read()
    for header in answer.headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    connection.close()
    if "sessionid" not in cookies:
        raise LiveServerError(f"signing in as {username} failed: {answer.status}")
    return "; ".join(f"{key}={morsel.value}" for key, morsel in cookies.items())


# --- Firing --------------------------------------------------------------------------


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.errors: Counter = Counter()
        self.server_errors: list[str] = []

    def answer(self, status: int, method: str, target: str) -> None:
        with self.lock:
            self.statuses[status] += 1
            if status >= 500 and len(self.server_errors) < 20:
                self.server_errors.append(f"{status} {method} {target[:200]}")

    def error(self, error: Exception, method: str, target: str) -> None:
        with self.lock:
            self.errors[type(error).__name__] += 1
            if len(self.server_errors) < 20:
                self.server_errors.append(f"{error!r} {method} {target[:200]}")


def fire(url: str, requests: list, concurrency: int, cookie: str) -> tuple[Tally, float]:
    parts = urlsplit(url)
    local = threading.local()
    tally = Tally()

    def connection() -> http.client.HTTPConnection:
        if getattr(local, "connection", None) is None:
            local.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        return local.connection

    def send(request) -> None:
        method, target, body, headers = request
        if headers.get("Cookie"):
            headers = {**headers, "Cookie": cookie}
        try:
            conn = connection()
            conn.request(method, target, body=body or None, headers=headers)
            response = conn.getresponse()
            response.read()
            tally.answer(response.status, method, target)
            if response.will_close:
                conn.close()
                local.connection = None
        except (OSError, http.client.HTTPException) as error:
            tally.error(error, method, target)
            local.connection.close()
            local.connection = None

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(send, requests))
    return tally, time.monotonic() - started


# --- Main ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=20_261_204)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    workdir = Path(tempfile.mkdtemp(prefix="pypi-fuzz-"))
    backend = "postgresql" if is_postgresql(database_url) else "sqlite"
    with ExitStack() as stack:
        server_database = None
        if backend == "postgresql":
            server_database, name = stack.enter_context(
                throwaway_postgresql_database(database_url, f"fuzz_{secrets.token_hex(4)}")
            )
            log(f"throwaway database {name}")
        env = server_env(
            workdir / "var", server_database, CACHE_KEY_PREFIX=f"fuzz-{secrets.token_hex(4)}"
        )
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        manage(env, "collectstatic", "--noinput", "--verbosity", "0")
        password = secrets.token_urlsafe(16)
        token = superuser_with_token(env, USERNAME, password)
        server = stack.enter_context(
            gunicorn_server(env, workdir, workers=args.workers, threads=args.threads)
        )
        log(f"{backend} server at {server.url} (log: {server.log_path})")

        dist = make_wheel(PROJECT, "1.0")
        uploaded = post_upload(
            server.url + "/legacy/", ("__token__", token), dist.form(), dist.filename, dist.content
        )
        if uploaded.status != 200:
            raise LiveServerError(f"the upload failed: {uploaded.describe()}")
        cookie = sign_in(server.url, USERNAME, password)

        # This process reads the URL map with the server's settings.
        os.environ.update({**env, "DJANGO_SETTINGS_MODULE": "pypi_site.settings"})
        digest = dist.blake2_256
        stored = {
            "stored_path": f"{digest[:2]}/{digest[2:4]}/{digest[4:]}/{dist.filename}",
            "filename": [dist.filename],
            "name": [PROJECT, "Fuzzed_Project", "p"],
            "username": [USERNAME, "nobody"],
        }
        log(f"drawing {args.requests} requests (seed {args.seed})")
        requests = draw_requests(args.requests, args.seed, stored)
        log(f"sending them, {args.concurrency} at a time")
        tally, seconds = fire(server.url, requests, args.concurrency, cookie)
        logged = server.log_path.read_text(errors="replace")

    if args.keep:
        log(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    classes = Counter()
    for status, count in tally.statuses.items():
        classes[f"{status // 100}xx"] += count
    tracebacks = logged.count("Traceback (most recent call last)")
    figures = {
        "backend": backend,
        "requests_sent": len(requests),
        "answered": sum(tally.statuses.values()),
        "by_class": dict(sorted(classes.items())),
        "by_status": {str(k): v for k, v in sorted(tally.statuses.items())},
        "connection_errors": dict(tally.errors),
        "server_tracebacks": tracebacks,
        "seconds": round(seconds, 1),
        "xmlrpc_calls": sum(1 for request in requests if request[1] == "/pypi"),
    }
    print(json.dumps(figures, indent=2))
    for line in tally.server_errors:
        print("  ", line)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    failed = classes.get("5xx", 0) or tally.errors or tracebacks
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
