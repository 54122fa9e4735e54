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
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest

from tests.factories import Dist, make_sdist, make_wheel
from tests.liveserver import (
    LiveServerError,
    describe,
    gunicorn_server,
    is_postgresql,
    manage,
    run,
    server_env,
    superuser_with_token,
    throwaway_postgresql_database,
    twine_upload_command,
)

_DATABASE_URL = os.environ.get("DATABASE_URL", "")
BACKENDS = ["sqlite"]
if is_postgresql(_DATABASE_URL):
    BACKENDS.append("postgresql")


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
        return manage({**self.env, **(env or {})}, *args, timeout=120)

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


def _manage_concurrently(env: dict[str, str], *commands: list[str]) -> None:
    with ThreadPoolExecutor(len(commands)) as pool:
        list(pool.map(lambda args: manage(env, *args, timeout=120), commands))


@pytest.fixture(scope="session", params=BACKENDS)
def server(request, tmp_path_factory) -> Iterator[Server]:
    backend = request.param
    var_dir = tmp_path_factory.mktemp(f"e2e-{backend}-var")
    access_log = var_dir / "access.log"
    with ExitStack() as stack:
        database_url = None  # settings' default: var_dir/db.sqlite3
        if backend == "postgresql":
            database_url, _name = stack.enter_context(
                throwaway_postgresql_database(_DATABASE_URL, f"e2e_{secrets.token_hex(4)}")
            )
        env = server_env(
            var_dir,
            database_url,
            # Small, so the oversized-upload test sends megabytes, not 100 MiB.
            UPLOAD_MAX_BYTES=str(UPLOAD_MAX_BYTES),
            # Kept when set (CI's Redis), under a prefix of this server's own.
            CACHE_KEY_PREFIX=f"e2e-{secrets.token_hex(4)}",
        )
        # As `make run` does; collectstatic needs no database, so both at once.
        _manage_concurrently(
            env,
            ["migrate", "--noinput", "--verbosity", "0"],
            ["collectstatic", "--noinput", "--verbosity", "0"],
        )
        try:
            gunicorn = stack.enter_context(gunicorn_server(env, var_dir, access_log=access_log))
        except LiveServerError as error:
            pytest.fail(str(error))
        yield Server(backend, gunicorn.url, env, var_dir, access_log)


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
    token = superuser_with_token(server.env, username, password)
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
    command = twine_upload_command(
        f"{server.url}/legacy/", files, username=username, password=password, extra=extra
    )
    return run(command, env=env, timeout=120)


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
