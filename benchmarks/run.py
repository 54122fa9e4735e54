#!/usr/bin/env python
"""Load and scale figures for the index, side by side with pypiserver.

    .venv/bin/python benchmarks/run.py [--quick] [--skip-pypiserver] [--skip-big-upload]

Builds its own data in a temporary directory, starts the index with production
settings (DEBUG off, gunicorn) on a free port of 127.0.0.1, populates it through
the real upload endpoint, measures it with wrk and twine, does the same against
pypiserver, and prints a table. Nothing is written into the repository except
the pypiserver virtualenv under benchmarks/.venv-pypiserver. See
docs/benchmarks.md for what each figure means.

Every load goes to 127.0.0.1 only, each wrk run has a fixed duration, and every
process this script starts is stopped by its PID before it exits.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import importlib.util
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "benchmarks"
PYPISERVER_VENV = BENCH_DIR / ".venv-pypiserver"
PYPISERVER_REQUIREMENTS = ["pypiserver[passlib]", "gevent", "gunicorn"]

sys.path.insert(0, str(REPO))
from packaging.utils import canonicalize_name  # noqa: E402

from tests.factories import Dist, core_metadata, make_sdist, make_wheel, wheel_stem  # noqa: E402
from tests.liveserver import (  # noqa: E402
    LiveServerError,
    Response,
    http_get,
    manage,
    post_upload,
    server_env,
    start_gunicorn,
    stop,
    superuser_with_token,
    twine_upload_command,
)

MiB = 1024 * 1024
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
USER_AGENT = "pypi-site-benchmarks"
BIG_PROJECT_VERSIONS = 500  # x (wheel + sdist) = 1,000 files
SMALL_PROJECTS = 200
TWINE_PROJECTS, TWINE_VERSIONS = 25, 5  # x (wheel + sdist) = 250 files


class BenchError(Exception):
    """A step could not produce its figure; the message says why."""


class NotSupported(BenchError):
    """The server under test does not offer this feature at all (shown as n/a)."""


def log(message: str) -> None:
    print(message, flush=True)


# --- Tools ---------------------------------------------------------------------


def ensure_wrk(install: bool) -> str:
    found = shutil.which("wrk")
    if found:
        return found
    hint = "wrk is not installed: apt-get install -y wrk (Debian package 'wrk')"
    if not install:
        raise SystemExit(f"{hint}\n(or rerun as root with --install to let this script do it)")
    if os.geteuid() != 0:
        raise SystemExit(f"{hint}\n--install needs root.")
    log("installing wrk with apt-get ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "wrk"], env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], env=env, check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit(f"apt-get ran but wrk is still missing. {hint}")
    return found


def ensure_twine() -> None:
    if importlib.util.find_spec("twine") is None:
        raise SystemExit(
            f"twine is missing from {sys.prefix}: run `make install` (twine is a dev dependency)."
        )


def ensure_pypiserver(cache: bool) -> Path:
    """A separate virtualenv with pypiserver, gevent and gunicorn; its bin/ dir.

    With ``cache``, also watchdog, which pypiserver's cached-dir backend needs.
    """
    bin_dir = PYPISERVER_VENV / "bin"
    requirements = [*PYPISERVER_REQUIREMENTS, *(["watchdog"] if cache else [])]
    modules = "pypiserver, gevent, passlib, gunicorn" + (", watchdog" if cache else "")
    probe = [str(bin_dir / "python"), "-c", f"import {modules}"]
    if (bin_dir / "python").exists():
        if subprocess.run(probe, capture_output=True).returncode == 0:
            return bin_dir
    else:
        log(f"creating {PYPISERVER_VENV.relative_to(REPO)}")
        subprocess.run([sys.executable, "-m", "venv", str(PYPISERVER_VENV)], check=True)
    log(f"installing {' '.join(requirements)} into {PYPISERVER_VENV.relative_to(REPO)}")
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", *requirements], check=True
    )
    return bin_dir


# --- Data ----------------------------------------------------------------------


@dataclass
class Corpus:
    tag: str
    big_name: str
    big: list[Dist]
    small_names: list[str]
    small: list[Dist]
    onemeg: Dist
    onemeg_name: str
    twine_files: list[Path]

    @property
    def populate(self) -> list[Dist]:
        return [*self.big, *self.small, self.onemeg]


def build_corpus(workdir: Path, tag: str) -> Corpus:
    """Every distribution the run uploads, names carrying the run's tag so a reused
    PostgreSQL database never sees a filename twice."""
    big_name = f"bench-big-{tag}"
    big = []
    for i in range(BIG_PROJECT_VERSIONS):
        version = f"1.{i}"
        big += [make_wheel(big_name, version), make_sdist(big_name, version)]
    small_names = [f"bench-small-{tag}-{i:03d}" for i in range(SMALL_PROJECTS)]
    small = [make_wheel(name, "1.0") for name in small_names]
    onemeg_name = f"bench-onemeg-{tag}"
    payload = {f"{wheel_stem(onemeg_name)}/payload.bin": os.urandom(MiB)}
    onemeg = make_wheel(onemeg_name, "1.0", files=payload)

    twine_dir = workdir / "twine-dists"
    twine_dir.mkdir()
    twine_files = []
    for p in range(TWINE_PROJECTS):
        name = f"bench-tw-{tag}-{p:02d}"
        for v in range(TWINE_VERSIONS):
            for dist in (make_wheel(name, f"2.{v}"), make_sdist(name, f"2.{v}")):
                path = twine_dir / dist.filename
                path.write_bytes(dist.content)
                twine_files.append(path)
    return Corpus(tag, big_name, big, small_names, small, onemeg, onemeg_name, twine_files)


@dataclass
class BigFile:
    path: Path
    size: int
    fields: dict


def _record_line(path: str, digest: bytes, size: int) -> str:
    encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return f"{path},sha256={encoded},{size}"


def build_big_wheel(directory: Path, name: str, payload_mib: int) -> BigFile:
    """A valid wheel with one ZIP_STORED member of random bytes, streamed to disk."""
    version = "1.0"
    stem = wheel_stem(name)
    dist_info = f"{stem}-{version}.dist-info"
    path = directory / f"{stem}-{version}-py3-none-any.whl"
    metadata = core_metadata(name, version, summary="A big benchmark upload")
    small_members = {
        f"{stem}/__init__.py": f'VERSION = "{version}"\n'.encode(),
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: benchmarks\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        member = f"{stem}/payload.bin"
        info = zipfile.ZipInfo(member, date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        info.file_size = payload_mib * MiB  # known up front: no ZIP64 needed below 2 GiB
        digest = hashlib.sha256()
        with archive.open(info, "w") as out:
            for _ in range(payload_mib):
                chunk = os.urandom(MiB)
                digest.update(chunk)
                out.write(chunk)
        record.append(_record_line(member, digest.digest(), payload_mib * MiB))
        for member_path, data in small_members.items():
            archive.writestr(zipfile.ZipInfo(member_path, date_time=(2024, 1, 1, 0, 0, 0)), data)
            record.append(_record_line(member_path, hashlib.sha256(data).digest(), len(data)))
        record.append(f"{dist_info}/RECORD,,")
        archive.writestr(
            zipfile.ZipInfo(f"{dist_info}/RECORD", date_time=(2024, 1, 1, 0, 0, 0)),
            "\n".join(record) + "\n",
        )
    sha256 = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    blake2 = hashlib.blake2b(digest_size=32)
    with path.open("rb") as handle:
        while chunk := handle.read(4 * MiB):
            sha256.update(chunk)
            md5.update(chunk)
            blake2.update(chunk)
    # The same fields twine derives from the metadata (see Dist.form()).
    fields = make_wheel(name, version, metadata=metadata).form(
        sha256_digest=sha256.hexdigest(),
        md5_digest=md5.hexdigest(),
        blake2_256_digest=blake2.hexdigest(),
    )
    return BigFile(path, path.stat().st_size, fields)


# --- HTTP --------------------------------------------------------------------


# --- Servers -------------------------------------------------------------------


@dataclass
class Server:
    name: str
    base_url: str
    proc: subprocess.Popen
    log_path: Path
    upload_url: str = ""
    auth: tuple[str, str] = ("", "")
    describe: str = ""

    def stop(self) -> None:
        """SIGTERM to the gunicorn master we started (it stops its own workers)."""
        stop(self.proc)


def _ours_env(workdir: Path, tag: str, big_upload_limit: int) -> dict:
    (workdir / "upload-tmp").mkdir(exist_ok=True)
    return server_env(
        workdir / "var",
        os.environ.get("DATABASE_URL"),
        SECRET_KEY=secrets.token_urlsafe(50),
        FILE_UPLOAD_TEMP_DIR=str(workdir / "upload-tmp"),
        UPLOAD_MAX_BYTES=str(big_upload_limit),
        LOG_LEVEL="WARNING",
        CACHE_KEY_PREFIX=f"bench-{tag}",
        # One user creates every benchmark project: far over the abuse limit.
        RATELIMIT_PROJECT_CREATE="1000000/3600",
    )


def start_ours(workdir: Path, tag: str, workers: int, threads: int, big_mib: int) -> Server:
    # The default per-file limit (100 MiB) would refuse the big upload.
    env = _ours_env(workdir, tag, big_upload_limit=max(600_000_000, (big_mib + 16) * MiB))
    t0 = time.monotonic()
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    username = f"bench{tag}"
    token = superuser_with_token(env, username, secrets.token_urlsafe(24))
    if not token or "\n" in token:
        raise BenchError(f"create_api_token printed {token!r}, expected one token")
    log(f"[ours] database ready in {time.monotonic() - t0:.1f}s (user {username}, token minted)")
    gunicorn = start_gunicorn(
        env,
        workdir,
        name="gunicorn-ours",
        workers=workers,
        threads=threads,
        timeout=300,
        graceful_timeout=10,
        start_timeout=90,
    )
    return Server(
        "ours",
        gunicorn.url,
        gunicorn.process,
        gunicorn.log_path,
        upload_url=f"{gunicorn.url}/legacy/",
        auth=("__token__", token),
        describe=f"gunicorn {workers} workers gthread x{threads} threads",
    )


def start_pypiserver(workdir: Path, bin_dir: Path, workers: int, cache: bool) -> Server:
    root = workdir / "pypiserver-packages"
    root.mkdir()
    # -a . -P . : nobody needs to authenticate, uploads included. The backend is
    # named: "auto" would pick cached-dir whenever watchdog happens to be installed.
    backend = "cached-dir" if cache else "simple-dir"
    app = (
        f"pypiserver:app(root={str(root)!r}, authenticate=[], password_file='.', "
        f"disable_fallback=True, backend_arg={backend!r})"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYPISERVER")}
    gunicorn = start_gunicorn(
        env,
        workdir,
        app=app,
        gunicorn=[str(bin_dir / "gunicorn")],
        cwd=workdir,
        name="gunicorn-pypiserver",
        workers=workers,
        worker_class="gevent",
        threads=None,
        timeout=300,
        graceful_timeout=10,
        health_path="/health",
        start_timeout=90,
    )
    return Server(
        "pypiserver",
        gunicorn.url,
        gunicorn.process,
        gunicorn.log_path,
        upload_url=f"{gunicorn.url}/",
        auth=("bench", "bench"),
        describe=f"gunicorn {workers} workers gevent, {backend} backend",
    )


# --- Measuring -------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
SOCKET_ERRORS = ("connect", "read", "write", "timeout")
_SIZES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    transfer_per_s: float  # bytes
    requests: int
    non_2xx_3xx: int
    socket_errors: dict = field(default_factory=dict)


def parse_wrk(output: str) -> WrkResult:
    def latency(percent: str) -> float:
        match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.M)
        if not match:
            raise BenchError(f"no {percent}% line in wrk output:\n{output}")
        return float(match[1]) * _UNITS[match[2]]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)([KMGT]?B)", output)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and transfer and total):
        raise BenchError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests_per_s=float(rps[1]),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        transfer_per_s=float(transfer[1]) * _SIZES[transfer[2]],
        requests=int(total[1]),
        non_2xx_3xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=(
            dict(zip(SOCKET_ERRORS, map(int, errors.groups()), strict=True)) if errors else {}
        ),
    )


@dataclass
class Settings:
    wrk: str
    duration: int
    connections: int = 32
    wrk_threads: int = 2


def run_wrk(
    settings: Settings, url: str, headers: dict | None = None, script: Path | None = None
) -> WrkResult:
    if urlsplit(url).hostname not in {"127.0.0.1", "localhost"}:
        raise BenchError(f"refusing to load {url}: loopback only")
    cmd = [
        settings.wrk,
        f"-t{settings.wrk_threads}",
        f"-c{settings.connections}",
        f"-d{settings.duration}s",
        "--timeout",
        "10s",
        "--latency",
    ]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    if script:
        cmd += ["-s", str(script)]
    cmd.append(url)
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=settings.duration + 60, check=False
    )
    if result.returncode != 0:
        raise BenchError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    parsed = parse_wrk(result.stdout)
    if parsed.requests == 0:
        raise BenchError(f"wrk completed no request:\n{result.stdout}")
    if parsed.non_2xx_3xx:
        raise BenchError(
            f"{parsed.non_2xx_3xx} of {parsed.requests} responses were not 2xx/3xx "
            f"({parsed.requests_per_s:.0f} req/s)"
        )
    return parsed


def wrk_figures(result: WrkResult) -> dict:
    figures = {
        "req_per_s": round(result.requests_per_s, 1),
        "p50_ms": round(result.p50_ms, 2),
        "p99_ms": round(result.p99_ms, 2),
    }
    if any(result.socket_errors.values()):
        figures["socket_errors"] = result.socket_errors
    return figures


def check_get(url: str, headers: dict | None = None) -> Response:
    resp = http_get(url, headers)
    if resp.status != 200:
        raise BenchError(f"GET {urlsplit(url).path} answered {resp.describe()}")
    return resp


def links_in(resp: Response) -> dict[str, str]:
    """filename -> href from a simple page, JSON (PEP 691) or HTML (PEP 503)."""
    if resp.headers.get("content-type", "").startswith(JSON_ACCEPT):
        return {f["filename"]: f["url"] for f in json.loads(resp.body)["files"]}
    html = resp.body.decode("utf-8", "replace")
    return {
        text.strip(): href.split("#", 1)[0]
        for href, text in re.findall(r'<a\s[^>]*?href="([^"]+)"[^>]*>([^<]+)</a>', html)
    }


def simple_url(server: Server, name: str) -> str:
    return f"{server.base_url}/simple/{canonicalize_name(name)}/"


# --- RSS sampling --------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The ppid is the second field after the parenthesised command name.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def _memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB, (0, 0) once it is gone."""
    rss = hwm = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


class RssSampler(threading.Thread):
    """Samples VmRSS of a gunicorn master and its workers every 50 ms."""

    def __init__(self, master_pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.master_pid = master_pid
        self.interval = interval
        self.stopping = threading.Event()
        self.peak_total_kib = 0
        self.peak_process_kib = 0
        self.peak_hwm_kib = 0
        self.samples = 0

    def snapshot(self) -> tuple[int, int, int]:
        """(sum of VmRSS, largest VmRSS, largest VmHWM) over master + workers."""
        memory = [_memory_kib(pid) for pid in [self.master_pid, *_children(self.master_pid)]]
        return (
            sum(rss for rss, _ in memory),
            max(rss for rss, _ in memory),
            max(hwm for _, hwm in memory),
        )

    def run(self) -> None:
        while not self.stopping.is_set():
            total, largest, hwm = self.snapshot()
            self.peak_total_kib = max(self.peak_total_kib, total)
            self.peak_process_kib = max(self.peak_process_kib, largest)
            self.peak_hwm_kib = max(self.peak_hwm_kib, hwm)
            self.samples += 1
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)


# --- The steps -----------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, settings: Settings, workdir: Path):
        self.args = args
        self.settings = settings
        self.workdir = workdir
        self.results: dict[str, dict[str, dict]] = {}
        self.big_file: BigFile | None = None

    def step(self, server: Server, metric: str, func: Callable[[], dict]) -> bool:
        """Run one measurement; record its figures, or why it has none."""
        try:
            figures = func()
        except NotSupported as exc:
            self.results[server.name][metric] = {"n/a": str(exc)}
            log(f"[{server.name}] {metric}: n/a ({exc})")
            return False
        except (BenchError, LiveServerError, OSError, subprocess.SubprocessError) as exc:
            self.results[server.name][metric] = {"error": str(exc)}
            log(f"[{server.name}] {metric}: ERROR {exc}")
            return False
        self.results[server.name][metric] = figures
        shown = ", ".join(f"{k}={v}" for k, v in figures.items() if not isinstance(v, dict))
        log(f"[{server.name}] {metric}: {shown}")
        return True

    def run_all(self, server: Server, corpus: Corpus) -> None:
        self.results[server.name] = {}
        log(f"[{server.name}] {server.describe} at {server.base_url}")
        self.step(server, "populate", lambda: self.populate(server, corpus.populate))
        self.step(server, "simple_html_1000", lambda: self.simple_big(server, corpus, json_=False))
        self.step(server, "simple_json_1000", lambda: self.simple_big(server, corpus, json_=True))
        self.step(server, "simple_rotation", lambda: self.rotation(server, corpus))
        self.step(server, "file_1mib", lambda: self.download(server, corpus))
        self.step(server, "twine_250", lambda: self.twine_upload(server, corpus.twine_files))
        if not self.args.skip_big_upload:
            self.step(server, "big_upload", lambda: self.big_upload(server, corpus))

    # Populate: the whole corpus through the real upload endpoint. The files of one
    # release go one after the other (as twine sends them), releases in parallel.
    def populate(self, server: Server, dists: list[Dist]) -> dict:
        concurrency = self.args.populate_concurrency
        releases: dict[tuple[str, str], list[Dist]] = {}
        for dist in dists:
            key = (canonicalize_name(dist.fields["name"]), dist.fields["version"])
            releases.setdefault(key, []).append(dist)
        seen: set[str] = set()
        firsts, rest = [], []
        for (name, _), files in releases.items():
            (rest if name in seen else firsts).append(files)
            seen.add(name)
        failure = threading.Event()
        errors: list[str] = []

        def upload(files: list[Dist]) -> None:
            for dist in files:
                if failure.is_set():
                    return
                resp = post_upload(
                    server.upload_url,
                    server.auth,
                    dist.form(),
                    dist.filename,
                    dist.content,
                    user_agent=USER_AGENT,
                )
                if resp.status != 200:
                    errors.append(f"upload of {dist.filename} answered {resp.describe()}")
                    failure.set()

        t0 = time.monotonic()
        # Each project's first release alone, so no two uploads race to create a project.
        for batch in (firsts, rest):
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(upload, batch))
            if failure.is_set():
                raise BenchError(f"POST {urlsplit(server.upload_url).path}: {errors[0]}")
        elapsed = time.monotonic() - t0
        size = sum(len(d.content) for d in dists)
        return {
            "files": len(dists),
            "seconds": round(elapsed, 2),
            "files_per_s": round(len(dists) / elapsed, 1),
            "mib_per_s": round(size / MiB / elapsed, 2),
            "concurrency": concurrency,
        }

    def simple_big(self, server: Server, corpus: Corpus, json_: bool) -> dict:
        url = simple_url(server, corpus.big_name)
        headers = {"Accept": JSON_ACCEPT} if json_ else {}
        resp = check_get(url, headers)
        content_type = resp.headers.get("content-type", "")
        if json_ and not content_type.startswith(JSON_ACCEPT):
            message = f"answered {content_type or 'no content type'} to Accept: {JSON_ACCEPT}"
            if server.name == "ours":
                raise BenchError(message)
            raise NotSupported(f"no PEP 691 JSON ({message})")
        listed = len(links_in(resp))
        if listed != len(corpus.big):
            raise BenchError(f"the page lists {listed} files, expected {len(corpus.big)}")
        result = run_wrk(self.settings, url, headers)
        return {**wrk_figures(result), "page_kib": round(len(resp.body) / 1024, 1)}

    def rotation(self, server: Server, corpus: Corpus) -> dict:
        paths = [urlsplit(simple_url(server, name)).path for name in corpus.small_names]
        for path in (paths[0], paths[-1]):
            check_get(server.base_url + path)
        script = self.workdir / f"rotation-{server.name}.lua"
        script.write_text(rotation_lua(paths))
        result = run_wrk(self.settings, server.base_url + "/", script=script)
        return {**wrk_figures(result), "projects": len(paths)}

    def download(self, server: Server, corpus: Corpus) -> dict:
        page = check_get(simple_url(server, corpus.onemeg_name), {"Accept": JSON_ACCEPT})
        href = links_in(page).get(corpus.onemeg.filename)
        if not href:
            raise BenchError(f"{corpus.onemeg.filename} is not on its simple page")
        url = urljoin(simple_url(server, corpus.onemeg_name), href)
        resp = check_get(url)
        if hashlib.sha256(resp.body).hexdigest() != corpus.onemeg.sha256:
            raise BenchError(f"GET {urlsplit(url).path} served other bytes than were uploaded")
        result = run_wrk(self.settings, url)
        return {
            **wrk_figures(result),
            "mib_per_s": round(result.transfer_per_s / MiB, 1),
            "file_kib": round(len(resp.body) / 1024, 1),
        }

    def twine_upload(self, server: Server, files: list[Path]) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TWINE_")}
        env.update(
            PIP_CONFIG_FILE=os.devnull,
            PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
            NO_COLOR="1",
        )
        cmd = twine_upload_command(
            server.upload_url, files, username=server.auth[0], password=server.auth[1]
        )
        t0 = time.monotonic()
        result = subprocess.run(
            cmd, cwd=self.workdir, env=env, capture_output=True, text=True, timeout=600
        )
        elapsed = time.monotonic() - t0
        if result.returncode != 0:
            text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
            lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
            raise BenchError(f"twine exited with {result.returncode}: " + " | ".join(lines[-4:]))
        size = sum(path.stat().st_size for path in files)
        return {
            "files": len(files),
            "seconds": round(elapsed, 2),
            "files_per_s": round(len(files) / elapsed, 1),
            "mib_per_s": round(size / MiB / elapsed, 3),
        }

    def big_upload(self, server: Server, corpus: Corpus) -> dict:
        if self.big_file is None:
            t0 = time.monotonic()
            self.big_file = build_big_wheel(
                self.workdir, f"bench-huge-{corpus.tag}", self.args.big_mib
            )
            log(
                f"built {self.big_file.path.name} ({self.big_file.size / MiB:.0f} MiB) "
                f"in {time.monotonic() - t0:.1f}s"
            )
        big = self.big_file
        sampler = RssSampler(server.proc.pid)
        before_total, before_largest, _ = sampler.snapshot()
        sampler.start()
        t0 = time.monotonic()
        try:
            resp = post_upload(
                server.upload_url,
                server.auth,
                big.fields,
                big.path.name,
                big.path,
                user_agent=USER_AGENT,
            )
        finally:
            elapsed = time.monotonic() - t0
            sampler.stop()
        if resp.status != 200:
            raise BenchError(f"POST {urlsplit(server.upload_url).path} answered {resp.describe()}")
        return {
            "mib": round(big.size / MiB),
            "seconds": round(elapsed, 2),
            "mib_per_s": round(big.size / MiB / elapsed, 1),
            "rss_before_mib": round(before_total / 1024, 1),
            "rss_peak_mib": round(sampler.peak_total_kib / 1024, 1),
            "rss_growth_mib": round((sampler.peak_total_kib - before_total) / 1024, 1),
            "largest_process_before_mib": round(before_largest / 1024, 1),
            "largest_process_peak_mib": round(sampler.peak_process_kib / 1024, 1),
            # VmHWM: the high-water mark since the process started, which also
            # catches a spike shorter than the 50 ms between two samples.
            "largest_process_hwm_mib": round(sampler.peak_hwm_kib / 1024, 1),
            "samples": sampler.samples,
        }

    def drop_big_file(self) -> None:
        if self.big_file is not None:
            self.big_file.path.unlink(missing_ok=True)
            self.big_file = None


def rotation_lua(paths: list[str]) -> str:
    """A wrk script sending each request to a random path of the list."""
    table = ",\n".join(f"  {json.dumps(p)}" for p in paths)
    return f"""-- generated by benchmarks/run.py
local paths = {{
{table}
}}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + wrk.thread:get("id"))
end

function request()
  return wrk.format(nil, paths[math.random(#paths)])
end
"""


# --- Report --------------------------------------------------------------------

# (metric, figure, label, True when higher is better)
ROWS = [
    ("populate", "files_per_s", "bulk upload, http.client  files/s", True),
    ("simple_html_1000", "req_per_s", "simple 1,000 files HTML  req/s", True),
    ("simple_html_1000", "p50_ms", "                          p50 ms", False),
    ("simple_html_1000", "p99_ms", "                          p99 ms", False),
    ("simple_json_1000", "req_per_s", "simple 1,000 files JSON  req/s", True),
    ("simple_json_1000", "p50_ms", "                          p50 ms", False),
    ("simple_json_1000", "p99_ms", "                          p99 ms", False),
    ("simple_rotation", "req_per_s", "simple, 200 projects     req/s", True),
    ("simple_rotation", "p50_ms", "                          p50 ms", False),
    ("simple_rotation", "p99_ms", "                          p99 ms", False),
    ("file_1mib", "req_per_s", "1 MiB file download      req/s", True),
    ("file_1mib", "mib_per_s", "                          MiB/s", True),
    ("file_1mib", "p50_ms", "                          p50 ms", False),
    ("file_1mib", "p99_ms", "                          p99 ms", False),
    ("twine_250", "files_per_s", "twine upload 250 files   files/s", True),
    ("twine_250", "mib_per_s", "                          MiB/s", True),
    ("big_upload", "mib_per_s", "big upload               MiB/s", True),
    ("big_upload", "rss_before_mib", "  RSS master+workers before MiB", False),
    ("big_upload", "rss_peak_mib", "  RSS master+workers peak   MiB", False),
    ("big_upload", "largest_process_peak_mib", "  RSS largest process peak MiB", False),
    ("big_upload", "largest_process_hwm_mib", "  VmHWM largest process    MiB", False),
]


def _cell(results: dict, server: str, metric: str, figure: str) -> float | str | None:
    entry = results.get(server, {}).get(metric)
    if entry is None:
        return None
    if "error" in entry:
        return "error"
    if "n/a" in entry:
        return "n/a"
    return entry.get(figure)


def summary(results: dict, header: list[str]) -> str:
    servers = [name for name in ("ours", "pypiserver") if name in results]
    lines = [*header, ""]
    title = f"{'':34}" + "".join(f"{name:>14}" for name in servers)
    if len(servers) == 2:
        title += f"{'ours/pypiserver':>18}"
    lines += [title, "-" * len(title)]
    for metric, figure, label, higher_better in ROWS:
        cells = [_cell(results, name, metric, figure) for name in servers]
        if all(cell is None for cell in cells):
            continue
        row = f"{label:34}" + "".join(
            f"{'-' if c is None else c:>14}" if isinstance(c, str | None) else f"{c:>14,.2f}"
            for c in cells
        )
        if len(servers) == 2:
            ours, theirs = cells
            if isinstance(ours, int | float) and isinstance(theirs, int | float) and theirs:
                ratio = ours / theirs
                better = ratio > 1 if higher_better else ratio < 1
                row += f"{ratio:>16.2f} {'+' if better else ' '}"
        lines.append(row)
    lines.append("")
    lines.append("ratio = ours / pypiserver; '+' marks the rows where ours is better.")
    problems = [
        f"  {server} {metric}: {entry.get('error') or entry.get('n/a')}"
        for server in servers
        for metric, entry in results[server].items()
        if "error" in entry or "n/a" in entry
    ]
    if problems:
        lines += ["", "Not measured:", *problems]
    return "\n".join(lines)


# --- Main ----------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s per wrk run instead of 10 s")
    parser.add_argument("--skip-pypiserver", action="store_true", help="measure only this index")
    parser.add_argument("--skip-big-upload", action="store_true", help="no 500 MiB upload")
    parser.add_argument(
        "--skip-ours", action="store_true", help="measure only pypiserver (to check the script)"
    )
    parser.add_argument(
        "--install", action="store_true", help="apt-get install wrk when missing (root only)"
    )
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write the results here")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both servers)")
    parser.add_argument("--threads", type=int, default=8, help="gthread threads per worker")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument(
        "--big-mib", type=int, default=500, help="payload of the big upload, MiB (max 1500)"
    )
    parser.add_argument(
        "--populate-concurrency", type=int, default=4, help="parallel uploads while populating"
    )
    parser.add_argument(
        "--pypiserver-cache",
        action="store_true",
        help="run pypiserver with its cached-dir backend (installs watchdog)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if not 1 <= args.big_mib <= 1500:
        parser.error("--big-mib must be between 1 and 1500")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    wrk = ensure_wrk(args.install)
    ensure_twine()
    pypiserver_bin = None if args.skip_pypiserver else ensure_pypiserver(args.pypiserver_cache)
    settings = Settings(wrk=wrk, duration=3 if args.quick else 10, connections=args.connections)

    workdir = Path(tempfile.mkdtemp(prefix="pypi-bench-"))
    tag = secrets.token_hex(3)
    log(f"working in {workdir} (run tag {tag})")
    bench = Bench(args, settings, workdir)
    servers: list[Server] = []

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        t0 = time.monotonic()
        corpus = build_corpus(workdir, tag)
        log(
            f"built {len(corpus.populate)} distributions to populate and "
            f"{len(corpus.twine_files)} for twine in {time.monotonic() - t0:.1f}s"
        )
        targets: list[tuple[str, Callable[[], Server]]] = []
        if not args.skip_ours:
            targets.append(
                (
                    "ours",
                    lambda: start_ours(workdir, tag, args.workers, args.threads, args.big_mib),
                )
            )
        if pypiserver_bin is not None:
            targets.append(
                (
                    "pypiserver",
                    lambda: start_pypiserver(
                        workdir, pypiserver_bin, args.workers, args.pypiserver_cache
                    ),
                )
            )
        for name, start in targets:
            try:
                server = start()
            except (BenchError, LiveServerError, OSError, subprocess.SubprocessError) as exc:
                log(f"[{name}] ERROR starting the server: {exc}")
                bench.results[name] = {"start": {"error": str(exc)}}
                continue
            servers.append(server)
            try:
                bench.run_all(server, corpus)
            finally:
                server.stop()
                servers.remove(server)
        bench.drop_big_file()
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        for server in servers:
            server.stop()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    db = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    cache = "Redis" if os.environ.get("REDIS_URL") else "disk (diskcache)"
    header = [
        "=" * 78,
        f"Benchmark {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{'quick' if args.quick else 'full'} mode, {time.monotonic() - started:.0f}s",
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}",
        f"ours: {db}, cache {cache}, gunicorn {args.workers} workers gthread x{args.threads}",
        f"pypiserver: gunicorn {args.workers} workers gevent, "
        f"{'cached-dir' if args.pypiserver_cache else 'simple-dir'} backend",
        f"wrk -t{settings.wrk_threads} -c{settings.connections} -d{settings.duration}s --latency",
        "=" * 78,
    ]
    print()
    print(summary(bench.results, header))
    if args.json:
        args.json.write_text(
            json.dumps(
                {"header": header, "results": bench.results, "tag": tag}, indent=2, default=str
            )
            + "\n"
        )
        log(f"results written to {args.json}")
    failed = any("error" in entry for r in bench.results.values() for entry in r.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
