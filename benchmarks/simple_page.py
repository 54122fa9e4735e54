"""The simple page of one project at the origin, with and without a setting:
requests/s, p99 and each worker's share of the CPU, over several short wrk runs.

    .venv/bin/python benchmarks/simple_page.py                  # embedded default
    DATABASE_URL=postgresql://... REDIS_URL=redis://... .venv/bin/python \
        benchmarks/simple_page.py                               # PostgreSQL + Redis

Each variant is a fresh gunicorn (tests/liveserver.py, 2 gthread workers) on
the same data: a project of ``--files`` files. Variants: the process-local page
copies off (PAGE_LOCAL_CACHE_SECONDS=0) and on, or, with ``--reuse-port``,
gunicorn's reuse_port off and on (pypi_site/gunicorn.conf.py sets it on). Every
run starts wrk's connections afresh, so how they fall on the workers is measured
run by run (a worker that took them all shows as a CPU share near 100%).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import liveserver

# gunicorn as the config file sets it up, but with one shared listening socket
# (its --reuse-port flag can only switch the setting on).
SHARED_SOCKET = (
    sys.executable,
    "-c",
    "import sys; from gunicorn import config; from gunicorn.app.wsgiapp import run; "
    "config.Config.reuse_port = property(lambda self: False); sys.exit(run())",
)

POPULATE = """
from packages.models import Project
from tests.factories import add_file, make_release, make_wheel
project = Project.objects.create(name="bench", normalized_name="bench")
for index in range({files}):
    version = f"1.{{index}}"
    add_file(make_release(project, version), make_wheel("bench", version), store=False)
"""


def _ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def wrk(url: str, seconds: int, connections: int) -> tuple[float, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(next(line for line in out.splitlines() if "Requests/sec" in line).split()[1])
    p99 = next(line for line in out.splitlines() if line.strip().startswith("99%")).split()[1]
    scale = {"us": 0.001, "ms": 1, "s": 1000}
    unit = p99.lstrip("0123456789.")
    return rate, float(p99[: -len(unit)]) * scale[unit]


def measure(env, log_dir, gunicorn, runs, seconds, connections) -> dict:
    server = liveserver.start_gunicorn(env, log_dir, gunicorn=gunicorn, threads=4)
    try:
        url = server.url + "/simple/bench/"
        liveserver.http_get(url)
        wrk(url, 1, connections)  # warm up
        rates, p99s, shares = [], [], []
        for _ in range(runs):
            workers = _workers(server.process.pid)
            before = [_ticks(pid) for pid in workers]
            rate, p99 = wrk(url, seconds, connections)
            used = [_ticks(pid) - start for pid, start in zip(workers, before, strict=True)]
            rates.append(rate)
            p99s.append(p99)
            shares.append(round(max(used) / max(sum(used), 1) * 100))
        return {
            "rps": rates,
            "median_rps": statistics.median(rates),
            "median_p99_ms": statistics.median(p99s),
            "busiest_worker_cpu_share_%": shares,
        }
    finally:
        liveserver.stop(server.process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=36)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--reuse-port", action="store_true", help="compare reuse_port off/on")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if liveserver.is_postgresql(database_url):
        # A database of its own next to the one named, dropped at the end.
        with liveserver.throwaway_postgresql_database(database_url, "simple_page") as (url, _):
            run(args, url)
    else:
        run(args, None)


def run(args: argparse.Namespace, database_url: str | None) -> None:
    base = (sys.executable, "-m", "gunicorn")
    with tempfile.TemporaryDirectory() as tmp:
        var_dir = Path(tmp)
        env = liveserver.server_env(var_dir, database_url)
        liveserver.manage(env, "migrate", "--noinput")
        liveserver.manage(env, "shell", "-c", POPULATE.format(files=args.files))
        variants = {"local copies off": ({"PAGE_LOCAL_CACHE_SECONDS": "0"}, base)}
        variants["local copies on"] = ({"PAGE_LOCAL_CACHE_SECONDS": "1"}, base)
        if args.reuse_port:
            variants = {
                "reuse_port off": ({}, SHARED_SOCKET),
                "reuse_port on": ({}, (*base, "--reuse-port")),
            }
        for name, (settings, gunicorn) in variants.items():
            figures = measure(
                {**env, **settings}, var_dir, gunicorn, args.runs, args.seconds, args.connections
            )
            print(name, figures, flush=True)


if __name__ == "__main__":
    main()
