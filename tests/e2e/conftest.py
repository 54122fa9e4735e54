"""The real index for the end-to-end tests, and clients that can see no other.

The server is gunicorn on a free 127.0.0.1 port with DEBUG off, exactly as
deployed, on a database of its own: always a SQLite file in a fresh VAR_DIR, and
also a throwaway PostgreSQL database when the session runs with DATABASE_URL
(CI). Every test that uses it runs once per backend. Accounts, tokens and yanks
go through manage.py with the server's environment, so they land in the
database the server reads.
"""

import os
import secrets
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import pytest

from tests.factories import Dist, make_sdist, make_wheel

REPO = Path(__file__).resolve().parents[2]
MANAGE = REPO / "manage.py"
START_TIMEOUT = 45  # seconds for gunicorn to answer /_health/ with 200

_DATABASE_URL = os.environ.get("DATABASE_URL", "")
BACKENDS = ["sqlite"]
if urlsplit(_DATABASE_URL).scheme in {"postgres", "postgresql"}:
    BACKENDS.append("postgresql")


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _isolated_files():
    """Replaces tests/conftest.py's fixture of this name for these tests: nothing
    of Django runs in this process, and its cache.clear() would flush the Redis
    database the server under test shares with the session."""
    yield


# --- The server ---------------------------------------------------------------------


@dataclass
class Server:
    backend: str
    url: str  # http://127.0.0.1:<port>, no trailing slash
    env: dict[str, str]
    var_dir: Path
    access_log: Path

    def manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = run(
            [sys.executable, MANAGE, *args], env={**self.env, **(env or {})}, cwd=REPO, timeout=120
        )
        assert result.returncode == 0, describe(result)
        return result.stdout

    def get(self, path: str, accept: str = "text/html") -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, headers={"Accept": accept})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def access_lines(self) -> list[str]:
        return self.access_log.read_text().splitlines() if self.access_log.exists() else []


UPLOAD_MAX_BYTES = 4_000_000

# Settings that would point the server at state outside its VAR_DIR, or change
# how it answers plain http on 127.0.0.1.
_SERVER_ENV_DROPPED = {
    "DATABASE_URL",
    "FILE_UPLOAD_TEMP_DIR",
    "CACHE_GENERATION_FILE",
    "EMAIL_URL",
    "SECRET_KEY",
    "PORT",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_ORIGIN",
    "BEHIND_TLS_PROXY",
    "SECURE_HSTS_SECONDS",
}


def _server_env(var_dir: Path, database_url: str | None) -> dict[str, str]:
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
        # Small, so the oversized-upload test sends megabytes, not 100 MiB.
        UPLOAD_MAX_BYTES=str(UPLOAD_MAX_BYTES),
        # Kept when set (CI's Redis), under a prefix of this server's own.
        CACHE_KEY_PREFIX=f"e2e-{secrets.token_hex(4)}",
        PYTHONUNBUFFERED="1",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def _manage_concurrently(env: dict[str, str], *commands: list[str]) -> None:
    with ThreadPoolExecutor(len(commands)) as pool:
        results = pool.map(
            lambda args: run([sys.executable, MANAGE, *args], env=env, cwd=REPO), commands
        )
        for result in results:
            assert result.returncode == 0, describe(result)


@contextmanager
def _throwaway_postgresql_database(admin_url: str) -> Iterator[str]:
    """A new empty database next to DATABASE_URL's, dropped afterwards."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(admin_url)
    name = f"{parts.path.lstrip('/')[:40] or 'pypi'}_e2e_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path="/" + name))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            force = " WITH (FORCE)" if connection.info.server_version >= 130000 else ""
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {}" + force).format(sql.Identifier(name))
            )


def _wait_until_healthy(process: subprocess.Popen, url: str) -> str | None:
    """None once /_health/ answers 200, else why not."""
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"gunicorn exited with status {process.returncode}"
        try:
            with urllib.request.urlopen(url + "/_health/", timeout=5) as response:
                if response.status == 200:
                    return None
                last = f"status {response.status}"
        except urllib.error.HTTPError as error:
            last = f"status {error.code}: {error.read()[:500]!r}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            last = repr(error)
        time.sleep(0.1)
    return f"/_health/ did not answer 200 within {START_TIMEOUT} s (last: {last})"


def _stop(process: subprocess.Popen) -> None:
    # SIGTERM lets gunicorn's master stop its own workers.
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def _gunicorn(env: dict[str, str], var_dir: Path, access_log: Path) -> Iterator[str]:
    for _attempt in range(3):
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log_path = var_dir / f"gunicorn-{port}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "pypi_site.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                    "--worker-class",
                    "gthread",
                    "--threads",
                    "4",
                    "--access-logfile",
                    str(access_log),
                    "--timeout",
                    "60",
                    "--graceful-timeout",
                    "5",
                ],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        problem = _wait_until_healthy(process, url)
        if problem is None:
            break
        _stop(process)
        output = log_path.read_text(errors="replace")
        # Another process took the free port between our probe and the bind.
        if "in use" not in output:
            pytest.fail(f"the server did not start: {problem}\n--- gunicorn ---\n{output}")
    else:
        pytest.fail(f"the server found no free port: {problem}\n--- gunicorn ---\n{output}")
    try:
        yield url
    finally:
        _stop(process)


@pytest.fixture(scope="session", params=BACKENDS)
def server(request, tmp_path_factory) -> Iterator[Server]:
    backend = request.param
    var_dir = tmp_path_factory.mktemp(f"e2e-{backend}-var")
    access_log = var_dir / "access.log"

    @contextmanager
    def database() -> Iterator[str | None]:
        if backend == "postgresql":
            with _throwaway_postgresql_database(_DATABASE_URL) as url:
                yield url
        else:
            yield None  # settings' default: var_dir/db.sqlite3

    with database() as database_url:
        env = _server_env(var_dir, database_url)
        # As `make run` does; collectstatic needs no database, so both at once.
        _manage_concurrently(
            env,
            ["migrate", "--noinput", "--verbosity", "0"],
            ["collectstatic", "--noinput", "--verbosity", "0"],
        )
        with _gunicorn(env, var_dir, access_log) as url:
            yield Server(backend, url, env, var_dir, access_log)


# --- Clients --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def client_env(tmp_path_factory) -> dict[str, str]:
    """pip, uv and twine with no configuration, cache or credentials but ours.

    The machine's pip.conf adds find-links and extra indexes: left in place, an
    install could pass with files that never came from the server under test.
    """
    home = tmp_path_factory.mktemp("client-home")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "UV_", "TWINE_", "COV_CORE_", "COVERAGE_", "XDG_"))
        and key not in {"PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "VIRTUAL_ENV"}
        and key not in {"CONDA_PREFIX", "PYTHON_KEYRING_BACKEND", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PIP_CONFIG_FILE=os.devnull,  # pip then reads no configuration file at all
        PIP_NO_CACHE_DIR="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        UV_NO_CACHE="1",
        UV_NO_CONFIG="1",
        UV_PYTHON_DOWNLOADS="never",
        # twine and uv would otherwise probe the desktop keyring for credentials.
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        # Plain, wide console output for the assertions on messages.
        NO_COLOR="1",
        COLUMNS="200",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    token: str


@pytest.fixture(scope="session")
def account(server) -> Account:
    username = "e2e-owner"
    password = secrets.token_urlsafe(16)
    server.manage(
        "createsuperuser",
        "--noinput",
        env={
            "DJANGO_SUPERUSER_USERNAME": username,
            "DJANGO_SUPERUSER_EMAIL": "e2e-owner@example.com",
            "DJANGO_SUPERUSER_PASSWORD": password,
        },
    )
    token = server.manage("create_api_token", username).strip()
    assert token.startswith("pypi-"), token
    return Account(username, password, token)


# --- Distributions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Dists:
    """Real wheels and sdists on disk, one directory per upload."""

    demo: Path  # e2e-demo 1.0: wheel + sdist
    demo_wheel: Dist
    demo_sdist: Dist
    yanked: Path  # e2e-demo 1.5, yanked after upload
    yanked_wheel: Dist
    future: Path  # e2e-demo 2.0, Requires-Python >=3.99
    future_wheel: Dist
    conflict: Path  # other bytes under the name of demo_wheel
    conflict_wheel: Dist
    other: Path  # e2e-other 0.1 (wheel + sdist), published with uv
    other_dists: tuple[Dist, ...]
    denied: Path  # e2e-denied 1.0, only ever offered with bad credentials


def _write(directory: Path, *dists: Dist) -> Path:
    directory.mkdir()
    for dist in dists:
        (directory / dist.filename).write_bytes(dist.content)
    return directory


@pytest.fixture(scope="session")
def dists(tmp_path_factory) -> Dists:
    # One set for the whole session: sdists carry an mtime, and every server must
    # receive the same bytes the assertions hash.
    root = tmp_path_factory.mktemp("dists")
    demo_wheel = make_wheel("e2e-demo", "1.0")
    demo_sdist = make_sdist("e2e-demo", "1.0")
    yanked_wheel = make_wheel("e2e-demo", "1.5")
    future_wheel = make_wheel("e2e-demo", "2.0", requires_python=">=3.99")
    conflict_wheel = make_wheel("e2e-demo", "1.0", files={"e2e_demo/extra.py": b"CHANGED = True\n"})
    assert conflict_wheel.filename == demo_wheel.filename
    assert conflict_wheel.sha256 != demo_wheel.sha256
    other_dists = (make_wheel("e2e-other", "0.1"), make_sdist("e2e-other", "0.1"))
    return Dists(
        demo=_write(root / "demo", demo_wheel, demo_sdist),
        demo_wheel=demo_wheel,
        demo_sdist=demo_sdist,
        yanked=_write(root / "yanked", yanked_wheel),
        yanked_wheel=yanked_wheel,
        future=_write(root / "future", future_wheel),
        future_wheel=future_wheel,
        conflict=_write(root / "conflict", conflict_wheel),
        conflict_wheel=conflict_wheel,
        other=_write(root / "other", *other_dists),
        other_dists=other_dists,
        denied=_write(root / "denied", make_wheel("e2e-denied", "1.0")),
    )


def twine_upload(server: Server, files, *, username: str, password: str, env, extra=()):
    return run(
        [
            sys.executable,
            "-m",
            "twine",
            "upload",
            "--repository-url",
            f"{server.url}/legacy/",
            # The "=" form: a random secret may begin with "-".
            f"--username={username}",
            f"--password={password}",
            "--non-interactive",
            "--disable-progress-bar",
            *extra,
            *files,
        ],
        env=env,
        timeout=120,
    )


@pytest.fixture(scope="session")
def published(server, account, dists, client_env) -> subprocess.CompletedProcess:
    """e2e-demo 1.0 (wheel + sdist), 1.5 (yanked) and 2.0 (Python >= 3.99), all
    uploaded with twine; returns the 1.0 upload."""
    # A glob, as people type it: twine expands it itself.
    first = twine_upload(
        server, [dists.demo / "*"], username="__token__", password=account.token, env=client_env
    )
    assert first.returncode == 0, describe(first)
    for directory in (dists.yanked, dists.future):
        result = twine_upload(
            server,
            [directory / "*"],
            username="__token__",
            password=account.token,
            env=client_env,
        )
        assert result.returncode == 0, describe(result)
    server.manage("yank_release", "e2e-demo", "1.5", "--reason", "broken")
    return first


# --- Reading the simple API -----------------------------------------------------------


@dataclass(frozen=True)
class Link:
    filename: str
    url: str  # absolute, without the fragment
    hashes: dict[str, str]  # from the fragment
    attrs: dict[str, str | None]


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._open, self._text = dict(attrs), []

    def handle_data(self, data):
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, "".join(self._text).strip()))
            self._open = None


def simple_links(server: Server, project: str) -> dict[str, Link]:
    """The PEP 503 HTML page of ``project``, as filename -> Link."""
    page = f"/simple/{project}/"
    status, body = server.get(page, accept="text/html")
    assert status == 200, f"GET {page}: {status}\n{body[:2000]!r}"
    parser = _AnchorParser()
    parser.feed(body.decode())
    links = {}
    for attrs, text in parser.anchors:
        href = urljoin(server.url + page, attrs.get("href") or "")
        url, _, fragment = href.partition("#")
        algorithm, _, digest = fragment.partition("=")
        links[text] = Link(text, url, {algorithm: digest} if digest else {}, attrs)
    return links
