#!/usr/bin/env python
"""The figures of issue 12: nginx (the physical limit), the app alone, the app
behind the edge (Varnish with edge/default.vcl) and pypiserver, measured in one
run on one machine with wrk, plus one twine upload of the same real files.

    [DATABASE_URL=postgresql://...] [REDIS_URL=redis://...] \
        .venv/bin/python benchmarks/edge.py [--seconds 10] [--files 270] [--json PATH]

Targets (2 wrk threads, 32 connections, ``--seconds`` per cell, 127.0.0.1 only):

- nginx serving the app's own answers, saved to files (a private nginx on a
  free port, its own prefix and configuration in the run's temporary directory);
- the app alone, gunicorn as `make run` starts it (pypi_site/gunicorn.conf.py,
  2 workers gthread x 4 threads, access log on), on the embedded default
  (SQLite, disk cache) and, when DATABASE_URL names a PostgreSQL server, on a
  throwaway database next to it with REDIS_URL's Redis;
- the app behind the edge (tests/edge.py: a private varnishd by edge/run);
- pypiserver, gunicorn with 2 gevent workers, serving the same files with its
  fastest backend, cached-dir (``--pypiserver-backend simple-dir``: the default
  one, which re-lists the directory on every request); a virtualenv under
  .cache/bench-pypiserver, created on first use.

Pages: the simple page of a 1,000-file project with pip's Accept header (the
app answers JSON) and with ``Accept: text/html``, a round-robin rotation over
200 projects' simple pages (pip's Accept), and a 1 MiB file. The data is
written straight into the database (bulk rows; the 1 MiB file stored on disk)
by this script run under the server's environment, not uploaded.

Behind the edge the rotation starts on an empty cache; the share of its
requests that reached the app is read from varnishstat (MAIN.backend_req) and
from the app's access log.

Uploads: one `twine upload` (twine >= 7 in .cache/bench-twine7: real files carry
metadata 2.4) of the same ``--files`` real distributions to this index (each
database) and to pypiserver. The files are kept in .cache/bench-dists; when
that holds too few, it is filled from ``--real-files-from`` (directories of
distributions downloaded from PyPI: by default the machine's pip mirror
/opt/pypi/files and /opt/pypi-more/files), the smallest ones first.

Every process started here (nginx, gunicorn, varnishd) is stopped by its PID.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urljoin, urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.run import (  # noqa: E402
    BenchError,
    Settings,
    check_get,
    ensure_wrk,
    links_in,
    run_wrk,
    wrk_figures,
)
from tests.edge import start_edge, stop_edge  # noqa: E402
from tests.liveserver import (  # noqa: E402
    LiveServerError,
    free_port,
    is_postgresql,
    manage,
    server_env,
    start_gunicorn,
    stop,
    superuser_with_token,
    throwaway_postgresql_database,
    twine_upload_command,
)

MiB = 1024 * 1024
CACHE = REPO / ".cache"
PYPISERVER_VENV = CACHE / "bench-pypiserver"
TWINE_VENV = CACHE / "bench-twine7"
DISTS = CACHE / "bench-dists"
DEFAULT_REAL_FILES = ("/opt/pypi/files", "/opt/pypi-more/files")
REAL_FILE_MAX_BYTES = 300 * 1024

# What pip (24 and later) sends to a simple page.
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
BIG, BIG_VERSIONS = "bench-big", 500  # x (wheel + sdist) = 1,000 files
SMALL = [f"bench-small-{i:03d}" for i in range(200)]
ONEMEG = "bench-onemeg"
ONEMEG_FILE = "bench_onemeg-1.0-py3-none-any.whl"

PAGES = {
    "simple_1000": "simple page, 1,000 files (pip's Accept)",
    "simple_1000_html": "simple page, 1,000 files (text/html)",
    "rotation_200": "rotation over 200 simple pages (pip's Accept)",
    "file_1mib": "1 MiB file",
}
SIMPLE_PAGES = ("simple_1000", "simple_1000_html", "rotation_200")


def log(message: str) -> None:
    print(message, flush=True)


# --- Data ------------------------------------------------------------------------


def big_filenames() -> list[str]:
    stem = BIG.replace("-", "_")
    names = []
    for i in range(BIG_VERSIONS):
        names += [f"{stem}-1.{i}-py3-none-any.whl", f"{stem}-1.{i}.tar.gz"]
    return names


def small_filename(name: str) -> str:
    return f"{name.replace('-', '_')}-1.0-py3-none-any.whl"


def onemeg_bytes() -> bytes:
    # Fixed bytes: every target serves the same file.
    return b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(MiB // 32))


def populate() -> None:
    """Run under the server's environment (``--populate``): the three kinds of
    project as bulk rows, and the 1 MiB file stored where the app serves it."""
    import django

    django.setup()
    from django.db import transaction

    from packages.models import File, Project, Release
    from packages.storage import file_path, store_bytes

    def file_row(release, filename: str, content: bytes) -> File:
        blake2 = hashlib.blake2b(content, digest_size=32).hexdigest()
        wheel = filename.endswith(".whl")
        return File(
            release=release,
            filename=filename,
            packagetype="bdist_wheel" if wheel else "sdist",
            python_version="py3" if wheel else "source",
            size=len(content),
            md5_digest=hashlib.md5(content, usedforsecurity=False).hexdigest(),
            sha256_digest=hashlib.sha256(content).hexdigest(),
            blake2_256_digest=blake2,
            path=file_path(blake2_256_digest=blake2, filename=filename),
        )

    def project(name: str, versions: list[str]) -> list:
        created = Project.objects.create(name=name, normalized_name=name, last_serial=1)
        return Release.objects.bulk_create(
            Release(
                project=created,
                version=version,
                canonical_version=version,
                metadata_version="2.1",
                summary="A benchmark project",
            )
            for version in versions
        )

    with transaction.atomic():
        files = []
        releases = project(BIG, [f"1.{i}" for i in range(BIG_VERSIONS)])
        names = big_filenames()
        for n, release in enumerate(releases):
            for filename in names[2 * n : 2 * n + 2]:
                files.append(file_row(release, filename, filename.encode()))
        for name in SMALL:
            (release,) = project(name, ["1.0"])
            files.append(file_row(release, small_filename(name), name.encode()))
        (release,) = project(ONEMEG, ["1.0"])
        onemeg = file_row(release, ONEMEG_FILE, onemeg_bytes())
        store_bytes(onemeg.path, onemeg_bytes())
        files.append(onemeg)
        File.objects.bulk_create(files)


def fill_pypiserver_root(root: Path) -> None:
    for filename in big_filenames():
        (root / filename).write_bytes(filename.encode())
    for name in SMALL:
        (root / small_filename(name)).write_bytes(name.encode())
    (root / ONEMEG_FILE).write_bytes(onemeg_bytes())


def core_metadata_ok(path: Path) -> bool:
    """Whether the file's core metadata is valid as twine 7 checks it (packaging's
    validation): some files on PyPI carry fields newer than their Metadata-Version."""
    from packaging.metadata import Metadata

    try:
        if path.name.endswith(".whl"):
            with zipfile.ZipFile(path) as archive:
                member = next(
                    n
                    for n in archive.namelist()
                    if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
                )
                data = archive.read(member)
        else:
            with tarfile.open(path) as archive:
                member = next(
                    m
                    for m in archive.getmembers()
                    if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")
                )
                data = archive.extractfile(member).read()
        Metadata.from_email(data, validate=True)
    except Exception:  # any failure: not a file for this benchmark
        return False
    return True


def real_files(count: int, sources: list[str]) -> list[Path]:
    """``count`` real distributions in .cache/bench-dists, filled from ``sources``
    (the smallest files with valid metadata first)."""
    DISTS.mkdir(parents=True, exist_ok=True)
    have = sorted(p for p in DISTS.iterdir() if p.name.endswith((".whl", ".tar.gz")))
    for path in have:
        if not core_metadata_ok(path):
            path.unlink()
    have = sorted(p for p in DISTS.iterdir() if p.name.endswith((".whl", ".tar.gz")))
    if len(have) < count:
        candidates = sorted(
            (
                path
                for source in sources
                if Path(source).is_dir()
                for path in Path(source).iterdir()
                if path.name.endswith((".whl", ".tar.gz"))
                and path.stat().st_size <= REAL_FILE_MAX_BYTES
            ),
            key=lambda path: (path.stat().st_size, path.name),
        )
        names = {path.name for path in have}
        for path in candidates:
            if len(names) >= count:
                break
            if path.name not in names and core_metadata_ok(path):
                shutil.copyfile(path, DISTS / path.name)
                names.add(path.name)
        have = sorted(p for p in DISTS.iterdir() if p.name.endswith((".whl", ".tar.gz")))
    if len(have) < count:
        log(
            f"only {len(have)} real files in {DISTS.relative_to(REPO)} (asked {count}): "
            "fill it with `pip download --no-deps -d .cache/bench-dists <small packages>`"
        )
    return have[:count]


# --- Tools -------------------------------------------------------------------------


def ensure_venv(venv: Path, probe: str, requirements: list[str]) -> Path:
    python = venv / "bin" / "python"
    if (
        python.exists()
        and subprocess.run([python, "-c", probe], capture_output=True).returncode == 0
    ):
        return venv / "bin"
    log(f"installing {' '.join(requirements)} into {venv.relative_to(REPO)}")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", *requirements], check=True)
    return venv / "bin"


def pypiserver_venv() -> Path:
    """The bin directory of the pypiserver venv (made on first use)."""
    return ensure_venv(
        PYPISERVER_VENV,
        "import pypiserver, gevent, gunicorn, passlib, watchdog",
        ["pypiserver[passlib]", "gevent", "gunicorn", "watchdog"],
    )


def twine_venv() -> Path:
    """The bin directory of a venv with twine >= 7 (real files carry metadata 2.4/2.5)."""
    return ensure_venv(TWINE_VENV, "import twine", ["twine>=7"])


def ensure_nginx() -> str:
    found = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
    if not found:
        raise SystemExit("nginx is not installed: apt-get install -y nginx")
    return found


# --- Servers ----------------------------------------------------------------------


def nginx_conf(prefix: Path, port: int) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"  {name}_temp_path {prefix / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""# generated by benchmarks/edge.py
{user}worker_processes 2;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"};
events {{ worker_connections 1024; }}
http {{
  access_log off;
{temp}
  types {{
    {JSON_TYPE} json;
    text/html html;
    application/octet-stream whl gz;
  }}
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 75s;
  keepalive_requests 10000000;
  # pip's Accept gets the JSON answer, as from the app; text/html the HTML one.
  map $http_accept $variant {{
    default json;
    text/html html;
  }}
  server {{
    listen 127.0.0.1:{port};
    root {prefix / "root"};
    location /simple/ {{ index index.$variant; }}
  }}
}}
"""


def start_nginx(binary: str, prefix: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_conf(prefix, port))
    process = subprocess.Popen(
        [
            binary,
            "-p",
            str(prefix),
            "-c",
            str(conf),
            "-e",
            str(prefix / "error.log"),
            "-g",
            "daemon off;",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(prefix / "stderr.log", "wb"),  # noqa: SIM115
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            check_get(url + f"/simple/{BIG}/", {"Accept": PIP_ACCEPT})
            return process, url
        except (OSError, BenchError):
            if process.poll() is not None:
                break
            time.sleep(0.1)
    stop(process)
    raise BenchError(f"nginx did not start: {(prefix / 'stderr.log').read_text()}")


def save_for_nginx(root: Path, app_url: str) -> None:
    """The app's own answers, as files nginx serves at the same paths."""
    for name in [BIG, ONEMEG, *SMALL]:
        directory = root / "simple" / name
        directory.mkdir(parents=True)
        page = check_get(f"{app_url}/simple/{name}/", {"Accept": PIP_ACCEPT})
        (directory / "index.json").write_bytes(page.body)
        if name == BIG:
            html = check_get(f"{app_url}/simple/{name}/", {"Accept": "text/html"})
            (directory / "index.html").write_bytes(html.body)
    url = onemeg_url(app_url)
    target = root / urlsplit(url).path.lstrip("/")
    target.parent.mkdir(parents=True)
    target.write_bytes(check_get(url).body)


def onemeg_url(base_url: str) -> str:
    page_url = f"{base_url}/simple/{ONEMEG}/"
    page = check_get(page_url, {"Accept": PIP_ACCEPT})
    href = links_in(page).get(ONEMEG_FILE)
    if not href:
        raise BenchError(f"{ONEMEG_FILE} is not on {page_url}")
    return urljoin(page_url, href)


def start_pypiserver(bin_dir: Path, workdir: Path, backend: str):
    root = workdir / "pypiserver-packages"
    root.mkdir()
    fill_pypiserver_root(root)
    app = (
        f"pypiserver:app(root={str(root)!r}, authenticate=[], password_file='.', "
        f"disable_fallback=True, backend_arg={backend!r})"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYPISERVER")}
    return start_gunicorn(
        env,
        workdir,
        app=app,
        gunicorn=[str(bin_dir / "gunicorn")],
        cwd=workdir,
        name="gunicorn-pypiserver",
        workers=2,
        worker_class="gevent",
        threads=None,
        timeout=300,
        health_path="/health",
        start_timeout=90,
    )


# --- Measuring --------------------------------------------------------------------


def rotation_script(path: Path, pages: list[str]) -> Path:
    """A wrk script sending each thread's requests round-robin over ``pages``."""
    table = ",\n".join(f"  {json.dumps(page)}" for page in pages)
    path.write_text(
        "-- generated by benchmarks/edge.py\n"
        f"local paths = {{\n{table}\n}}\n"
        "local i = 0\n"
        "function request()\n"
        "  i = i % #paths + 1\n"
        "  return wrk.format(nil, paths[i])\n"
        "end\n"
    )
    return path


class Bench:
    def __init__(self, settings: Settings, workdir: Path):
        self.settings = settings
        self.workdir = workdir
        self.results: dict[str, dict[str, dict]] = {}
        self.rotation = rotation_script(
            workdir / "rotation.lua", [f"/simple/{name}/" for name in SMALL]
        )

    def cell(self, target: str, page: str, func) -> dict | None:
        try:
            figures = func()
        except (BenchError, LiveServerError, OSError, subprocess.SubprocessError) as error:
            figures = {"error": str(error)}
        self.results.setdefault(target, {})[page] = figures
        shown = ", ".join(f"{k}={v}" for k, v in figures.items() if not isinstance(v, dict))
        log(f"[{target}] {page}: {shown}")
        return None if "error" in figures else figures

    def pages(self, target: str, base_url: str, *, rotation_extra=None) -> None:
        big = f"{base_url}/simple/{BIG}/"

        def simple(accept: str) -> dict:
            page = check_get(big, {"Accept": accept})  # warms the caches
            listed = len(links_in(page))
            if listed != 2 * BIG_VERSIONS:
                raise BenchError(f"{big} lists {listed} files, expected {2 * BIG_VERSIONS}")
            check_get(big, {"Accept": accept})
            return {
                **wrk_figures(run_wrk(self.settings, big, {"Accept": accept})),
                "kib": round(len(page.body) / 1024, 1),
            }

        def rotation() -> dict:
            if rotation_extra is None:
                # The app's own cache filled, as for the other pages; the edge
                # starts empty so that its misses are counted.
                for name in SMALL:
                    check_get(f"{base_url}/simple/{name}/", {"Accept": PIP_ACCEPT})
            before = rotation_extra() if rotation_extra else None
            result = run_wrk(
                self.settings, base_url + "/", {"Accept": PIP_ACCEPT}, script=self.rotation
            )
            figures = {**wrk_figures(result), "requests": result.requests}
            if rotation_extra:
                figures.update(rotation_extra(before, result.requests))
            return figures

        def download() -> dict:
            url = onemeg_url(base_url)
            body = check_get(url).body
            if body != onemeg_bytes():
                raise BenchError(f"{url} served other bytes than were stored")
            check_get(url)
            result = run_wrk(self.settings, url)
            return {**wrk_figures(result), "mib_per_s": round(result.transfer_per_s / MiB, 1)}

        self.cell(target, "simple_1000", lambda: simple(PIP_ACCEPT))
        self.cell(target, "simple_1000_html", lambda: simple("text/html"))
        self.cell(target, "rotation_200", rotation)
        self.cell(target, "file_1mib", download)

    def twine(self, target: str, twine_bin: Path, url: str, auth, files: list[Path]) -> None:
        def upload() -> dict:
            env = {k: v for k, v in os.environ.items() if not k.startswith("TWINE_")}
            env.update(
                PIP_CONFIG_FILE=os.devnull,
                PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
                NO_COLOR="1",
            )
            command = twine_upload_command(url, files, username=auth[0], password=auth[1])
            command[0] = str(twine_bin / "python")
            started = time.monotonic()
            result = subprocess.run(
                command, cwd=self.workdir, env=env, capture_output=True, text=True, timeout=900
            )
            elapsed = time.monotonic() - started
            if result.returncode != 0:
                lines = [line for line in (result.stdout + result.stderr).splitlines() if line]
                raise BenchError(f"twine exited {result.returncode}: " + " | ".join(lines[-4:]))
            return {
                "files": len(files),
                "seconds": round(elapsed, 2),
                "files_per_s": round(len(files) / elapsed, 1),
            }

        self.cell(target, "twine_upload", upload)


def varnish_counter(workdir: Path, name: str) -> int:
    result = subprocess.run(
        ["varnishstat", "-n", str(workdir), "-1", "-f", name],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    for line in result.stdout.splitlines():
        if line.split()[:1] == [name]:
            return int(line.split()[1])
    raise BenchError(f"varnishstat gave no {name}: {result.stdout}{result.stderr}")


def varnish_backend_requests(workdir: Path) -> int:
    return varnish_counter(workdir, "MAIN.backend_req")


def health_answers(access_log: Path) -> dict[str, int]:
    """The app's answers to the edge's health probe, by status (access log)."""
    counts: dict[str, int] = {}
    if access_log.exists():
        with access_log.open(errors="replace") as handle:
            for line in handle:
                if '"GET /_health/' in line:
                    status = line.split('" ', 1)[1].split()[0] if '" ' in line else "?"
                    counts[status] = counts.get(status, 0) + 1
    return counts


def app_rotation_hits(access_log: Path) -> int:
    if not access_log.exists():
        return 0
    with access_log.open(errors="replace") as handle:
        return sum(1 for line in handle if "/simple/bench-small-" in line)


def measure_app(
    bench: Bench, label: str, env: dict, files: list[Path], twine_bin: Path, nginx_root: Path | None
) -> None:
    """The app on one database: alone, then behind the edge; then the upload."""
    workdir = bench.workdir / label
    workdir.mkdir()
    started = time.monotonic()
    manage(env, "migrate", "--noinput")
    result = subprocess.run(
        [sys.executable, __file__, "--populate"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"populating failed:\n{result.stdout}\n{result.stderr}")
    token = superuser_with_token(env, "bencher", secrets.token_urlsafe(24))
    log(f"[{label}] migrated and populated in {time.monotonic() - started:.1f}s")
    access_log = workdir / "access.log"
    server = start_gunicorn(
        env,
        workdir,
        name=f"gunicorn-{label}",
        workers=2,
        threads=4,
        timeout=300,
        access_log=access_log,
        start_timeout=90,
    )
    edge = None
    try:
        if nginx_root is not None:
            save_for_nginx(nginx_root, server.url)
        bench.pages(f"app {label}", server.url)
        edge_dir = workdir / "edge"
        edge_dir.mkdir()
        edge_dir.chmod(0o755)  # varnishd's worker runs as the varnish user
        workdir.chmod(0o755)
        bench.workdir.chmod(0o755)
        edge = start_edge(server.url, edge_dir)
        varnish_dir = edge_dir / f"varnish-{edge.port}"

        def origin_share(before=None, requests=None):
            if requests is None:
                return (varnish_backend_requests(varnish_dir), app_rotation_hits(access_log))
            backend = varnish_backend_requests(varnish_dir) - before[0]
            logged = app_rotation_hits(access_log) - before[1]
            return {
                "backend_req": backend,
                "app_log_lines": logged,
                "origin_pct": round(100 * backend / requests, 3),
            }

        bench.pages(f"edge {label}", edge.url, rotation_extra=origin_share)
        # Whether the edge held the app for down during the load (its probe,
        # /_health/, answering late or not 200): misses then get the edge's 503.
        bench.results[f"edge {label}"]["probe"] = {
            "backend_unhealthy": varnish_counter(varnish_dir, "MAIN.backend_unhealthy"),
            "app_health_answers": health_answers(access_log),
        }
        log(f"[edge {label}] probe: {bench.results[f'edge {label}']['probe']}")
        stop_edge(edge)
        edge = None
        bench.twine(f"app {label}", twine_bin, f"{server.url}/legacy/", ("__token__", token), files)
    finally:
        if edge is not None:
            stop_edge(edge)
        stop(server.process)


# --- Report -----------------------------------------------------------------------


def figure(results: dict, target: str, page: str, key: str):
    entry = results.get(target, {}).get(page)
    if entry is None:
        return None
    return entry.get(key, "error" if "error" in entry else None)


def report(results: dict, header: list[str]) -> str:
    targets = [t for t in results if t != "pypiserver"] + (
        ["pypiserver"] if "pypiserver" in results else []
    )
    width = 16
    lines = [*header, "", f"{'req/s (p99 ms)':30}" + "".join(f"{t:>{width}}" for t in targets)]
    lines.append("-" * len(lines[-1]))
    for page in PAGES:
        row = f"{page:30}"
        for target in targets:
            rps = figure(results, target, page, "req_per_s")
            p99 = figure(results, target, page, "p99_ms")
            cell = f"{rps:,.0f} ({p99:.1f})" if isinstance(rps, float) else str(rps or "-")
            row += f"{cell:>{width}}"
        lines.append(row)
    upload_row = f"{'twine upload files/s':30}"
    for target in targets:
        value = figure(results, target, "twine_upload", "files_per_s")
        upload_row += f"{value if value is not None else '-':>{width}}"
    lines += [upload_row, ""]
    lines += [f"  {page}: {title}" for page, title in PAGES.items()]
    lines.append("")

    def ratio(a, b):
        return a / b if isinstance(a, float) and isinstance(b, float) and b else None

    lines.append("Targets of issue 12:")
    labels = [t.split(" ", 1)[1] for t in targets if t.startswith("app ")]
    for label in labels:
        for page in PAGES:
            value = ratio(
                figure(results, f"edge {label}", page, "req_per_s"),
                figure(results, "nginx", page, "req_per_s"),
            )
            if value is not None:
                lines.append(
                    f"  edge {label} / nginx, {page}: {value:.0%} "
                    f"(>= 50%: {'met' if value >= 0.5 else 'MISSED'})"
                )
        for page in SIMPLE_PAGES:
            value = ratio(
                figure(results, f"app {label}", page, "req_per_s"),
                figure(results, "pypiserver", page, "req_per_s"),
            )
            p99 = figure(results, f"app {label}", page, "p99_ms")
            if value is not None and isinstance(p99, float):
                met = value >= 2 and p99 < 25
                lines.append(
                    f"  app {label} / pypiserver, {page}: {value:.2f}x, p99 {p99:.1f} ms "
                    f"(>= 2x and p99 < 25 ms: {'met' if met else 'MISSED'})"
                )
        share = figure(results, f"edge {label}", "rotation_200", "origin_pct")
        if isinstance(share, float):
            entry = results[f"edge {label}"]["rotation_200"]
            lines.append(
                f"  origin share of the rotation behind the edge ({label}): {share:.3f}% "
                f"({entry['backend_req']} backend requests, {entry['app_log_lines']} in the "
                f"app's access log, of {entry['requests']}; < 2%: "
                f"{'met' if share < 2 else 'MISSED'})"
            )
        value = ratio(
            figure(results, f"app {label}", "twine_upload", "files_per_s"),
            figure(results, "pypiserver", "twine_upload", "files_per_s"),
        )
        if value is not None:
            lines.append(
                f"  uploads app {label} / pypiserver: {value:.2f}x "
                f"(>= 1: {'met' if value >= 1 else 'MISSED'})"
            )
    problems = [
        f"  {target} {page}: {entry['error']}"
        for target, pages in results.items()
        for page, entry in pages.items()
        if "error" in entry
    ]
    if problems:
        lines += ["", "Not measured:", *problems]
    return "\n".join(lines)


# --- Main ---------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per cell")
    parser.add_argument("--files", type=int, default=270, help="real files for twine")
    parser.add_argument(
        "--real-files-from",
        action="append",
        metavar="DIR",
        help="directories of real distributions to fill .cache/bench-dists from",
    )
    parser.add_argument("--skip-postgresql", action="store_true")
    parser.add_argument(
        "--pypiserver-backend",
        choices=["cached-dir", "simple-dir"],
        default="cached-dir",
        help="cached-dir (its fastest, watchdog) or simple-dir (re-lists on every request)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--populate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 60:
        parser.error("--seconds must be between 1 and 60")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.populate:
        populate()
        return 0
    started = time.monotonic()
    # The code the servers run: read before they start (the tree may move on).
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    if changed:
        commit += f" + {len(changed)} uncommitted changes to tracked files"
    settings = Settings(wrk=ensure_wrk(False), duration=args.seconds)
    nginx = ensure_nginx()
    pypiserver_bin = pypiserver_venv()
    twine_bin = twine_venv()
    files = real_files(args.files, args.real_files_from or list(DEFAULT_REAL_FILES))
    log(f"{len(files)} real files for twine, {sum(p.stat().st_size for p in files) / MiB:.1f} MiB")

    workdir = Path(tempfile.mkdtemp(prefix="pypi-edge-bench-"))
    workdir.chmod(0o755)
    bench = Bench(settings, workdir)
    tag = secrets.token_hex(3)

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    nginx_root = workdir / "nginx" / "root"
    nginx_root.mkdir(parents=True)
    admin_url = os.environ.get("DATABASE_URL", "")
    try:
        with ExitStack() as stack:
            configs = [("SQLite", None)]
            if is_postgresql(admin_url) and not args.skip_postgresql:
                if not os.environ.get("REDIS_URL"):
                    raise SystemExit("a PostgreSQL DATABASE_URL needs REDIS_URL (settings refuse)")
                url, _ = stack.enter_context(
                    throwaway_postgresql_database(admin_url, f"edge_bench_{tag}")
                )
                configs.append(("PG+Redis", url))
            for label, database_url in configs:
                env = server_env(
                    workdir / label / "var",
                    database_url,
                    LOG_LEVEL="WARNING",
                    CACHE_KEY_PREFIX=f"edge-bench-{tag}",
                    RATELIMIT_PROJECT_CREATE="1000000/3600",
                    DOWNLOAD_COUNTS="false",
                )
                if database_url is None:
                    env.pop("REDIS_URL", None)  # the embedded default: disk cache
                try:
                    measure_app(
                        bench,
                        label,
                        env,
                        files,
                        twine_bin,
                        nginx_root if database_url is None else None,
                    )
                except (BenchError, LiveServerError) as error:
                    bench.results.setdefault(f"app {label}", {})["start"] = {"error": str(error)}
                    log(f"[{label}] ERROR {error}")

            if (nginx_root / "simple" / BIG).exists():
                process, url = start_nginx(nginx, workdir / "nginx")
                try:
                    bench.pages("nginx", url)
                finally:
                    stop(process)

            server = start_pypiserver(pypiserver_bin, workdir, args.pypiserver_backend)
            try:
                bench.pages("pypiserver", server.url)
                bench.twine("pypiserver", twine_bin, f"{server.url}/", ("bench", "bench"), files)
            finally:
                stop(server.process)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    header = [
        "=" * 78,
        f"benchmarks/edge.py {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, commit {commit}, "
        f"{time.monotonic() - started:.0f} s",
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "app: gunicorn 2 workers gthread x4 (access log on); edge: varnishd edge/default.vcl; "
        f"nginx: 2 workers; pypiserver: gunicorn 2 gevent workers, {args.pypiserver_backend}",
        f"wrk -t{settings.wrk_threads} -c{settings.connections} -d{settings.duration}s; "
        f"twine upload of {len(files)} real files (twine 7)",
        "=" * 78,
    ]
    print()
    print(report(bench.results, header))
    if args.json:
        args.json.write_text(
            json.dumps({"header": header, "results": bench.results}, indent=2) + "\n"
        )
    failed = any("error" in entry for pages in bench.results.values() for entry in pages.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
