"""pip against a company index whose upstream (a static PEP 691 index on
loopback, tests.upstream_server) has a squatter under the company's restricted
namespace, a deprecated project and a quarantined one: the squatter's name is
never asked of the upstream once the namespace is granted (a copy pip installed
before is not offered any more), the deprecated project installs and its page
says so, the quarantined one offers pip nothing. One backend (SQLite): the
unit tests run both."""

import json
import secrets
import sys
import time
from pathlib import Path

import pytest

from tests.factories import make_wheel
from tests.liveserver import describe, gunicorn_server, http_get, manage, run, server_env
from tests.upstream_server import StaticIndex, dist

from .conftest import _manage_concurrently
from .test_publish_install import output

pytestmark = pytest.mark.e2e

JSON = "application/vnd.pypi.simple.v1+json"


def _published(index: StaticIndex, name: str, version: str, **status) -> None:
    wheel = make_wheel(name, version)
    index.publish(name, [dist(wheel.filename, wheel.content)], **status)


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    """(the company's URL, its environment, the upstream)."""
    root = tmp_path_factory.mktemp("namespaces-status")
    with StaticIndex() as upstream:
        _published(upstream, "acme-tools", "99.0")
        _published(
            upstream, "old-lib", "1.0", status="deprecated", status_reason="Use new-lib instead"
        )
        _published(upstream, "bad-lib", "1.0", status="quarantined", status_reason="Malware")
        env = server_env(
            root / "var",
            CACHE_KEY_PREFIX=f"e2e-{secrets.token_hex(4)}",
            UPSTREAM_INDEX_URL=upstream.simple_url,
            UPSTREAM_FRESHNESS="1",
        )
        _manage_concurrently(
            env,
            ["migrate", "--noinput", "--verbosity", "0"],
            ["collectstatic", "--noinput", "--verbosity", "0"],
        )
        with gunicorn_server(env, root / "var") as gunicorn:
            yield gunicorn.url, env, upstream


def _pip_install(url: str, tmp_path: Path, client_env, requirement: str):
    venv = tmp_path / f"venv-{secrets.token_hex(3)}"
    created = run([sys.executable, "-m", "venv", "--without-pip", venv], env=client_env)
    assert created.returncode == 0, describe(created)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    return run(
        [*pip, "install", "--index-url", f"{url}/simple/", "--no-cache-dir", requirement],
        env=client_env,
        timeout=180,
    )


def test_a_restricted_namespace_takes_its_names_from_the_upstream(company, client_env, tmp_path):
    url, env, upstream = company
    # Before the grant, the upstream's acme-tools is mirrored (and a copy fetched).
    before = _pip_install(url, tmp_path, client_env, "acme-tools")
    assert before.returncode == 0, describe(before)
    assert "acme-tools-99.0" in output(before), describe(before)
    manage(
        env,
        "shell",
        "-c",
        "from accounts.models import Organization;"
        "Organization.objects.create(name='Acme', normalized_name='acme')",
    )
    manage(
        env,
        "moderate",
        "namespace-grant",
        "acme",
        "--organization",
        "Acme",
        "--hidden",
        "--reason",
        "the company's own names",
    )
    asked = upstream.requested("/simple/acme-tools/")
    time.sleep(1.5)  # past UPSTREAM_FRESHNESS: the server's own page copy is gone
    after = _pip_install(url, tmp_path, client_env, "acme-tools")
    assert after.returncode != 0, describe(after)
    assert "No matching distribution found for acme-tools" in output(after), describe(after)
    assert upstream.requested("/simple/acme-tools/") == asked
    assert http_get(f"{url}/simple/acme-other/").status == 404
    assert upstream.requested("/simple/acme-other/") == 0


def test_pip_installs_a_deprecated_upstream_project_whose_page_says_so(
    company, client_env, tmp_path
):
    url, _env, _upstream = company
    result = _pip_install(url, tmp_path, client_env, "old-lib")
    assert result.returncode == 0, describe(result)
    assert "old-lib-1.0" in output(result), describe(result)
    page = json.loads(http_get(f"{url}/simple/old-lib/", {"Accept": JSON}).body)
    assert page["project-status"] == {"status": "deprecated", "reason": "Use new-lib instead"}


def test_a_quarantined_upstream_project_offers_pip_nothing(company, client_env, tmp_path):
    url, _env, _upstream = company
    result = _pip_install(url, tmp_path, client_env, "bad-lib")
    assert result.returncode != 0, describe(result)
    assert "No matching distribution found for bad-lib" in output(result), describe(result)
    page = json.loads(http_get(f"{url}/simple/bad-lib/", {"Accept": JSON}).body)
    assert page["project-status"] == {"status": "quarantined", "reason": "Malware"}
    assert page["files"] == []
