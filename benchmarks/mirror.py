#!/usr/bin/env python
"""The pull-through mirror (issue 14): a mirrored page against a local one, and first fetches.

    .venv/bin/python benchmarks/mirror.py [--files 100] [--first 30] [--runs 3] [--seconds 5]

Starts two instances of this index on 127.0.0.1, both as ``make run`` starts
them (gunicorn, 2 gthread workers, SQLite, their own VAR_DIR): the upstream, and
the company's index with UPSTREAM_INDEX_URL pointing at it. Both hold a project
of ``--files`` wheels: the company's "bench-local" is its own, the upstream's
"bench-upstream" is mirrored by the company. Figures, all taken in this one run:

1. cached pages: wrk (2 threads, 32 connections) on the company's
   /simple/bench-local/ and /simple/bench-upstream/, taking turns ``--runs``
   times: requests/s, p99, and the mirrored/local ratio (the goal: 1.0).
2. first fetches: ``--first`` upstream projects of one wheel each, asked of
   the company one at a time: the page's first request (a fetch from the
   upstream, rendered and stored) and its second (cached), the file's first
   request (downloaded from the upstream, checked, stored, then served) and its
   second (served from storage), with the upstream's own answer to the same
   page and file as the floor.

Prints a table; --json PATH writes the figures too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks.simple_page import wrk  # noqa: E402
from tests import liveserver  # noqa: E402

FILL = """
from datetime import timedelta
from django.utils import timezone
from packages.models import Project
from tests.factories import add_file, make_release, make_wheel
project = Project.objects.create(name={name!r}, normalized_name={name!r})
for index in range({files}):
    version = f"1.{{index}}"
    add_file(make_release(project, version), make_wheel({name!r}, version), store={store})
for index in range({first}):
    name = f"first-{{index}}"
    project = Project.objects.create(name=name, normalized_name=name)
    add_file(make_release(project, "1.0"), make_wheel(name, "1.0"))
"""


def timed_get(url: str, accept: str = "text/html") -> tuple[float, int]:
    started = time.perf_counter()
    response = liveserver.http_get(url, headers={"Accept": accept})
    return (time.perf_counter() - started) * 1000, response.status


def file_url(base: str, project: str) -> str:
    response = liveserver.http_get(
        f"{base}/simple/{project}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    assert response.status == 200, response.describe()
    url = json.loads(response.body)["files"][0]["url"]
    return url if url.startswith("http") else base + url


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--first", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        root = Path(tmp)
        upstream_env = liveserver.server_env(root / "upstream", CACHE_KEY_PREFIX="bench-up")
        liveserver.manage(upstream_env, "migrate", "--noinput", "--verbosity", "0")
        liveserver.manage(
            upstream_env,
            "shell",
            "-c",
            FILL.format(name="bench-upstream", files=args.files, store=True, first=args.first),
        )
        upstream = stack.enter_context(liveserver.gunicorn_server(upstream_env, root / "upstream"))
        company_env = liveserver.server_env(
            root / "company",
            CACHE_KEY_PREFIX="bench-company",
            UPSTREAM_INDEX_URL=f"{upstream.url}/simple/",
            UPSTREAM_FRESHNESS="3600",
        )
        liveserver.manage(company_env, "migrate", "--noinput", "--verbosity", "0")
        liveserver.manage(
            company_env,
            "shell",
            "-c",
            FILL.format(name="bench-local", files=args.files, store=False, first=0),
        )
        company = stack.enter_context(liveserver.gunicorn_server(company_env, root / "company"))

        # 1. Cached pages, local and mirrored, taking turns.
        pages = {
            "local": f"{company.url}/simple/bench-local/",
            "mirrored": f"{company.url}/simple/bench-upstream/",
        }
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in pages}
        for url in pages.values():
            assert liveserver.http_get(url).status == 200
            wrk(url, 1, args.connections)  # warm up
        for _ in range(args.runs):
            for name, url in pages.items():
                figures[name].append(wrk(url, args.seconds, args.connections))
        for name, runs in figures.items():
            results[f"cached page, {name}"] = {
                "rps": round(statistics.median(rate for rate, _ in runs)),
                "p99_ms": round(statistics.median(p99 for _, p99 in runs), 2),
            }
        results["mirrored/local rps"] = round(
            results["cached page, mirrored"]["rps"] / results["cached page, local"]["rps"], 3
        )

        # 2. First fetches, one project at a time.
        samples: dict[str, list[float]] = {
            "page, upstream itself": [],
            "page, first request": [],
            "page, cached": [],
            "file, upstream itself": [],
            "file, first request": [],
            "file, stored": [],
        }
        for index in range(args.first):
            name = f"first-{index}"
            for key, url in (
                ("page, upstream itself", f"{upstream.url}/simple/{name}/"),
                ("page, first request", f"{company.url}/simple/{name}/"),
                ("page, cached", f"{company.url}/simple/{name}/"),
            ):
                elapsed, status = timed_get(url)
                assert status == 200, (url, status)
                samples[key].append(elapsed)
            mirrored_file = file_url(company.url, name)
            for key, url in (
                ("file, upstream itself", file_url(upstream.url, name)),
                ("file, first request", mirrored_file),
                ("file, stored", mirrored_file),
            ):
                elapsed, status = timed_get(url, accept="*/*")
                assert status == 200, (url, status)
                samples[key].append(elapsed)
        for key, values in samples.items():
            results[key] = summary(values)

    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
