"""Download counts from the real server: gunicorn's two workers count in the
cache they share, and move the counts to the database themselves. No cron job
and no command runs here, yet a download shows in the JSON API and on the
project page within a minute."""

import json
import re
import time

import pytest

from tests.factories import make_wheel

from .conftest import describe, twine_upload

pytestmark = pytest.mark.e2e


def shown(server) -> tuple[int, int]:
    """Today's downloads of e2e-counts: the JSON API's and the project page's."""
    status, body = server.get("/pypi/e2e-counts/json", accept="application/json")
    assert status == 200, body[:2000]
    info = json.loads(body)["info"]
    status, page = server.get("/project/e2e-counts/")
    assert status == 200, page[:2000]
    on_page = re.search(rb'<dd data-downloads="last_day">([\d,]+)</dd>', page)
    return info["downloads"]["last_day"], int(on_page.group(1).replace(b",", b""))


def test_a_download_shows_within_a_minute_without_cron(server, account, client_env, tmp_path):
    wheel = make_wheel("e2e-counts", "1.0")
    (tmp_path / wheel.filename).write_bytes(wheel.content)
    result = twine_upload(
        server,
        [tmp_path / wheel.filename],
        username="__token__",
        password=account.token,
        env=client_env,
    )
    assert result.returncode == 0, describe(result)
    # Read once, so that the numbers are cached as a visitor would leave them.
    assert shown(server) == (0, 0)
    status, body = server.get("/pypi/e2e-counts/json", accept="application/json")
    file_path = "/packages/" + json.loads(body)["urls"][0]["url"].split("/packages/", 1)[1]

    started = time.monotonic()
    for _ in range(2):  # most likely served by both workers
        status, content = server.get(file_path, accept="*/*")
        assert (status, content) == (200, wheel.content)
    while (numbers := shown(server)) != (2, 2):
        assert max(numbers) <= 2, f"counted twice: {numbers}"
        assert time.monotonic() - started < 60, f"still {numbers} after a minute"
        time.sleep(1)
    # The bound the operations guide gives: 1.5 flush intervals + 15 s.
    assert time.monotonic() - started < 47
