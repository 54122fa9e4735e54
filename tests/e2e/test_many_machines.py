"""The README's many-machine layout, run: two app machines on one PostgreSQL,
one Redis and one S3-compatible store (moto_server), each behind its own edge
(Varnish, edge/run), set up by the release step (docker/release.sh).

Each "machine" has its own VAR_DIR, so nothing is shared but what the settings
point at: an upload through one edge is served by the other, a session made on
one is good on the other (one SECRET_KEY), and clients behind the edges are
rate-limited one by one (TRUSTED_PROXIES)."""

import http.cookiejar
import os
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.e2e.conftest import _DATABASE_URL
from tests.edge import varnish_edge
from tests.factories import make_wheel
from tests.liveserver import (
    REPO,
    free_port,
    gunicorn_server,
    is_postgresql,
    manage,
    post_upload,
    server_env,
    throwaway_postgresql_database,
)
from tests.packages.test_storage_s3 import s3_endpoint  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (is_postgresql(_DATABASE_URL) and os.environ.get("REDIS_URL")),
        reason="many machines share PostgreSQL and Redis: set DATABASE_URL and REDIS_URL",
    ),
]

ADMIN, PASSWORD = "release-admin", secrets.token_urlsafe(16)
BAD_TOKEN = "Basic X190b2tlbl9fOnB5cGktbm9wZQ=="  # __token__:pypi-nope


def release(env: dict[str, str]) -> str:
    """docker/release.sh as the compose "release" service runs it."""
    result = subprocess.run(
        ["sh", "docker/release.sh"],
        cwd=REPO,
        env={**env, "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def open_url(opener, url: str, data: dict | None = None, headers: dict | None = None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with opener.open(request, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def machines(tmp_path, s3_endpoint):  # noqa: F811
    with ExitStack() as stack:
        database_url, _name = stack.enter_context(
            throwaway_postgresql_database(_DATABASE_URL, f"machines_{secrets.token_hex(4)}")
        )
        app_ports, edge_ports = [free_port(), free_port()], [free_port(), free_port()]
        shared = {
            # Made once and copied to every machine (README, step 1).
            "SECRET_KEY": secrets.token_urlsafe(50),
            "CACHE_KEY_PREFIX": f"machines-{secrets.token_hex(4)}",
            "FILES_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": f"files-{uuid.uuid4().hex[:12]}",
            "AWS_S3_ENDPOINT_URL": s3_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_S3_REGION_NAME": "us-east-1",
            "TRUSTED_PROXIES": "127.0.0.1",
            "EDGE_PURGE_URLS": ",".join(f"http://127.0.0.1:{port}" for port in edge_ports),
            "RATELIMIT_UPLOAD_AUTH_FAILURE": "2/300",
            "DJANGO_SUPERUSER_USERNAME": ADMIN,
            "DJANGO_SUPERUSER_EMAIL": f"{ADMIN}@example.com",
            "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        }
        envs = [server_env(tmp_path / f"machine-{n}", database_url, **shared) for n in (1, 2)]
        first = release(envs[0])
        again = release(envs[1])  # a second run does nothing, and says so
        assert "Created the bucket" in first and "exists already" in again
        assert "No migrations to apply." in again
        token = manage(envs[0], "create_api_token", ADMIN).strip()
        edges = []
        for env, app_port, edge_port in zip(envs, app_ports, edge_ports, strict=True):
            # As the image build, or `make run`, does on each machine.
            manage(env, "collectstatic", "--noinput", "--verbosity", "0")
            app = stack.enter_context(gunicorn_server(env, tmp_path, port=app_port, workers=1))
            edges.append(stack.enter_context(varnish_edge(app.url, port=edge_port)))
        yield edges, envs, token


def test_two_machines_behind_their_edges_serve_as_one(machines):
    (edge_1, edge_2), _envs, token = machines
    dist = make_wheel("many-machines", "1.0")

    upload = post_upload(
        f"{edge_1.url}/legacy/", ("__token__", token), dist.form(), dist.filename, dist.content
    )
    assert upload.status == 200, upload.describe()

    # The other machine lists it and serves its bytes from the shared bucket.
    page = edge_2.get("/simple/many-machines/")
    assert page.status == 200, page.describe()
    link = re.search(rb'href="(/packages/[^"#]+)#sha256=', page.body)[1].decode()
    download = edge_2.get(link)
    assert download.status == 200 and download.body == dist.content

    # Signed in through one machine, still signed in on the other.
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    status, form = open_url(browser, f"{edge_1.url}/account/login/")
    assert status == 200, form[:300]
    csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form)[1].decode()
    status, _ = open_url(
        browser,
        f"{edge_1.url}/account/login/",
        {"username": ADMIN, "password": PASSWORD, "csrfmiddlewaretoken": csrf},
        {"Referer": f"{edge_1.url}/account/login/"},
    )
    assert status == 200
    status, account = open_url(browser, f"{edge_2.url}/account/settings/")
    assert status == 200 and ADMIN.encode() in account

    # Clients behind the edges are counted one by one: one client's failed
    # uploads do not lock another out. The edge appends its peer to the
    # X-Forwarded-For a (trusted, here local) balancer in front sent.
    def bad_upload(edge, client: str) -> int:
        request = urllib.request.Request(
            f"{edge.url}/legacy/",
            data=b":action=file_upload",
            # __token__:pypi-nope
            headers={
                "Authorization": "Basic X190b2tlbl9fOnB5cGktbm9wZQ==",
                "X-Forwarded-For": client,
            },
        )
        return _post(request)

    statuses = [bad_upload(edge, "198.51.100.1") for edge in (edge_1, edge_2, edge_1)]
    assert statuses == [403, 403, 429]  # the limit holds across machines (Redis)
    assert bad_upload(edge_2, "198.51.100.2") == 403


def _post(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
