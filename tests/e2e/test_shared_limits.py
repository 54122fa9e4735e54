"""Rate limits on the embedded default hold across gunicorn's worker processes:
the cache they count in is shared by the machine's processes, not one per
worker (with 4 workers, 25 wrong logins once went through a limit of 10)."""

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.liveserver import LiveServerError, gunicorn_server, manage, server_env

pytestmark = pytest.mark.e2e

LIMIT = 6
CLIENTS = 8
ATTEMPTS = 5  # per client: 40 in all, far past the limit


def _client(url: str) -> tuple[urllib.request.OpenerDirector, str]:
    """A browser of its own: a CSRF cookie and the form's token."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(f"{url}/account/login/", timeout=30) as page:
        html = page.read().decode()
    return opener, re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]


def _wrong_logins(url: str) -> list[int]:
    opener, csrf = _client(url)
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": csrf, "username": "victim", "password": "guess"}
    ).encode()
    statuses = []
    for _ in range(ATTEMPTS):
        # urllib opens a new connection each time: any worker may answer.
        try:
            with opener.open(f"{url}/account/login/", body, timeout=30) as answer:
                statuses.append(answer.status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)
    return statuses


def test_wrong_logins_are_counted_once_for_all_workers(tmp_path):
    env = server_env(
        tmp_path / "var",
        RATELIMIT_LOGIN=f"{LIMIT}/3600",
        RATELIMIT_LOGIN_IP="1000/3600",
    )
    env.pop("REDIS_URL", None)  # the embedded default: the machine's disk cache
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")  # the login page links CSS
    try:
        server = gunicorn_server(env, tmp_path, workers=4, worker_class="sync", threads=None)
        with server as gunicorn, ThreadPoolExecutor(CLIENTS) as pool:
            answers = list(pool.map(_wrong_logins, [gunicorn.url] * CLIENTS))
    except LiveServerError as error:
        pytest.fail(str(error))

    # 200: the form again with "wrong password"; 429: the limit. Exactly LIMIT
    # attempts are judged, whichever worker answered them and however close.
    statuses = sorted(status for client in answers for status in client)
    assert statuses == [200] * LIMIT + [429] * (CLIENTS * ATTEMPTS - LIMIT)
