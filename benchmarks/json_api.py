#!/usr/bin/env python
"""Requests per second of the JSON API for one project of 300 releases x 2 files.

    [DATABASE_URL=postgresql://user:password@host:port/db] [REDIS_URL=redis://...] \
        .venv/bin/python benchmarks/json_api.py [--releases 300] [--cold 100] \
        [--warm 5000] [--seconds 20] [--clients 8] [--workers 2] [--threads 4] [--keep]

The data goes to a throwaway database: ``<db>_json_bench`` next to the
PostgreSQL database DATABASE_URL names (the role needs CREATEDB; dropped at the
end unless --keep), or without DATABASE_URL a SQLite file in a temporary
directory. The script migrates it, writes the rows (no stored files: the JSON
API never reads them), starts gunicorn on a free port of 127.0.0.1 with the
production settings (DEBUG off) and measures ``/pypi/<name>/json``:

- cold: the body is not in the cache. Before each request the project's
  ``last_serial`` moves (as a change would), so the server builds the body
  from the database; one client, one request at a time. Figures: latency
  percentiles and requests per second (one client).
- warm: the body is in the cache; ``--clients`` threads with keep-alive
  connections send ``--warm`` requests in all.

Each phase stops at its request count or after ``--seconds``, whichever comes
first. Every answer must be a 200 with the 300 releases, or the run fails. The
load goes to 127.0.0.1 only. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.liveserver import (  # noqa: E402
    LiveServerError,
    gunicorn_server,
    is_postgresql,
    manage,
    percentiles,
    server_env,
    throwaway_postgresql_database,
)

PROJECT = "bench-json-api"
MAX_REQUESTS = 100_000


def log(message: str) -> None:
    print(message, flush=True)


# --- Database ----------------------------------------------------------------------


def populate(releases: int) -> int:
    """The project, its releases and two files each; returns the project's id."""
    import hashlib

    import django

    django.setup()
    from django.db import transaction

    from accounts.models import User
    from packages.models import File, Project, Release, Role
    from packages.storage import file_path

    start = datetime(2020, 1, 1, tzinfo=UTC)
    with transaction.atomic():
        owner = User.objects.create_user("bench-owner", "bench@example.com", None)
        project = Project.objects.create(
            name=PROJECT, normalized_name=PROJECT, last_serial=releases * 3
        )
        Role.objects.create(project=project, user=owner, role_name=Role.Name.OWNER)
        rows = Release.objects.bulk_create(
            Release(
                project=project,
                version=f"1.{n}.0",
                canonical_version=f"1.{n}",
                metadata_version="2.4",
                summary="A project with many releases",
                description="# Bench\n\n" + "Some README text. " * 200,
                description_content_type="text/markdown",
                author="Bench Author",
                author_email="bench@example.com",
                license_expression="MIT",
                classifiers=["Programming Language :: Python :: 3"],
                requires_python=">=3.9",
                requires_dist=["requests>=2", "pytest; extra == 'test'"],
                provides_extra=["test"],
                project_urls=[["Source", "https://example.com/src"]],
                created_at=start + timedelta(days=n),
            )
            for n in range(releases)
        )
        files = []
        for release in rows:
            for filename in (
                f"bench_json_api-{release.version}-py3-none-any.whl",
                f"bench_json_api-{release.version}.tar.gz",
            ):
                content = filename.encode()
                blake2 = hashlib.blake2b(content, digest_size=32).hexdigest()
                files.append(
                    File(
                        release=release,
                        filename=filename,
                        packagetype="bdist_wheel" if filename.endswith(".whl") else "sdist",
                        python_version="py3" if filename.endswith(".whl") else "source",
                        size=12345,
                        md5_digest=hashlib.md5(content, usedforsecurity=False).hexdigest(),
                        sha256_digest=hashlib.sha256(content).hexdigest(),
                        blake2_256_digest=blake2,
                        path=file_path(blake2_256_digest=blake2, filename=filename),
                        upload_time=release.created_at,
                    )
                )
        File.objects.bulk_create(files)
    return project.pk


def move_serial(project_id: int) -> None:
    from django.db.models import F

    from packages.models import Project

    Project.objects.filter(pk=project_id).update(last_serial=F("last_serial") + 1)


# --- Server ------------------------------------------------------------------------


def fetch(connection: http.client.HTTPConnection, path: str, releases: int) -> int:
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
    if len(json.loads(body)["releases"]) != releases:
        raise RuntimeError(f"GET {path}: not {releases} releases")
    return len(body)


# --- Measures ------------------------------------------------------------------------


def cold(port: int, path: str, project_id: int, count: int, seconds: float, releases: int):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies = []
    deadline = time.monotonic() + seconds
    while len(latencies) < count and time.monotonic() < deadline:
        move_serial(project_id)
        started = time.perf_counter()
        fetch(connection, path, releases)
        latencies.append(time.perf_counter() - started)
    return latencies


def warm(port: int, path: str, count: int, seconds: float, clients: int):
    # Untimed first: the first requests render the pages into the cache.
    warm_phase(port, path, clients * 4, seconds, clients)
    return warm_phase(port, path, count, seconds, clients)


def warm_phase(port: int, path: str, count: int, seconds: float, clients: int):
    lock = threading.Lock()
    remaining = [count]
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < deadline:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            started = time.perf_counter()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(str(response.status))
            except OSError as exc:
                errors.append(str(exc))
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, first: {errors[0]}")
    return latencies, elapsed


def summary(latencies: list[float]) -> str:
    ms = percentiles([value * 1000 for value in latencies])
    return (
        f"p50 {ms['p50']:.1f} ms, p95 {ms['p95']:.1f} ms, "
        f"p99 {ms['p99']:.1f} ms, max {ms['max']:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", type=int, default=300)
    parser.add_argument("--cold", type=int, default=100, help="cold requests (one client)")
    parser.add_argument("--warm", type=int, default=5000, help="warm requests in all")
    parser.add_argument("--seconds", type=float, default=20, help="time limit of each phase")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    for name in ("cold", "warm"):
        if not 1 <= getattr(args, name) <= MAX_REQUESTS:
            parser.error(f"--{name} must be between 1 and {MAX_REQUESTS}")
    if not 1 <= args.seconds <= 600:
        parser.error("--seconds must be between 1 and 600")

    workdir = Path(tempfile.mkdtemp(prefix="json-bench-"))
    admin_url = os.environ.get("DATABASE_URL", "")
    try:
        with ExitStack() as stack:
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
            measure(args, workdir, admin_url, stack)
    except LiveServerError as error:
        raise SystemExit(str(error)) from None


def measure(args: argparse.Namespace, workdir: Path, admin_url: str, stack: ExitStack) -> None:
    database_url = None
    if is_postgresql(admin_url):
        database_url, db_name = stack.enter_context(
            throwaway_postgresql_database(admin_url, "json_bench", keep=args.keep)
        )
        database = f"PostgreSQL ({db_name}, dropped at the end)"
    else:
        database = f"SQLite in {workdir}"
    env = server_env(
        workdir / "var",
        database_url,
        SECRET_KEY=secrets.token_urlsafe(50),
        LOG_LEVEL="WARNING",
        CACHE_KEY_PREFIX=f"json-bench-{secrets.token_hex(4)}",
        DOWNLOAD_COUNTS="false",
    )
    # populate() writes from this process: the same database as the server's.
    os.environ.clear()
    os.environ.update(env)
    stack.callback(close_connections)  # before the database is dropped

    log(f"database: {database}; cache: {'Redis' if env.get('REDIS_URL') else 'disk'}")
    t0 = time.monotonic()
    manage(env, "migrate", "--noinput")
    project_id = populate(args.releases)
    loaded = time.monotonic() - t0
    log(f"migrated and loaded {args.releases} releases x 2 files in {loaded:.1f}s")
    server = stack.enter_context(
        gunicorn_server(
            env,
            workdir,
            workers=args.workers,
            threads=args.threads,
            # gunicorn's defaults.
            timeout=30,
            graceful_timeout=30,
            start_timeout=90,
        )
    )
    port = urlsplit(server.url).port
    path = f"/pypi/{PROJECT}/json"
    size = fetch(http.client.HTTPConnection("127.0.0.1", port, timeout=30), path, args.releases)
    log(
        f"server: gunicorn {args.workers} workers gthread x{args.threads}; "
        f"body {size / 1024:.0f} KiB"
    )

    latencies = cold(port, path, project_id, args.cold, args.seconds, args.releases)
    log(
        f"cold: {len(latencies)} requests, one client: "
        f"{len(latencies) / sum(latencies):.1f} req/s; {summary(latencies)}"
    )
    latencies, elapsed = warm(port, path, args.warm, args.seconds, args.clients)
    log(
        f"warm: {len(latencies)} requests, {args.clients} clients, {elapsed:.1f} s: "
        f"{len(latencies) / elapsed:.0f} req/s; {summary(latencies)}"
    )


def close_connections() -> None:
    from django.db import connections

    connections.close_all()


if __name__ == "__main__":
    main()
