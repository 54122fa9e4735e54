"""The index as deployed, started on 127.0.0.1 for the end-to-end tests and the
benchmarks: gunicorn with DEBUG off on a free port, its own VAR_DIR, optionally a
throwaway PostgreSQL database, and the few clients both drive it with.

Plain functions and context managers: they return, or raise LiveServerError (or
CommandFailed) with a message a person can act on. Nothing here imports Django
or pytest.
"""

from __future__ import annotations

import base64
import http.client
import os
import secrets
import shlex
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
MANAGE = REPO / "manage.py"
# The settings `make run` and docker/ start gunicorn with (keep-alive).
GUNICORN_CONF = REPO / "pypi_site" / "gunicorn.conf.py"
MiB = 1024 * 1024


class LiveServerError(Exception):
    """The server could not be started, or was asked for something it must not do."""


class CommandFailed(LiveServerError):
    """A command exited with a non-zero status; the message shows it in full."""


# --- Commands -------------------------------------------------------------------------


def describe(result: subprocess.CompletedProcess) -> str:
    """A failed command as a person needs to see it in the assertion message."""
    return (
        f"$ {shlex.join(str(arg) for arg in result.args)}\n"
        f"exit status {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


def run(args: list, *, env: dict[str, str], timeout: float = 120, cwd=None):
    return subprocess.run(
        [str(arg) for arg in args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """``manage.py <args>`` with the server's environment; its stdout."""
    result = run([sys.executable, MANAGE, *args], env=env, cwd=REPO, timeout=timeout)
    if result.returncode != 0:
        raise CommandFailed(describe(result))
    return result.stdout


def superuser_with_token(env: dict[str, str], username: str, password: str) -> str:
    """A superuser in the server's database, and an API token of theirs."""
    manage(
        {
            **env,
            "DJANGO_SUPERUSER_USERNAME": username,
            "DJANGO_SUPERUSER_EMAIL": f"{username}@example.com",
            "DJANGO_SUPERUSER_PASSWORD": password,
        },
        "createsuperuser",
        "--noinput",
    )
    return manage(env, "create_api_token", username).strip()


def twine_upload_command(
    repository_url: str, files: Sequence, *, username: str, password: str, extra: Sequence = ()
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "twine",
        "upload",
        "--repository-url",
        repository_url,
        # The "=" form: a random secret may begin with "-".
        f"--username={username}",
        f"--password={password}",
        "--non-interactive",
        "--disable-progress-bar",
        *map(str, extra),
        *map(str, files),
    ]


# --- Environment and database -----------------------------------------------------------

# Settings that would point the server at state outside its VAR_DIR, or change
# how it answers plain http on 127.0.0.1.
_SERVER_ENV_DROPPED = {
    "DATABASE_URL",
    "FILE_UPLOAD_TEMP_DIR",
    "CACHE_DIR",
    "EMAIL_URL",
    "SECRET_KEY",
    "PORT",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_ORIGIN",
    "BEHIND_TLS_PROXY",
    "SECURE_HSTS_SECONDS",
}


def server_env(var_dir: Path, database_url: str | None = None, **settings: str) -> dict[str, str]:
    """This process's environment for a server whose state is all under ``var_dir``
    (the SQLite default unless ``database_url``), DEBUG off, files on the local
    disk; ``settings`` added last. REDIS_URL is kept when set."""
    env = {
        key: value
        for key, value in os.environ.items()
        # Coverage of the tests' own process only: the unit tests must cover the
        # code; a server's run must not make up for them.
        if not key.startswith(("COV_CORE_", "COVERAGE_", "FILES_", "AWS_"))
        and key not in _SERVER_ENV_DROPPED
    }
    env.update(
        VAR_DIR=str(var_dir),
        DEBUG="false",
        DJANGO_SETTINGS_MODULE="pypi_site.settings",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        FILES_STORAGE="filesystem",
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    if database_url:
        env["DATABASE_URL"] = database_url
        # A server database wants one explicit key (settings refuse a generated one).
        env.setdefault("SECRET_KEY", secrets.token_urlsafe(32))
    return env


def is_postgresql(url: str) -> bool:
    return urlsplit(url).scheme in {"postgres", "postgresql"}


def _drop_database(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as connection:
        force = " WITH (FORCE)" if connection.info.server_version >= 130000 else ""
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {}" + force).format(sql.Identifier(name))
        )


@contextmanager
def throwaway_postgresql_database(
    admin_url: str, suffix: str, *, create: bool = True, keep: bool = False
) -> Iterator[tuple[str, str]]:
    """(URL, name) of the database ``<db>_<suffix>`` next to the one ``admin_url``
    names: replaced by an empty one unless not ``create``, dropped afterwards
    unless ``keep``. The role needs CREATEDB."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(admin_url)
    name = f"{parts.path.lstrip('/')[:40] or 'pypi'}_{suffix}"
    if create:
        _drop_database(admin_url, name)
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path="/" + name)), name
    finally:
        if not keep:
            _drop_database(admin_url, name)


# --- gunicorn ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _connection(url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise LiveServerError(f"refusing to send load to {parts.hostname}: loopback only")
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


def _wait_until_healthy(
    process: subprocess.Popen, url: str, health_path: str, timeout: float
) -> str | None:
    """None once ``health_path`` answers 200, else why not."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"gunicorn exited with status {process.returncode}"
        connection = _connection(url, timeout=5)
        try:
            connection.request("GET", health_path)
            response = connection.getresponse()
            body = response.read()
            if response.status == 200:
                return None
            last = f"status {response.status}: {body[:500]!r}"
        except (OSError, http.client.HTTPException) as error:
            last = repr(error)
        finally:
            connection.close()
        time.sleep(0.1)
    return f"{health_path} did not answer 200 within {timeout:.0f} s (last: {last})"


def stop(process: subprocess.Popen) -> None:
    # SIGTERM lets gunicorn's master stop its own workers.
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class Gunicorn:
    process: subprocess.Popen
    url: str  # http://127.0.0.1:<port>, no trailing slash
    log_path: Path  # gunicorn's own output: errors, tracebacks


def start_gunicorn(
    env: dict[str, str],
    log_dir: Path,
    *,
    app: str = "pypi_site.wsgi:application",
    gunicorn: Sequence[str] = (sys.executable, "-m", "gunicorn"),
    cwd: Path = REPO,
    name: str = "gunicorn",
    workers: int = 2,
    worker_class: str = "gthread",
    threads: int | None = 4,
    timeout: int = 60,
    graceful_timeout: int = 5,
    access_log: Path | None = None,
    health_path: str = "/_health/",
    start_timeout: float = 45,
    port: int | None = None,
) -> Gunicorn:
    """gunicorn on a free port of 127.0.0.1 (or ``port``: an app started again
    where an edge expects it), once ``health_path`` answers 200.
    The caller stops it (``stop``); ``gunicorn_server`` does that itself."""
    fixed_port = port
    for _attempt in range(3):
        port = fixed_port or free_port()
        url = f"http://127.0.0.1:{port}"
        log_path = log_dir / f"{name}-{port}.log"
        command = [
            *gunicorn,
            app,
            "--config",
            str(GUNICORN_CONF),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            *(["--threads", str(threads)] if threads else []),
            *(["--access-logfile", str(access_log)] if access_log else []),
            "--timeout",
            str(timeout),
            "--graceful-timeout",
            str(graceful_timeout),
        ]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        problem = _wait_until_healthy(process, url, health_path, start_timeout)
        if problem is None:
            return Gunicorn(process, url, log_path)
        stop(process)
        output = log_path.read_text(errors="replace")
        # Another process took the free port between our probe and the bind.
        if "in use" not in output:
            raise LiveServerError(
                f"the server did not start: {problem}\n--- gunicorn ---\n{output}"
            )
    raise LiveServerError(f"the server found no free port: {problem}\n--- gunicorn ---\n{output}")


@contextmanager
def gunicorn_server(env: dict[str, str], log_dir: Path, **options) -> Iterator[Gunicorn]:
    """``start_gunicorn``, stopped on the way out."""
    server = start_gunicorn(env, log_dir, **options)
    try:
        yield server
    finally:
        stop(server.process)


@contextmanager
def pypiserver(packages: Path, *, start_timeout: float = 30) -> Iterator[str]:
    """pypiserver (the venv's, HTML pages only, sha256 links) serving the
    directory ``packages`` on a free port of 127.0.0.1: its simple index URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/simple/"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "pypi-server"),
            "run",
            *("-i", "127.0.0.1", "-p", str(port)),
            # No authentication at all: anyone may read.
            *("-a", ".", "-P", "."),
            *("--hash-algo", "sha256"),
            str(packages),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if http_get(url, timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise LiveServerError(f"pypiserver did not start at {url}")
            time.sleep(0.1)
        yield url
    finally:
        stop(process)


# --- Uploads ----------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    @classmethod
    def read(cls, resp: http.client.HTTPResponse) -> Response:
        headers = {key.lower(): value for key, value in resp.getheaders()}
        return cls(resp.status, resp.reason, headers, resp.read())

    def describe(self) -> str:
        text = self.body[:300].decode("utf-8", "replace").strip()
        return f"{self.status} {self.reason}" + (f": {text}" if text else "")


def http_get(url: str, headers: dict | None = None, timeout: float = 60) -> Response:
    parts = urlsplit(url)
    conn = _connection(url, timeout)
    try:
        conn.request(
            "GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {}
        )
        return Response.read(conn.getresponse())
    finally:
        conn.close()


def multipart(fields: dict, filename: str, content: bytes | Path) -> tuple[str, list, int]:
    """The multipart/form-data body twine sends: (content type, segments, length).

    Segments are bytes, or a Path whose bytes are streamed from disk.
    """
    boundary = secrets.token_hex(16)
    segments: list[bytes | Path] = []
    for key, value in fields.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            segments.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode()
                + str(item).encode()
                + b"\r\n"
            )
    segments.append(
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="content"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
    )
    segments.append(content)
    segments.append(f"\r\n--{boundary}--\r\n".encode())
    length = sum(s.stat().st_size if isinstance(s, Path) else len(s) for s in segments)
    return f"multipart/form-data; boundary={boundary}", segments, length


def _stream(segments: list) -> Iterator[bytes]:
    for segment in segments:
        if isinstance(segment, Path):
            with segment.open("rb") as handle:
                while chunk := handle.read(MiB):
                    yield chunk
        else:
            yield segment


def post_upload(
    url: str,
    auth: tuple[str, str],
    fields: dict,
    filename: str,
    content: bytes | Path,
    *,
    user_agent: str | None = None,
) -> Response:
    """One upload as twine makes it, over a fresh connection, streamed."""
    content_type, segments, length = multipart(fields, filename, content)
    credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    conn = _connection(url, timeout=600)
    try:
        conn.putrequest("POST", urlsplit(url).path or "/")
        conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(length))
        conn.putheader("Authorization", f"Basic {credentials}")
        if user_agent:
            conn.putheader("User-Agent", user_agent)
        conn.endheaders()
        for chunk in _stream(segments):
            conn.send(chunk)
        return Response.read(conn.getresponse())
    finally:
        conn.close()


# --- Figures ----------------------------------------------------------------------------


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """n, p50, p95, p99 and max, by linear interpolation between the samples
    (``statistics.quantiles(method="inclusive")``: p50 is the median)."""
    ordered = sorted(samples)
    if len(ordered) == 1:  # quantiles() wants two points before Python 3.13
        cuts = ordered * 99
    else:
        cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "n": len(ordered),
        "p50": statistics.median(ordered),
        "p95": cuts[94],
        "p99": cuts[98],
        "max": ordered[-1],
    }
