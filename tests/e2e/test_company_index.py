"""A company's one index (issue 14): local projects and an upstream's, through one URL.

The upstream is real and on loopback: another instance of this index (PEP 691
JSON) and pypiserver (HTML only). The company's index mirrors it with
UPSTREAM_INDEX_URL; pip and uv, configured with that one index and nothing
else (client_env), install a requirement set that mixes both, see nothing of
the upstream under a local or private name, nothing blocked or too young, and
keep installing what was cached once the upstream is stopped.
"""

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from uv import find_uv_bin

from tests import liveserver
from tests.factories import make_wheel
from tests.liveserver import (
    http_get,
    start_gunicorn,
    stop,
    superuser_with_token,
    throwaway_postgresql_database,
)

from .conftest import (
    _DATABASE_URL,
    BACKENDS,
    Server,
    _manage_concurrently,
    describe,
    run,
    server_env,
    twine_upload,
)
from .test_publish_install import output

pytestmark = pytest.mark.e2e

UV = find_uv_bin()
PRIVATE = "acme-*"
MIN_AGE = 7 * 86400


@dataclass
class Index:
    server: Server
    token: str
    process: subprocess.Popen
    port: int

    def restart(self) -> None:
        self.process = start_gunicorn(
            self.server.env,
            self.server.var_dir,
            access_log=self.server.access_log,
            port=self.port,
        ).process


def _start_index(stack: ExitStack, var_dir: Path, database_url: str | None, **settings) -> Index:
    access_log = var_dir / "access.log"
    env = server_env(
        var_dir, database_url, CACHE_KEY_PREFIX=f"e2e-{secrets.token_hex(4)}", **settings
    )
    _manage_concurrently(
        env,
        ["migrate", "--noinput", "--verbosity", "0"],
        ["collectstatic", "--noinput", "--verbosity", "0"],
    )
    gunicorn = start_gunicorn(env, var_dir, access_log=access_log)
    index = Index(Server("sqlite", gunicorn.url, env, var_dir, access_log), "", gunicorn.process, 0)
    index.port = int(gunicorn.url.rsplit(":", 1)[1])
    stack.callback(lambda: stop(index.process))
    index.token = superuser_with_token(env, "owner", secrets.token_urlsafe(12))
    return index


def _upload(index: Index, directory: Path, client_env, *wheels) -> None:
    directory.mkdir()
    for wheel in wheels:
        (directory / wheel.filename).write_bytes(wheel.content)
    result = twine_upload(
        index.server,
        [directory / "*"],
        username="__token__",
        password=index.token,
        env=client_env,
    )
    assert result.returncode == 0, describe(result)


@dataclass
class Company:
    index: Index
    upstream: Index
    # A name of the company's own, that the upstream gets only later: one per
    # backend, since each company must be first to take it.
    toolkit: str = "toolkit"


@pytest.fixture(scope="module")
def upstream_index(tmp_path_factory, client_env) -> Iterator[Index]:
    """The public index stand-in: another instance of this index, JSON and all."""
    root = tmp_path_factory.mktemp("upstream")
    with ExitStack() as stack:
        index = _start_index(stack, root / "var", None)
        _upload(
            index,
            root / "public",
            client_env,
            make_wheel("shared-lib", "0.9"),
            make_wheel("shared-lib", "1.0"),
            make_wheel("blocked-lib", "1.0"),
            make_wheel("blocked-lib", "2.0"),
            # The attack on a private name: a higher version, published upstream.
            make_wheel("acme-internal-lib", "99.0"),
        )
        yield index


def _backdate_upstream(upstream: Index, days: int) -> None:
    # The releases are old enough for UPSTREAM_MIN_AGE, but young-lib's.
    upstream.server.manage(
        "shell",
        "-c",
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from packages.models import File\n"
        f"File.objects.exclude(filename__startswith='young_lib').update("
        f"upload_time=timezone.now() - timedelta(days={days}))\n",
    )


@pytest.fixture(scope="module", params=BACKENDS)
def company(request, upstream_index, tmp_path_factory, client_env) -> Iterator[Company]:
    root = tmp_path_factory.mktemp(f"company-{request.param}")
    with ExitStack() as stack:
        database_url = None
        if request.param == "postgresql":
            database_url, _name = stack.enter_context(
                throwaway_postgresql_database(_DATABASE_URL, f"e2e_{secrets.token_hex(4)}")
            )
        index = _start_index(
            stack,
            root / "var",
            database_url,
            UPSTREAM_INDEX_URL=f"{upstream_index.server.url}/simple/",
            PRIVATE_NAME_PATTERNS=PRIVATE,
            UPSTREAM_MIN_AGE=str(MIN_AGE),
            # Pages are checked again after a second, so the stopped upstream shows.
            UPSTREAM_FRESHNESS="1",
            UPSTREAM_TIMEOUT="3",
        )
        index.server.backend = request.param
        toolkit = f"toolkit-{request.param}"
        # Local projects: a private name, a name the upstream does not have (yet),
        # and the application that needs them and an upstream project.
        _upload(
            index,
            root / "local",
            client_env,
            make_wheel("acme-internal-lib", "1.0"),
            make_wheel(toolkit, "1.0"),
            make_wheel(
                "company-app",
                "1.0",
                requires_dist=("shared-lib>=0.9", "acme-internal-lib", toolkit),
            ),
        )
        yield Company(index, upstream_index, toolkit)


@pytest.fixture(scope="module")
def attacks(company, tmp_path_factory, client_env) -> Company:
    """After the company took its names: the upstream gets a higher version of
    one (toolkit 2.0), and a young release; everything else is made old."""
    directory = tmp_path_factory.mktemp("attacks")
    upstream = company.upstream
    wheels = [make_wheel(company.toolkit, "2.0")]
    if upstream.server.get("/simple/young-lib/")[0] != 200:
        wheels.append(make_wheel("young-lib", "1.0"))
    _upload(upstream, directory / "wheels", client_env, *wheels)
    _backdate_upstream(upstream, 30)
    return company


def _venv(tmp_path: Path, client_env) -> list[str]:
    venv = tmp_path / f"venv-{secrets.token_hex(3)}"
    created = run([sys.executable, "-m", "venv", "--without-pip", venv], env=client_env)
    assert created.returncode == 0, describe(created)
    return [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]


def _pip_install(company: Company, pip: list[str], client_env, *requirements):
    index_url = f"{company.index.server.url}/simple/"
    result = run(
        [*pip, "install", "--index-url", index_url, "--no-cache-dir", *requirements],
        env=client_env,
        timeout=180,
    )
    return result


def _upstream_asked(company: Company, name: str) -> int:
    """How many times the upstream was asked for the name's page."""
    return sum(f"/simple/{name}/" in line for line in company.upstream.server.access_lines())


def test_pip_installs_local_and_upstream_projects_through_one_index_url(
    attacks, client_env, tmp_path
):
    # Would catch: mirrored names not served, links to the upstream instead of
    # this index, a local name merged with its upstream twin (acme-internal-lib
    # 99.0 and toolkit 2.0 would win: dependency confusion).
    company = attacks
    # Asked once, when the company's project took the name (the upstream had none).
    asked = _upstream_asked(company, company.toolkit)
    pip = _venv(tmp_path, client_env)
    result = _pip_install(company, pip, client_env, "company-app")
    assert result.returncode == 0, describe(result)
    assert f"Looking in indexes: {company.index.server.url}/simple/\n" in result.stdout
    installed = output(result)
    for expected in ("company-app-1.0", "shared-lib-1.0", "acme-internal-lib-1.0"):
        assert expected in installed, describe(result)
    assert f"{company.toolkit}-1.0" in installed, describe(result)
    # Every file came from this index's own URLs: the upstream served pages and
    # files to the company's server only.
    assert company.upstream.server.url not in installed
    # The private name was never asked of the upstream; the local one is not
    # asked when it is served.
    assert _upstream_asked(company, "acme-internal-lib") == 0
    assert _upstream_asked(company, company.toolkit) == asked


def test_uv_installs_the_same_set(attacks, client_env, tmp_path):
    company = attacks
    venv = tmp_path / "uv-venv"
    created = run([UV, "venv", "--python", sys.executable, venv], env=client_env)
    assert created.returncode == 0, describe(created)
    result = run(
        [
            UV,
            "pip",
            "install",
            "--python",
            str(venv / "bin" / "python"),
            "--index-url",
            f"{company.index.server.url}/simple/",
            "company-app",
        ],
        env=client_env,
        timeout=180,
    )
    assert result.returncode == 0, describe(result)
    installed = output(result)
    for expected in ("company-app==1.0", "shared-lib==1.0", "acme-internal-lib==1.0"):
        assert expected in installed, describe(result)
    assert f"{company.toolkit}==1.0" in installed, describe(result)


def test_a_local_or_private_name_never_shows_an_upstream_file(attacks):
    company = attacks
    for name, local in (("acme-internal-lib", "1.0"), (company.toolkit, "1.0")):
        status, body = company.index.server.get(f"/simple/{name}/")
        assert status == 200
        assert f"-{local}-py3-none-any.whl" in body.decode()
        assert "99.0" not in body.decode() and "2.0-py3" not in body.decode(), body
    # A private name with no local project: 404, and the upstream is not asked.
    status, body = company.index.server.get("/simple/acme-unknown/")
    assert status == 404
    assert _upstream_asked(company, "acme-unknown") == 0


def test_a_local_project_may_not_take_a_name_the_upstream_has(attacks, client_env, tmp_path):
    # Would catch: an owner (or an attacker with an account here) shadowing an
    # upstream project the company installs, without a moderator's say.
    company = attacks
    wheel = make_wheel("shared-lib", "5.0")
    (tmp_path / wheel.filename).write_bytes(wheel.content)
    result = twine_upload(
        company.index.server,
        [tmp_path / wheel.filename],
        username="__token__",
        password=company.index.token,
        env=client_env,
    )
    assert result.returncode != 0, describe(result)
    assert "upstream" in output(result), describe(result)


def test_blocked_versions_and_young_releases_are_not_offered(attacks, client_env, tmp_path):
    company = attacks
    company.index.server.manage(
        "moderate", "upstream-block", "blocked-lib", "2.0", "--reason", "CVE-2026-0001"
    )
    pip = _venv(tmp_path, client_env)
    result = _pip_install(company, pip, client_env, "blocked-lib")
    assert result.returncode == 0, describe(result)
    assert "blocked-lib-1.0" in output(result), describe(result)
    # young-lib 1.0 was uploaded minutes ago: under UPSTREAM_MIN_AGE.
    result = _pip_install(company, pip, client_env, "young-lib")
    assert result.returncode != 0, describe(result)
    assert "No matching distribution found for young-lib" in output(result), describe(result)


def test_with_the_upstream_stopped_what_was_cached_still_installs(attacks, client_env, tmp_path):
    company = attacks
    pip = _venv(tmp_path, client_env)
    warm = _pip_install(company, pip, client_env, "company-app")
    assert warm.returncode == 0, describe(warm)
    stop(company.upstream.process)
    try:
        time.sleep(1.5)  # past UPSTREAM_FRESHNESS: the next page asks the upstream again
        pip = _venv(tmp_path, client_env)
        result = _pip_install(company, pip, client_env, "company-app")
        assert result.returncode == 0, describe(result)
        assert "shared-lib-1.0" in output(result), describe(result)
        response = http_get(f"{company.index.server.url}/simple/shared-lib/")
        assert response.status == 200
        assert response.headers.get("x-mirror-status") == "stale", response.headers
        # A name never fetched: a quick 404 that says why.
        response = http_get(f"{company.index.server.url}/simple/never-fetched/")
        assert response.status == 404
        assert b"upstream" in response.body.lower()
    finally:
        company.upstream.restart()


def test_an_html_only_upstream_pypiserver(tmp_path, client_env):
    # Would catch: a mirror that reads PEP 691 JSON only; pypiserver has HTML.
    packages = tmp_path / "packages"
    packages.mkdir()
    wheel = make_wheel("plain-lib", "1.0")
    (packages / wheel.filename).write_bytes(wheel.content)
    with liveserver.pypiserver(packages) as pypiserver_url, ExitStack() as stack:
        index = _start_index(stack, tmp_path / "var", None, UPSTREAM_INDEX_URL=pypiserver_url)
        company = Company(index, index)
        pip = _venv(tmp_path, client_env)
        result = _pip_install(company, pip, client_env, "plain-lib")
        assert result.returncode == 0, describe(result)
        assert "plain-lib-1.0" in output(result), describe(result)
        stored = list((tmp_path / "var" / "files").rglob(wheel.filename))
        assert [path.read_bytes() for path in stored] == [wheel.content]


def test_upload_times_carry_over(attacks):
    company = attacks
    response = http_get(
        f"{company.index.server.url}/simple/shared-lib/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    assert response.status == 200
    files = json.loads(response.body)["files"]
    assert {entry["filename"] for entry in files} == {
        "shared_lib-0.9-py3-none-any.whl",
        "shared_lib-1.0-py3-none-any.whl",
    }
    for entry in files:
        when = datetime.fromisoformat(entry["upload-time"].replace("Z", "+00:00"))
        assert when < datetime.now(UTC) - timedelta(days=20)
        # This index's own URL, not the upstream's.
        assert entry["url"].startswith("/packages/mirror/"), entry
