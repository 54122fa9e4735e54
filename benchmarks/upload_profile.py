#!/usr/bin/env python
"""Where an upload's time goes: many small wheels with READMEs, one at a time.

    .venv/bin/python benchmarks/upload_profile.py [--files 100] [--code DIR]

Starts the index with one gunicorn worker (tests/liveserver.py) and uploads
``--files`` small wheels, each a new release (so each description is rendered),
with READMEs alternately in Markdown and reStructuredText (headings, links,
lists, a table, highlighted code: what real READMEs hold). Prints the wall
time per upload, the server's CPU time per upload (the worker, and the fork
server with the description renderers it forked) and files/s; then the cost of
one ``render_description`` in this process against rendering the same text
without the child process. --code runs the server from another checkout (for
example an older commit in a git worktree) to compare. DATABASE_URL and
REDIS_URL, when set, are passed on to the server.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.liveserver import (  # noqa: E402
    gunicorn_server,
    http_get,
    manage,
    post_upload,
    run,
    server_env,
    stop,
    superuser_with_token,
    twine_upload_command,
)

NAME = "bench-profile"
STEM = "bench_profile"
TICKS = os.sysconf("SC_CLK_TCK")

MARKDOWN = """# bench-profile

A small library that does one thing well. See https://example.org/docs and the
[changelog](https://example.org/changelog).

## Installation

```console
$ pip install bench-profile
```

## Usage

```python
from bench_profile import thing

def main() -> None:
    for item in thing(range(10)):
        print(f"{item!r}")
```

| Option | Default | Meaning |
|--------|---------|---------|
| `fast` | `True`  | Go **fast** |
| `safe` | `False` | Be ~~careless~~ careful |

- one
- two
  - nested
"""

RST = """bench-profile
=============

A small library that does one thing well. See `the docs <https://example.org/docs>`_.

Installation
------------

.. code-block:: console

   $ pip install bench-profile

Usage
-----

.. code-block:: python

   from bench_profile import thing

   def main() -> None:
       for item in thing(range(10)):
           print(f"{item!r}")

=======  =======  ========
Option   Default  Meaning
=======  =======  ========
fast     True     Go *fast*
safe     False    Be careful
=======  =======  ========

- one
- two

  - nested
"""

READMES = [(MARKDOWN, "text/markdown"), (RST, "text/x-rst")]


def metadata(version: str, readme: str, content_type: str) -> str:
    return (
        f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\n"
        f"Summary: upload profile\nDescription-Content-Type: {content_type}\n\n{readme}"
    )


def wheel(directory: Path, version: str, readme: str, content_type: str) -> Path:
    path = directory / f"{STEM}-{version}-py3-none-any.whl"
    dist_info = f"{STEM}-{version}.dist-info"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{STEM}/__init__.py", f'__version__ = "{version}"\n')
        archive.writestr(f"{dist_info}/METADATA", metadata(version, readme, content_type))
        archive.writestr(f"{dist_info}/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n")
        archive.writestr(f"{dist_info}/RECORD", "")
    return path


def fields(path: Path, version: str, readme: str, content_type: str) -> dict:
    return {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": NAME,
        "version": version,
        "summary": "upload profile",
        "description": readme,
        "description_content_type": content_type,
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "sha256_digest": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def descendants(pid: int) -> list[int]:
    # Any thread's children: a request thread starts the fork server.
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children += (task / "children").read_text().split()
        except FileNotFoundError:  # a thread that has just ended
            continue
    return [pid] + [p for child in children for p in descendants(int(child))]


def cpu_seconds(pid: int) -> float:
    """The CPU time of a process and of its children it has waited for."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:  # a renderer that has just exited
        return 0.0
    fields_ = stat.rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(v) for v in fields_[11:15])
    return (utime + stime + cutime + cstime) / TICKS


def server_cpu(master: int) -> float:
    # The worker and the fork server it started (which waits for its renderers).
    return sum(cpu_seconds(pid) for pid in descendants(master) if pid != master)


def render_costs(repeat: int = 20) -> None:
    from packages.rendering import render_description, render_markup

    for readme, content_type in READMES:
        render_description(readme, content_type)  # starts the fork server
        isolated, direct = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            render_description(readme, content_type)
            isolated.append(time.perf_counter() - start)
            start = time.perf_counter()
            render_markup(readme, content_type)
            direct.append(time.perf_counter() - start)
        print(
            f"render {content_type:14} in a child process: median "
            f"{statistics.median(isolated) * 1000:5.1f} ms; in this process: "
            f"{statistics.median(direct) * 1000:5.1f} ms"
        )


def twine_run(server, token: str, files: list[Path], generated, args) -> int:
    """One ``twine upload`` of ``files``; with ``generated`` (our own wheels),
    also wait for the last description to be rendered."""
    command = twine_upload_command(
        f"{server.url}/legacy/", files, username="__token__", password=token
    )
    if args.dists:
        # Real files carry metadata 2.4/2.5: twine >= 7, kept by benchmarks/edge.py.
        sys.path.insert(0, str(REPO / "benchmarks"))
        from edge import twine_venv

        command[0] = str(twine_venv() / "python")
    cpu_before = server_cpu(server.process.pid)
    profiler = None
    if args.py_spy:
        profiler = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--subprocesses",
                "--idle",
                "--format",
                {".json": "speedscope", ".txt": "raw"}.get(args.py_spy.suffix, "flamegraph"),
                "-o",
                str(args.py_spy),
                "--pid",
                str(server.process.pid),
            ],
            stdout=subprocess.DEVNULL,
        )
        time.sleep(1)
    start = time.perf_counter()
    result = run(command, env=dict(os.environ), timeout=600)
    elapsed = time.perf_counter() - start
    if profiler:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(timeout=60)
    if result.returncode:
        raise SystemExit(f"twine failed: {result.stdout[-2000:]}{result.stderr}")
    rendered = ""
    if generated:
        # Descriptions are rendered after each upload's answer, in order: the last
        # one rendered means all are.
        last = f"{server.url}/project/{NAME}/{generated[-1][1]}/"
        while b"being rendered" in (page := http_get(last)).body:
            time.sleep(0.05)
        if page.status != 200 or b"<h3>bench-profile</h3>" not in page.body:
            raise SystemExit(f"{last}: no rendered description: {page.describe()}")
        rendered = (
            f"; the last description rendered {time.perf_counter() - start - elapsed:.1f} s "
            "after twine ended"
        )
    cpu = server_cpu(server.process.pid) - cpu_before
    print(
        f"server code: {args.code}; one twine upload of {len(files)} files: "
        f"{elapsed:.1f} s, {len(files) / elapsed:.1f} files/s; "
        f"server CPU {cpu * 1000 / len(files):.1f} ms per file{rendered}"
    )
    return 0


def pypiserver_run(work: Path, files: list[Path]) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from edge import pypiserver_venv, start_pypiserver, twine_venv

    bin_dir = pypiserver_venv()
    (work / "pypiserver").mkdir()
    server = start_pypiserver(bin_dir, work / "pypiserver", "cached-dir")
    try:
        # pypiserver runs with authentication off: any credentials do.
        command = twine_upload_command(
            f"{server.url}/",
            files,
            username="bench",
            password="bench",  # noqa: S106
        )
        command[0] = str(twine_venv() / "python")
        start = time.perf_counter()
        result = run(command, env=dict(os.environ), timeout=600)
        elapsed = time.perf_counter() - start
    finally:
        stop(server.process)
    if result.returncode:
        raise SystemExit(f"twine failed: {result.stdout[-2000:]}{result.stderr}")
    print(
        f"pypiserver: one twine upload of {len(files)} files: {elapsed:.1f} s, "
        f"{len(files) / elapsed:.1f} files/s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100, help="wheels to upload")
    parser.add_argument("--code", type=Path, default=REPO, help="checkout to serve from")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--twine", action="store_true", help="upload them all with one `twine upload` instead"
    )
    parser.add_argument(
        "--dists",
        type=Path,
        help="with --twine: upload the distributions in this directory (e.g. real ones from "
        "PyPI, as benchmarks/edge.py keeps in .cache/bench-dists) instead of generated wheels",
    )
    parser.add_argument(
        "--pypiserver",
        action="store_true",
        help="with --dists: then the same `twine upload` to pypiserver, as benchmarks/edge.py "
        "starts it (2 gevent workers, cached-dir, its root filled as there)",
    )
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=2, help="gunicorn threads per worker")
    parser.add_argument(
        "--py-spy", type=Path, help="with --twine: record a py-spy profile of the server here"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="upload-profile-"))
    try:
        uploads = []
        for n in range(args.files):
            readme, content_type = READMES[n % 2]
            version = f"1.{n}"
            path = wheel(work, version, readme, content_type)
            uploads.append((path, version, readme, content_type))
        env = server_env(work / "var", os.environ.get("DATABASE_URL"))
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput", "--verbosity", "0")  # the project page's
        token = superuser_with_token(env, "bench", "bench-password-1")
        with gunicorn_server(
            env, work, workers=args.workers, threads=args.threads, cwd=args.code
        ) as server:
            if args.twine:
                files = sorted(args.dists.iterdir()) if args.dists else [u[0] for u in uploads]
                twine_run(server, token, files, None if args.dists else uploads, args)
        if args.twine and args.pypiserver:
            pypiserver_run(work, files)
        if args.twine:
            return 0
            walls, cpus = [], []
            for path, version, readme, content_type in uploads:
                cpu_before = server_cpu(server.process.pid)
                start = time.perf_counter()
                response = post_upload(
                    f"{server.url}/legacy/",
                    ("__token__", token),
                    fields(path, version, readme, content_type),
                    path.name,
                    path,
                )
                walls.append(time.perf_counter() - start)
                cpus.append(server_cpu(server.process.pid) - cpu_before)
                if response.status != 200:
                    raise SystemExit(f"{path.name}: {response.describe()}")
        # The first upload starts the fork server: the steady state is the rest.
        steady = walls[1:] or walls
        print(f"server code: {args.code}; {len(walls)} uploads, one worker")
        print(
            f"per upload: wall median {statistics.median(steady) * 1000:.1f} ms, "
            f"mean {statistics.mean(steady) * 1000:.1f} ms (first {walls[0] * 1000:.0f} ms); "
            f"server CPU mean {statistics.mean(cpus[1:] or cpus) * 1000:.1f} ms"
        )
        print(f"files/s, one at a time: {len(walls) / sum(walls):.1f}")
        render_costs()
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
