#!/usr/bin/env python
"""Simple-page latency and /simple/ memory at 1,000 and at 1,000,000 files (PostgreSQL + Redis).

    DATABASE_URL=postgresql://user:password@host:port/db REDIS_URL=redis://host:port/n \\
        .venv/bin/python benchmarks/scale.py [--files 1000000] [--projects 500000] [--keep]

Two of issue 12's targets: the simple page's latency at the origin flat (within
20%) between 1,000 and 1,000,000 files in the database, and ``/simple/`` for
500,000 projects built in bounded memory.

Creates two databases next to the one DATABASE_URL names (the role needs
CREATEDB), migrates both and fills them with benchmarks/admin.py's generator
(INSERT ... SELECT generate_series, then ANALYZE): "small" holds only the two
measured projects (100 and 1,000 files: 1,100 files), "big" the same two plus
``--projects`` projects of two files each, about ``--files`` files in all. Both
are dropped at the end unless --keep.

Each database is served by gunicorn as ``make run`` starts it (2 gthread
workers, pypi_site/gunicorn.conf.py, 127.0.0.1, REDIS_URL's Redis under a key
prefix of its own), and once more with PAGE_LOCAL_CACHE_SECONDS=0. The simple
pages of both projects, HTML (text/html) and PEP 691 JSON, are then timed one
request at a time over a kept-alive connection, the two databases taking turns
request by request so that the machine's noise falls on both alike:

- miss: the pages' keys deleted from Redis before each request (what a change's
  purge does) on the server without process-local copies: the request reads the
  database, renders both formats and stores them;
- hit (Redis): the same server, keys left in place: one Redis GET per request;
- hit: the ``make run`` server, serving its process-local copy.

Then ``/simple/`` on each database, served by a one-worker server: its time on a
miss (HTML then JSON, each after deleting the keys) and on a hit, and the
worker's memory before (VmRSS) and at its peak during the request (VmHWM, reset
through /proc/<pid>/clear_refs as benchmarks/upload_memory.py does).

Prints the table with the big/small ratios; --json PATH writes the figures.
About 4 minutes with the defaults (2 of them generating the rows); --files
and --projects make it smaller.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests import liveserver  # noqa: E402

# The measured projects: one generated call each (benchmarks/admin.generate
# names them <prefix>1), so their rows are alike in both databases.
MEASURED = {"scale-hundred-": 100, "scale-thousand-": 1000}
FILLER = "scale-filler-"
PIP_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1"
ACCEPT = {"html": "text/html", "json": "application/vnd.pypi.simple.v1+json"}
KINDS = ("miss", "hit (Redis)", "hit")
MiB = 1024 * 1024
LOCAL_COPY_SECONDS = 1.2

GENERATE = """
from benchmarks.admin import generate
for prefix, files in {measured!r}.items():
    generate(files, projects=1, prefix=prefix)
if {filler_projects}:
    generate({filler_files}, projects={filler_projects}, prefix={filler!r})
"""

# EXPLAIN of the queries a simple page's miss makes, on the big database.
EXPLAIN = """
from django.db import connection
from django.test.utils import CaptureQueriesContext
from packages.simple import project_listing
with CaptureQueriesContext(connection) as queries:
    project_listing({name!r})
with connection.cursor() as cursor:
    for query in queries.captured_queries:
        print(query["sql"][:160])
        cursor.execute("EXPLAIN (ANALYZE, TIMING OFF) " + query["sql"])
        print("\\n".join("    " + row[0] for row in cursor.fetchall()))
"""


class Client:
    """One kept-alive connection to a server on 127.0.0.1 (pip keeps its own)."""

    def __init__(self, url: str):
        self.url = url
        self.connection = None

    def get(self, path: str, accept: str) -> tuple[float, int, bytes]:
        """(milliseconds, status, body) of one GET, the body read in full."""
        if self.connection is None:
            port = int(self.url.rsplit(":", 1)[1])
            self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        started = time.perf_counter()
        self.connection.request("GET", path, headers={"Accept": accept})
        response = self.connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.will_close:
            self.close()
        return elapsed, response.status, body

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class PageCache:
    """Deletes a server's rendered simple pages from Redis, as a purge does."""

    def __init__(self, redis_url: str, key_prefix: str):
        import redis

        self.redis = redis.Redis.from_url(redis_url)
        # django-redis keys are "<KEY_PREFIX>:<version>:<key>"; every page key
        # starts "simple:" (packages.cache).
        self.pattern = f"{key_prefix}:*:simple:*"

    def clear(self) -> int:
        keys = list(self.redis.scan_iter(match=self.pattern, count=1000))
        if keys:
            self.redis.delete(*keys)
        return len(keys)


def memory(pid: int) -> dict[str, float]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024  # MiB
    return values


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if len(children) != 1:
        raise SystemExit(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def populate(env: dict[str, str], files: int, projects: int) -> None:
    measured = sum(MEASURED.values())
    filler_projects = max(projects - len(MEASURED), 0)
    per_project = max(round((files - measured) / filler_projects), 1) if filler_projects else 0
    out = liveserver.manage(
        env,
        "shell",
        "--no-imports",
        "-c",
        GENERATE.format(
            measured=MEASURED,
            filler=FILLER,
            filler_projects=filler_projects,
            filler_files=per_project * filler_projects,
        ),
        timeout=3600,
    )
    print("".join(f"  {line}\n" for line in out.splitlines()), end="", flush=True)


def count(env: dict[str, str]) -> int:
    """Prints what the database holds; returns its number of files."""
    out = liveserver.manage(
        env,
        "shell",
        "--no-imports",
        "-c",
        "from packages.models import File, Project; "
        "print(File.objects.count(), Project.objects.count())",
    )
    file_count, project_count = map(int, out.split())
    print(f"  {file_count:,} files, {project_count:,} projects", flush=True)
    return file_count


def time_pages(setups: dict, rounds: int, hits: int, misses: int) -> dict:
    """samples[(database, project, format, kind)] = [ms, ...]

    The databases take turns request by request (the first of each pair
    alternating), so that the machine's noise falls on both alike."""
    samples: dict[tuple[str, str, str, str], list[float]] = {}
    for setup in setups.values():  # each worker's first requests (lazy imports) left out
        for prefix in MEASURED:
            for accept in ACCEPT.values():
                for _ in range(4):
                    setup["cache"].clear()
                    setup["cold_client"].get(f"/simple/{prefix}1/", accept)
                    setup["warm_client"].get(f"/simple/{prefix}1/", accept)
    order = list(setups)
    for _round in range(rounds):
        for prefix in MEASURED:
            path = f"/simple/{prefix}1/"
            for fmt, accept in ACCEPT.items():
                for kind, count in (("miss", misses), ("hit (Redis)", hits), ("hit", hits)):
                    for _ in range(count):
                        order.reverse()
                        for database in order:
                            setup = setups[database]
                            client = setup["warm_client" if kind == "hit" else "cold_client"]
                            if kind == "miss":
                                setup["cache"].clear()
                            elapsed, status, _body = client.get(path, accept)
                            assert status == 200, (path, status)
                            samples.setdefault((database, prefix, fmt, kind), []).append(elapsed)
    return samples


def time_index(env: dict[str, str], work: Path, cache: PageCache, repeats: int, code: Path) -> dict:
    """/simple/ on a one-worker server: time and the worker's memory."""
    figures: dict[str, dict] = {}
    with liveserver.gunicorn_server(
        env, work, name="index", workers=1, timeout=600, cwd=code
    ) as server:
        pid = worker_pid(server.process.pid)
        client = Client(server.url)
        # The worker's imports and connections made, as in service.
        client.get(f"/simple/{next(iter(MEASURED))}1/", PIP_ACCEPT)
        for fmt, accept in ACCEPT.items():
            misses, peaks = [], []
            before = memory(pid)["VmRSS"]
            for _ in range(repeats):
                cache.clear()
                # The worker's own copy (PAGE_LOCAL_CACHE_SECONDS, 1 s as make run has it).
                time.sleep(LOCAL_COPY_SECONDS)
                Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
                start_rss = memory(pid)["VmRSS"]
                elapsed, status, body = client.get("/simple/", accept)
                assert status == 200, status
                misses.append(elapsed)
                peak = memory(pid)["VmHWM"]
                peaks.append((peak - start_rss, peak))
            hit = [client.get("/simple/", accept)[0] for _ in range(repeats)]
            after = memory(pid)
            figures[fmt] = {
                "bytes": len(body),
                "projects": body.count(b'href="') if fmt == "html" else body.count(b'"name"'),
                "miss_ms": min(misses),
                "miss_ms_all": misses,
                "hit_ms": min(hit),
                "rss_before_mib": before,
                "peak_growth_mib": max(growth for growth, _peak in peaks),
                "peak_mib": max(peak for _growth, peak in peaks),
                "rss_after_mib": after["VmRSS"],
            }
        client.close()
    return figures


def report(samples: dict, index: dict, counts: dict, code: Path) -> bool:
    small, big = "small", "big"
    print()
    print(f"servers' code: {code}")
    print(f"Simple page at the origin: {counts[small]:,} vs {counts[big]:,} files in the database")
    header = (
        f"{'page':12} {'format':6} {'kind':12} {'small p50':>10} {'big p50':>9} {'ratio':>6} "
        f"{'small p95':>10} {'big p95':>9} {'ratio':>6}"
    )
    print(header)
    flat = True
    for prefix, files in MEASURED.items():
        for fmt in ACCEPT:
            for kind in KINDS:
                a = liveserver.percentiles(samples[(small, prefix, fmt, kind)])
                b = liveserver.percentiles(samples[(big, prefix, fmt, kind)])
                ratio50, ratio95 = b["p50"] / a["p50"], b["p95"] / a["p95"]
                flat &= ratio50 <= 1.2
                print(
                    f"{f'{files:,} files':12} {fmt:6} {kind:12} {a['p50']:8.2f}ms "
                    f"{b['p50']:7.2f}ms {ratio50:6.2f} {a['p95']:8.2f}ms {b['p95']:7.2f}ms "
                    f"{ratio95:6.2f}"
                )
    print(f"target: p50 ratio <= 1.20 on every row: {'met' if flat else 'MISSED'}")
    print()
    print(
        "/simple/ (one worker; memory in MiB; peak: VmHWM during a miss; "
        "peak +: that less VmRSS before it)"
    )
    print(
        f"{'database':9} {'format':6} {'projects':>9} {'bytes':>11} {'miss ms':>9} {'hit ms':>8} "
        f"{'RSS before':>10} {'peak +':>7} {'peak':>5} {'RSS after':>9}"
    )
    for database, figures in index.items():
        for fmt, row in figures.items():
            print(
                f"{database:9} {fmt:6} {row['projects']:9,} {row['bytes']:11,} "
                f"{row['miss_ms']:9.0f} {row['hit_ms']:8.1f} {row['rss_before_mib']:10.0f} "
                f"{row['peak_growth_mib']:7.0f} {row['peak_mib']:5.0f} {row['rss_after_mib']:9.0f}"
            )
    return flat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1_000_000, help="files in the big database")
    parser.add_argument("--projects", type=int, default=500_000, help="projects in the big one")
    parser.add_argument("--rounds", type=int, default=2, help="passes over every cell")
    parser.add_argument("--hits", type=int, default=100, help="hits per cell and pass")
    parser.add_argument("--misses", type=int, default=25, help="misses per cell and pass")
    parser.add_argument("--index-repeats", type=int, default=3, help="/simple/ misses per format")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN a miss's queries (big)")
    parser.add_argument("--keep", action="store_true", help="keep the databases and the logs")
    parser.add_argument("--reuse", action="store_true", help="use the databases --keep left")
    parser.add_argument(
        "--code", type=Path, default=REPO, help="checkout the servers run (before/after a change)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures there")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not liveserver.is_postgresql(database_url) or not redis_url:
        sys.exit("Set DATABASE_URL to a PostgreSQL database and REDIS_URL to a Redis.")

    work = Path(tempfile.mkdtemp(prefix="scale-"))
    run_id = secrets.token_hex(4)
    with ExitStack() as stack:
        setups, counts, envs = {}, {}, {}
        for database, (files, projects) in {
            "small": (0, 0),
            "big": (args.files, args.projects),
        }.items():
            url, name = stack.enter_context(
                liveserver.throwaway_postgresql_database(
                    database_url,
                    f"scale_{database}",
                    create=not args.reuse,
                    keep=args.keep or args.reuse,
                )
            )
            prefix = f"scale-{run_id}-{database}"
            env = liveserver.server_env(work / database, url, CACHE_KEY_PREFIX=prefix)
            print(f"{database}: database {name}", flush=True)
            if not args.reuse:
                liveserver.manage(env, "migrate", "--noinput")
                populate(env, files, projects)
            counts[database] = count(env)
            envs[database] = env
            cache = PageCache(redis_url, prefix)
            stack.callback(cache.clear)
            setups[database] = {"cache": cache}
        if args.explain:
            explain = EXPLAIN.format(name=f"{next(reversed(MEASURED))}1")
            print(liveserver.manage(envs["big"], "shell", "--no-imports", "-c", explain))

        for database, setup in setups.items():
            cold = stack.enter_context(
                liveserver.gunicorn_server(
                    {**envs[database], "PAGE_LOCAL_CACHE_SECONDS": "0"},
                    work,
                    name=f"{database}-cold",
                    cwd=args.code,
                )
            )
            warm = stack.enter_context(
                liveserver.gunicorn_server(
                    envs[database], work, name=f"{database}-warm", cwd=args.code
                )
            )
            setup["cold_client"] = Client(cold.url)
            setup["warm_client"] = Client(warm.url)
        print("timing simple pages...", flush=True)
        started = time.perf_counter()
        samples = time_pages(setups, args.rounds, args.hits, args.misses)
        print(f"  {time.perf_counter() - started:.0f} s", flush=True)
        for setup in setups.values():
            setup["cold_client"].close()
            setup["warm_client"].close()

        print("timing /simple/...", flush=True)
        index = {
            database: time_index(
                envs[database], work, setup["cache"], args.index_repeats, args.code
            )
            for database, setup in setups.items()
        }
    flat = report(samples, index, counts, args.code)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "files": counts,
                    "pages": {" / ".join(key): value for key, value in samples.items()},
                    "index": index,
                },
                indent=1,
            )
        )
    if args.keep:
        print(f"kept the databases and {work}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
