"""The edge cache (edge/default.vcl on a real varnishd, tests/edge.py) in front of
the real server: what it keeps, what it never keeps, purges by key, and installs
while the app is down.

Whether the app saw a request is read from the server's access log: a hit at the
edge leaves no line there.
"""

import dataclasses
import http.client
import json
import sys
import time
import xmlrpc.client
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from uv import find_uv_bin

from tests.edge import Edge, varnish_edge
from tests.factories import make_wheel
from tests.liveserver import free_port, gunicorn_server, http_get, start_gunicorn, stop

from .conftest import describe, run, twine_upload

pytestmark = pytest.mark.e2e

UV = find_uv_bin()
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
UV_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)
BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
)
UNAVAILABLE = "The index is unavailable right now; try again later"


@pytest.fixture
def edge(server) -> Edge:
    with varnish_edge(server.url) as edge:
        yield edge


def origin_saw(server, method: str, path: str) -> int:
    """How many requests for ``path`` reached the app."""
    request_line = f'"{method} {path} HTTP/1.1"'
    return sum(request_line in line for line in server.access_lines())


def wait_for_log(server, method: str, path: str, count: int) -> int:
    # gunicorn writes the access line after the answer: give it a moment.
    deadline = time.monotonic() + 5
    seen = origin_saw(server, method, path)
    while seen < count and time.monotonic() < deadline:
        time.sleep(0.05)
        seen = origin_saw(server, method, path)
    return seen


def session_cookie(server, username: str) -> str:
    """A signed-in session of ``username``, made where the server keeps them."""
    code = (
        "from django.contrib.auth import get_user_model; from django.test import Client; "
        "c = Client(); "
        f"c.force_login(get_user_model().objects.get(username={username!r})); "
        "print(c.cookies['sessionid'].value)"
    )
    return server.manage("shell", "-c", code).strip().splitlines()[-1]


def upload(server, account, client_env, directory: Path, *dists, url: str | None = None):
    directory.mkdir(parents=True, exist_ok=True)
    for dist in dists:
        (directory / dist.filename).write_bytes(dist.content)
    target = server if url is None else dataclasses.replace(server, url=url)
    return twine_upload(
        target,
        [directory / dist.filename for dist in dists],
        username="__token__",
        password=account.token,
        env=client_env,
    )


# --- What is kept ----------------------------------------------------------------------


def test_a_second_anonymous_get_is_a_hit_the_app_never_sees(server, published, edge):
    # Would catch: a VCL that passes everything (a cookie, the Vary header or a
    # missing TTL making every answer uncacheable).
    path = "/simple/e2e-demo/"
    before = origin_saw(server, "GET", path)

    first = edge.get(path)
    second = edge.get(path)

    assert first.status == 200, first.describe()
    assert first.headers["x-cache"] == "MISS"
    assert second.status == 200, second.describe()
    assert second.headers["x-cache"] == "HIT"
    assert second.body == first.body
    assert wait_for_log(server, "GET", path, before + 1) == before + 1
    time.sleep(0.3)
    assert origin_saw(server, "GET", path) == before + 1
    # The keys are the edge's business, not the client's.
    assert "surrogate-key" not in second.headers
    assert "xkey" not in second.headers
    # Browsers keep the app's short max-age.
    assert second.headers["cache-control"] == "max-age=600, public"


@pytest.mark.parametrize(
    "path",
    ["/pypi/e2e-demo/json", "/project/e2e-demo/", "/rss/updates.xml", "/simple/"],
)
def test_json_api_project_pages_and_feeds_are_kept(server, published, edge, path):
    first = edge.get(path)
    second = edge.get(path)

    assert first.status == 200, first.describe()
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert second.body == first.body


def test_files_and_metadata_are_kept(server, published, dists, edge):
    page = edge.get("/simple/e2e-demo/", {"Accept": PIP_ACCEPT}).body
    wheel = next(
        file for file in json.loads(page)["files"] if file["filename"] == dists.demo_wheel.filename
    )
    path = urlsplit(urljoin(f"{edge.url}/simple/e2e-demo/", wheel["url"])).path
    for url in (path, path + ".metadata"):
        first = edge.get(url)
        second = edge.get(url)
        assert first.status == 200, (url, first.describe())
        assert second.headers["x-cache"] == "HIT", url
        assert second.body == first.body
    assert edge.get(path).body == dists.demo_wheel.content


def test_json_and_html_of_one_simple_page_are_kept_apart(server, published, edge):
    # Would catch: a cache ignoring Vary: Accept (pip handed HTML, a browser
    # JSON), and one copy per distinct Accept header instead of per format.
    path = "/simple/e2e-demo/"
    edge.purge(xkey_purge="simple-e2e-demo")

    as_json = edge.get(path, {"Accept": PIP_ACCEPT})
    as_html = edge.get(path, {"Accept": "text/html"})
    as_v1_html = edge.get(path, {"Accept": "application/vnd.pypi.simple.v1+html"})

    assert as_json.headers["content-type"] == "application/vnd.pypi.simple.v1+json"
    assert as_json.body.startswith(b"{")
    assert as_html.headers["content-type"] == "text/html; charset=utf-8"
    assert as_v1_html.headers["content-type"].startswith("application/vnd.pypi.simple.v1+html")
    assert [r.headers["x-cache"] for r in (as_json, as_html, as_v1_html)] == ["MISS"] * 3

    # Other clients' headers asking for the same format share the copy.
    for accept, twin in (
        (UV_ACCEPT, as_json),
        ("application/vnd.pypi.simple.latest+json", as_json),
        (PIP_ACCEPT, as_json),
        (BROWSER_ACCEPT, as_html),
        ("*/*", as_html),
        (None, as_html),
        ("application/vnd.pypi.simple.v1+html, text/html;q=0.5", as_v1_html),
    ):
        again = edge.get(path, {"Accept": accept} if accept else {})
        assert again.headers["x-cache"] == "HIT", accept
        assert again.headers["content-type"] == twin.headers["content-type"], accept
        assert again.body == twin.body, accept

    # A header the VCL cannot judge exactly still gets what the app chooses.
    picky = "text/html;q=0, application/vnd.pypi.simple.v1+json;q=0.5"
    answer = edge.get(path, {"Accept": picky})
    assert answer.headers["content-type"] == "application/vnd.pypi.simple.v1+json"
    assert answer.headers["x-cache"] == "MISS"


ACCEPT_HEADERS = [
    PIP_ACCEPT,
    UV_ACCEPT,
    BROWSER_ACCEPT,
    "",
    "*/*",
    "TEXT/HTML",
    "text/*",
    "image/png",
    "application/json",
    "application/*",
    "application/vnd.pypi.simple.latest+html",
    "application/vnd.pypi.simple.v1+json;q=0.5, text/html",
    "text/html;q=0.5, application/vnd.pypi.simple.v1+html",
    "*/*;q=0.1, application/vnd.pypi.simple.v1+json;q=0.2",
    "application/vnd.pypi.simple.v1+json; charset=utf-8, text/html",
    "text/html;level=1;q=0.5, application/vnd.pypi.simple.v1+json",
    "application/vnd.pypi.simple.v1+html;q=1.0, text/html",
    # Equal q and specificity: the first listed wins.
    "text/html, application/vnd.pypi.simple.v1+json",
    "application/vnd.pypi.simple.v1+html, application/vnd.pypi.simple.v1+json",
    "application/vnd.pypi.simple.v1+json;q=0.9, application/vnd.pypi.simple.v1+html",
]


def test_every_accept_header_gets_what_the_app_would_choose(server, published, edge):
    # Would catch: a reduction of Accept in the VCL that picks another format
    # than the app's negotiation for some header.
    path = "/simple/e2e-demo/"
    for accept in ACCEPT_HEADERS:
        headers = {"Accept": accept} if accept else {}
        origin = http_get(server.url + path, headers)
        assert origin.status == 200, origin.describe()
        for _ in range(2):  # the miss, then the copy
            through = edge.get(path, headers)
            assert through.headers["content-type"] == origin.headers["content-type"], accept
            assert through.body == origin.body, accept


# --- What is never kept ----------------------------------------------------------------


def test_a_signed_in_page_is_never_kept_nor_shared(server, published, account, edge):
    # Would catch: a session's page (its "Log out" form and its CSRF token)
    # cached and handed to the next visitor, or the anonymous copy handed to it.
    path = "/project/e2e-demo/"
    cookie = {"Cookie": f"csrftoken=abc; sessionid={session_cookie(server, account.username)}"}
    before = origin_saw(server, "GET", path)
    anonymous = edge.get(path)
    assert anonymous.headers["x-cache"] == "MISS"

    signed_in = [edge.get(path, cookie) for _ in range(2)]
    after = edge.get(path)

    for answer in signed_in:
        assert answer.status == 200, answer.describe()
        assert answer.headers["x-cache"] == "PASS"
        assert b"Log out" in answer.body
        assert b"csrfmiddlewaretoken" in answer.body
        assert "private" in answer.headers["cache-control"]
    # The anonymous miss and both signed-in requests; the last one was a hit.
    assert wait_for_log(server, "GET", path, before + 3) == before + 3
    assert after.headers["x-cache"] == "HIT"
    assert b"Log out" not in after.body
    assert b"csrfmiddlewaretoken" not in after.body
    assert b"Log in" in after.body
    # A cookie that is no session changes nothing: the anonymous copy.
    other_cookie = edge.get(path, {"Cookie": "csrftoken=abc; _ga=1"})
    assert other_cookie.headers["x-cache"] == "HIT"
    assert other_cookie.body == after.body


@pytest.mark.parametrize("path", ["/account/login/", "/admin/login/", "/manage/projects/"])
def test_accounts_admin_and_management_pages_pass(server, edge, path):
    answers = [edge.get(path) for _ in range(2)]

    assert [answer.headers["x-cache"] for answer in answers] == ["PASS", "PASS"]


def test_posts_are_never_kept(server, published, edge):
    # XML-RPC is a POST whose answer would be the same each time: still passed.
    body = xmlrpc.client.dumps(("e2e-demo",), "package_releases").encode()
    before = origin_saw(server, "POST", "/pypi")

    answers = [edge.request("POST", "/pypi", {"Content-Type": "text/xml"}, body) for _ in range(2)]

    for answer in answers:
        assert answer.status == 200, answer.describe()
        assert answer.headers["x-cache"] == "PASS"
        assert b"1.0" in answer.body
    assert wait_for_log(server, "POST", "/pypi", before + 2) == before + 2


# --- Purges --------------------------------------------------------------------------------


def test_purge_by_key_makes_the_next_get_a_miss_with_fresh_content(
    server, account, client_env, edge, tmp_path
):
    # Would catch: keys not indexed (xkey reading nothing), a purge answering
    # 200 without purging, and uploads that do not get through the edge.
    first = upload(
        server, account, client_env, tmp_path / "1.0", make_wheel("e2e-edge", "1.0"), url=edge.url
    )
    assert first.returncode == 0, describe(first)
    path = "/simple/e2e-edge/"
    assert edge.get(path).headers["x-cache"] == "MISS"
    assert edge.get(path).headers["x-cache"] == "HIT"
    second = upload(
        server, account, client_env, tmp_path / "1.1", make_wheel("e2e-edge", "1.1"), url=edge.url
    )
    assert second.returncode == 0, describe(second)
    # This server purges nothing itself (no EDGE_PURGE_URLS): the edge's copy
    # is the old page until purged.
    stale = edge.get(path)
    assert stale.headers["x-cache"] == "HIT"
    assert b"e2e_edge-1.1" not in stale.body

    purged = edge.purge(xkey_purge="simple-e2e-edge")

    assert purged.status == 200, purged.describe()
    assert int(purged.body) >= 1
    fresh = edge.get(path)
    assert fresh.headers["x-cache"] == "MISS"
    assert b"e2e_edge-1.1-py3-none-any.whl" in fresh.body
    assert edge.get(path).headers["x-cache"] == "HIT"

    # A soft purge: the app being up, the next answer is fetched again too.
    soft = edge.purge(xkey_softpurge="simple-e2e-edge json-e2e-edge")
    assert soft.status == 200, soft.describe()
    assert int(soft.body) >= 1
    assert edge.get(path).headers["x-cache"] == "MISS"
    # A key nothing carries purges nothing.
    assert edge.purge(xkey_purge="simple-no-such-project").body == b"0"


def test_purges_are_refused_without_keys_and_other_methods(server, published, edge):
    path = "/simple/e2e-demo/"
    edge.get(path)
    assert edge.get(path).headers["x-cache"] == "HIT"

    no_keys = edge.request("PURGE", "/")
    ban = edge.request("BAN", "/", {"xkey-purge": "simple-e2e-demo"})
    get_with_key = edge.get(path, {"xkey-purge": "simple-e2e-demo"})

    assert no_keys.status == 400
    assert b"xkey-purge" in no_keys.body
    assert ban.status == 405
    assert get_with_key.headers["x-cache"] == "HIT"
    assert edge.get(path).headers["x-cache"] == "HIT"


def test_purges_from_outside_the_acl_are_refused(server, published):
    # The ACL without loopback, as edge/run makes it with EDGE_PURGE_LOOPBACK=no:
    # this test's requests come from an address it does not list.
    with varnish_edge(server.url, purge_loopback=False, purge_allow="192.0.2.7") as edge:
        path = "/simple/e2e-demo/"
        edge.get(path)

        refused = edge.purge(xkey_purge="simple-e2e-demo")

        assert refused.status == 403, refused.describe()
        assert edge.get(path).headers["x-cache"] == "HIT"


# --- The app down --------------------------------------------------------------------------


def _install(tool: str, edge: Edge, env, directory: Path, project: str):
    venv = directory / f"{tool}-venv"
    index = f"{edge.url}/simple/"
    if tool == "pip":
        created = run([sys.executable, "-m", "venv", "--without-pip", venv], env=env)
        assert created.returncode == 0, describe(created)
        command = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install"]
        command += ["--no-cache-dir", "--index-url", index, project]
    else:
        created = run([UV, "venv", "--python", sys.executable, venv], env=env)
        assert created.returncode == 0, describe(created)
        command = [UV, "pip", "install", "--no-cache", "--index-url", index]
        command += ["--python", venv / "bin" / "python", project]
    return run(command, env=env, timeout=180)


def _wait_for(edge: Edge, path: str, wanted: set[str], timeout: float = 15):
    deadline = time.monotonic() + timeout
    while True:
        answer = edge.get(path, {"Accept": PIP_ACCEPT})
        if answer.headers.get("x-cache") in wanted or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def test_with_the_app_stopped_installs_work_and_uploads_get_a_clear_503(
    server, published, account, client_env, dists, tmp_path
):
    # An app of its own on the session's database, so stopping it leaves the
    # other tests' server alone. Simple pages live 1 s: with the app stopped they
    # are past their TTL and served stale.
    env = {**server.env, "SIMPLE_CACHE_SECONDS": "1"}
    app = start_gunicorn(env, tmp_path, name="edge-app")
    port = int(app.url.rsplit(":", 1)[1])
    try:
        with varnish_edge(app.url) as edge:
            for tool in ("pip", "uv"):
                result = _install(tool, edge, client_env, tmp_path / "up", "e2e-demo")
                assert result.returncode == 0, describe(result)

            stop(app.process)
            time.sleep(2)  # the simple pages' TTL is over; the probe sees the app gone

            down = edge.get("/simple/e2e-demo/", {"Accept": PIP_ACCEPT})
            assert down.status == 200, down.describe()
            assert down.headers["x-cache"] == "HIT-STALE"
            for tool in ("pip", "uv"):
                result = _install(tool, edge, client_env, tmp_path / "down", "e2e-demo")
                assert result.returncode == 0, describe(result)
                assert "e2e-demo" in result.stdout + result.stderr
                assert "1.0" in result.stdout + result.stderr

            # Never fetched: nothing to serve, and a message saying why.
            missing = edge.get("/simple/e2e-other-never-fetched/")
            assert missing.status == 503
            assert missing.reason == UNAVAILABLE
            assert UNAVAILABLE.encode() in missing.body
            refused = upload(
                server,
                account,
                client_env,
                tmp_path / "while-down",
                make_wheel("e2e-demo", "3.0"),
                url=edge.url,
            )
            assert refused.returncode != 0
            assert "503" in refused.stdout + refused.stderr, describe(refused)
            assert UNAVAILABLE in refused.stdout + refused.stderr, describe(refused)

            # Back: fresh answers again, nothing stale.
            app = start_gunicorn(env, tmp_path, name="edge-app-again", port=port)
            back = _wait_for(edge, "/simple/e2e-demo/", {"MISS"})
            assert back.headers["x-cache"] == "MISS", back.headers
            assert back.status == 200
    finally:
        stop(app.process)


def test_a_backend_error_serves_the_stale_copy_before_the_probe_notices(
    server, published, tmp_path
):
    # Between the app's death and the probe's verdict (up to two seconds),
    # a miss that fails retries on the stale copy instead of answering 503.
    env = {**server.env, "SIMPLE_CACHE_SECONDS": "1"}
    with gunicorn_server(env, tmp_path, name="edge-app") as app, varnish_edge(app.url) as edge:
        assert edge.get("/simple/e2e-demo/").status == 200
        time.sleep(1.2)
        stop(app.process)

        answer = edge.get("/simple/e2e-demo/")

        assert answer.status == 200, answer.describe()
        assert answer.headers["x-cache"] == "HIT-STALE"


def test_with_purges_configured_the_edge_keeps_pages_past_the_browsers_max_age(
    server, published, tmp_path
):
    # Would catch: Surrogate-Control not sent, or not read by the VCL (the edge
    # would ask the app again once the browsers' max-age is over), or handed on
    # to clients.
    edge_port = free_port()
    env = {
        **server.env,
        "SIMPLE_CACHE_SECONDS": "1",
        "EDGE_PURGE_URLS": f"http://127.0.0.1:{edge_port}",
    }
    with (
        gunicorn_server(env, tmp_path, name="edge-app") as app,
        varnish_edge(app.url, port=edge_port) as edge,
    ):
        first = edge.get("/simple/e2e-demo/")
        time.sleep(1.5)
        later = edge.get("/simple/e2e-demo/")

        assert first.headers["x-cache"] == "MISS"
        assert later.headers["x-cache"] == "HIT"
        assert int(later.headers["age"]) >= 1
        assert later.headers["cache-control"] == "max-age=1, public"
        assert "surrogate-control" not in later.headers


def test_a_kept_alive_connection_outlasts_a_pause_of_six_seconds(server, published, edge):
    # Would catch: Varnish's own idle timeout of 5 s, shorter than the pauses
    # of clients reusing a connection (the app keeps 75 s, as edge/run does).
    connection = http.client.HTTPConnection("127.0.0.1", edge.port, timeout=30)
    try:
        connection.request("GET", "/simple/")
        connection.getresponse().read()
        socket_before = connection.sock
        time.sleep(6)
        connection.request("GET", "/simple/")
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        assert connection.sock is socket_before  # the same connection, still open
    finally:
        connection.close()
