#!/usr/bin/env python
"""One big upload: MB/s and the server's memory, against a trivial sink.

    .venv/bin/python benchmarks/big_upload.py [--mib 500] [--rounds 2] [--baseline REF]
        [--py-spy DIR] [--json PATH] [--keep]

Builds a valid wheel with one ZIP_STORED member of random bytes (benchmarks/run.py's
build_big_wheel, streamed to disk), starts the index as `make run` does (gunicorn
with pypi_site/gunicorn.conf.py, 2 workers gthread x 4, DEBUG off; tests/liveserver.py)
and POSTs the wheel to /legacy/ with a streaming http.client request (the body read
from disk in 1 MiB chunks). In the same run the same bytes go to the physical
reference: a WSGI app under the same gunicorn and settings that reads wsgi.input
1 MiB at a time into a nameless file in the same directory and fsyncs it (the work
an upload cannot avoid), and into nothing (the network path alone). So the figure
that counts is the ratio index / sink.

--ref REF serves the index from git commit REF instead of the working tree.
--baseline REF also serves the code of git commit REF (extracted with `git archive`
into the run's directory; the repository is not touched) on its own database and
uploads the same wheels to it: before and after in one run. --rounds N uploads N
different wheels to each server, taking turns (sink, baseline, index), and keeps
every figure. --py-spy DIR records the index's workers during the first round's
upload (py-spy, collapsed stacks; needs ptrace rights).

Memory: VmHWM of each gunicorn worker is reset (/proc/<pid>/clear_refs) before
each upload; "peak" is the largest worker's VmHWM after it, against its VmRSS
before. DATABASE_URL and REDIS_URL, when set, are passed on to the servers, each
on a throwaway database of its own. Loopback only; every process started here is
stopped by its PID before the script exits.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
MB = 1000 * 1000
_SINK_CHUNK = MiB


# --- the sink: imported by gunicorn as benchmarks.big_upload:sink ------------------------


def sink(environ, start_response):
    """Reads the request body and answers how many bytes it read.

    POST /file: into a nameless file in SINK_DIR, fsynced (as an upload is
    stored); POST /null: into nothing. GET: 200, gunicorn's health check.
    """
    received = 0
    if environ["REQUEST_METHOD"] == "POST":
        remaining = int(environ.get("CONTENT_LENGTH") or 0)
        stream = environ["wsgi.input"]
        if environ["PATH_INFO"] == "/file":
            descriptor = os.open(environ["SINK_DIR"], os.O_TMPFILE | os.O_RDWR, 0o600)
            with open(descriptor, "wb") as out:
                while remaining and (chunk := stream.read(min(remaining, _SINK_CHUNK))):
                    out.write(chunk)
                    received += len(chunk)
                    remaining -= len(chunk)
                out.flush()
                os.fsync(out.fileno())
        else:
            while remaining and (chunk := stream.read(min(remaining, _SINK_CHUNK))):
                received += len(chunk)
                remaining -= len(chunk)
    body = f"{received}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _sink_app(environ, start_response):
    # The directory travels in the process environment (gunicorn passes it on).
    environ["SINK_DIR"] = os.environ["SINK_DIR"]
    return sink(environ, start_response)


# --- measuring ------------------------------------------------------------------------------


def _workers(master_pid: int) -> list[int]:
    from benchmarks.run import _children

    return _children(master_pid)


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def measure(url: str, auth, fields: dict, path: Path, master_pid: int, py_spy: Path | None):
    """POST one file; its figures, or a RuntimeError saying what the server answered."""
    from tests.liveserver import post_upload

    workers = _workers(master_pid)
    before = {}
    for pid in workers:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM
        before[pid] = _status_kib(pid, "VmRSS")
    cpu_before = _cpu_seconds(workers)
    recorders = []
    if py_spy is not None:
        for pid in workers:
            recorders.append(
                subprocess.Popen(
                    [
                        str(REPO / ".venv" / "bin" / "py-spy"),
                        "record",
                        "--pid",
                        str(pid),
                        "--format",
                        "raw",
                        "--rate",
                        "200",
                        "--nonblocking",
                        "--output",
                        str(py_spy / f"worker-{pid}.txt"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        time.sleep(1)  # py-spy attaches
    size = path.stat().st_size
    start = time.perf_counter()
    try:
        response = post_upload(url, auth, fields, path.name, path)
    finally:
        elapsed = time.perf_counter() - start
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for recorder in recorders:
            try:
                recorder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                recorder.kill()
                recorder.wait()
    if response.status != 200:
        raise RuntimeError(f"POST {url} answered {response.describe()}")
    busiest = max(workers, key=lambda pid: _status_kib(pid, "VmHWM") - before[pid])
    return {
        "mb_per_s": round(size / MB / elapsed, 1),
        "mib_per_s": round(size / MiB / elapsed, 1),
        "seconds": round(elapsed, 2),
        "server_cpu_s": round(_cpu_seconds(workers) - cpu_before, 2),
        "rss_before_mib": round(before[busiest] / 1024, 1),
        "hwm_peak_mib": round(_status_kib(busiest, "VmHWM") / 1024, 1),
    }


def warm_up(url: str, auth, tag: str) -> None:
    """Small uploads, so that each worker has imported what an upload needs
    (a cold worker's first upload spent about 0.3 s importing) before the big
    one is timed. The kernel picks the worker (reuse_port): 8 uploads leave a
    worker of 2 cold once in 128 runs."""
    from tests.factories import make_wheel
    from tests.liveserver import post_upload

    for n in range(8):
        dist = make_wheel(f"bench-warm-{tag}", f"0.{n}")
        response = post_upload(url, auth, dist.form(), dist.filename, dist.content)
        if response.status != 200:
            raise RuntimeError(f"warm-up upload to {url} answered {response.describe()}")


# --- servers --------------------------------------------------------------------------------


def _extract(ref: str, directory: Path) -> Path:
    """The tree of commit ``ref``, written under ``directory``."""
    directory.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", ref],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(directory)], input=archive.stdout, check=True)
    return directory


def start_index(stack: ExitStack, workdir: Path, name: str, code: Path, args) -> tuple:
    """(gunicorn, upload URL, credentials) of the index served from ``code``."""
    from tests.liveserver import (
        CommandFailed,
        describe,
        run,
        server_env,
        start_gunicorn,
        stop,
        throwaway_postgresql_database,
    )

    database_url = os.environ.get("DATABASE_URL")
    if database_url:
        database_url, _ = stack.enter_context(
            throwaway_postgresql_database(database_url, f"bigupload_{name}")
        )
    tmp = workdir / f"{name}-tmp"
    tmp.mkdir()
    env = server_env(
        workdir / f"{name}-var",
        database_url,
        SECRET_KEY=secrets.token_urlsafe(50),
        FILE_UPLOAD_TEMP_DIR=str(tmp),
        UPLOAD_MAX_BYTES=str((args.mib + 16) * MiB),
        LOG_LEVEL="WARNING",
        CACHE_KEY_PREFIX=f"bigupload-{name}",
    )
    manage = [sys.executable, str(code / "manage.py")]
    username, password = f"bench{name}", secrets.token_urlsafe(24)
    for command, extra in (
        (["migrate", "--noinput"], {}),
        (["collectstatic", "--noinput", "--verbosity", "0"], {}),
        (
            ["createsuperuser", "--noinput"],
            {
                "DJANGO_SUPERUSER_USERNAME": username,
                "DJANGO_SUPERUSER_PASSWORD": password,
                "DJANGO_SUPERUSER_EMAIL": f"{username}@example.com",
            },
        ),
        (["create_api_token", username], {}),
    ):
        result = run([*manage, *command], env={**env, **extra}, cwd=code, timeout=300)
        if result.returncode:
            raise CommandFailed(describe(result))
    token = result.stdout.strip()
    server = start_gunicorn(
        env,
        workdir,
        name=f"gunicorn-{name}",
        cwd=code,
        workers=args.workers,
        threads=args.threads,
        timeout=300,
        graceful_timeout=10,
        start_timeout=90,
    )
    stack.callback(stop, server.process)
    url, auth = f"{server.url}/legacy/", ("__token__", token)
    warm_up(url, auth, name)
    return server, url, auth


def start_sink(stack: ExitStack, workdir: Path, args):
    from tests.liveserver import server_env, start_gunicorn, stop

    directory = workdir / "sink-tmp"
    directory.mkdir()
    env = server_env(workdir / "sink-var", SINK_DIR=str(directory))
    server = start_gunicorn(
        env,
        workdir,
        app="benchmarks.big_upload:_sink_app",
        name="gunicorn-sink",
        workers=args.workers,
        threads=args.threads,
        timeout=300,
        health_path="/",
    )
    stack.callback(stop, server.process)
    return server


# --- the run --------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=500, help="payload MiB (1-1500), default 500")
    parser.add_argument("--rounds", type=int, default=2, help="uploads per server, default 2")
    parser.add_argument("--baseline", metavar="REF", help="also serve git commit REF")
    parser.add_argument(
        "--ref", help="serve the index from git commit REF, not the working tree (others' edits)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, default 2")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads, default 4")
    parser.add_argument("--py-spy", type=Path, help="record the index's workers into this dir")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if not 1 <= args.mib <= 1500:
        parser.error("--mib must be between 1 and 1500")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def _line(label: str, runs: list[dict], sink_mb: float | None) -> str:
    mb = statistics.median(r["mb_per_s"] for r in runs)
    ratio = f"  {mb / sink_mb:5.0%} of the file sink" if sink_mb else ""
    cpu = statistics.median(r["server_cpu_s"] for r in runs)
    memory = max(runs, key=lambda r: r["hwm_peak_mib"] - r["rss_before_mib"])
    return (
        f"{label:22} {mb:7.1f} MB/s ({', '.join(str(r['mb_per_s']) for r in runs)})"
        f"  server CPU {cpu:5.2f} s"
        f"  worker RSS {memory['rss_before_mib']:.0f} -> VmHWM {memory['hwm_peak_mib']:.0f} MiB"
        f"{ratio}"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO))
    from benchmarks.run import build_big_wheel

    workdir = Path(tempfile.mkdtemp(prefix="big-upload-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tag = secrets.token_hex(3)
    results: dict[str, list[dict]] = {}
    try:
        with ExitStack() as stack:
            started = time.monotonic()
            targets = {"sink (file, fsync)": None, "sink (no write)": None}
            sink_server = start_sink(stack, workdir, args)
            targets["sink (file, fsync)"] = (f"{sink_server.url}/file", ("", ""), sink_server)
            targets["sink (no write)"] = (f"{sink_server.url}/null", ("", ""), sink_server)
            if args.baseline:
                code = _extract(args.baseline, workdir / "baseline-code")
                server, url, auth = start_index(stack, workdir, "baseline", code, args)
                targets[f"index at {args.baseline}"] = (url, auth, server)
            code = _extract(args.ref, workdir / "index-code") if args.ref else REPO
            server, url, auth = start_index(stack, workdir, "index", code, args)
            index_label = f"index at {args.ref}" if args.ref else "index"
            targets[index_label] = (url, auth, server)
            print(f"servers ready in {time.monotonic() - started:.0f} s", flush=True)
            for round_ in range(args.rounds):
                wheel = build_big_wheel(workdir, f"bench-huge-{tag}-{round_}", args.mib)
                for label, (url, auth, server) in targets.items():
                    py_spy = None
                    if args.py_spy and label == index_label and round_ == 0:
                        py_spy = args.py_spy
                        py_spy.mkdir(parents=True, exist_ok=True)
                    pid = server.process.pid
                    figures = measure(url, auth, wheel.fields, wheel.path, pid, py_spy)
                    results.setdefault(label, []).append(figures)
                    print(f"round {round_ + 1} {label}: {figures}", flush=True)
                wheel.path.unlink()
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    sink_mb = statistics.median(r["mb_per_s"] for r in results["sink (file, fsync)"])
    print()
    print(
        f"{args.mib} MiB wheel, {args.rounds} rounds, gunicorn {args.workers} workers gthread "
        f"x{args.threads}, {os.cpu_count()} CPUs, "
        f"{'PostgreSQL' if os.environ.get('DATABASE_URL') else 'SQLite'}; median (each round)"
    )
    for label, runs in results.items():
        print(_line(label, runs, None if label.startswith("sink") else sink_mb))
    if args.json:
        args.json.write_text(json.dumps({"mib": args.mib, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
