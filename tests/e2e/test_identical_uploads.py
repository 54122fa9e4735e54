"""Identical bytes uploaded at the same moment by many clients: every one of
them is told 200, on SQLite as on PostgreSQL, through the real server (several
worker processes and threads)."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.factories import make_sdist, make_wheel
from tests.liveserver import post_upload

from .conftest import simple_links

pytestmark = pytest.mark.e2e

CLIENTS = 16


@pytest.mark.parametrize("make", [make_wheel, make_sdist], ids=["wheel", "sdist"])
def test_identical_uploads_at_once_are_all_accepted(server, account, make):
    # Would catch: a loser told "This filename has already been used" (the
    # duplicate check read the files, then the winner committed, then it read
    # the registry) or "Only one sdist may be uploaded per release".
    name = f"e2e-same-{make.__name__.removeprefix('make_')}"
    expected = {}
    for round_ in range(4):
        dist = make(name, f"1.{round_}")
        with ThreadPoolExecutor(CLIENTS) as pool:
            answers = list(
                pool.map(
                    lambda _n, d=dist: post_upload(
                        f"{server.url}/legacy/",
                        ("__token__", account.token),
                        d.form(),
                        d.filename,
                        d.content,
                    ).describe(),
                    range(CLIENTS),
                )
            )
        refused = [answer for answer in answers if not answer.startswith("200 ")]
        assert refused == [], (round_, refused)
        expected[dist.filename] = dist.sha256

    links = simple_links(server, name)
    assert {filename: link.hashes["sha256"] for filename, link in links.items()} == expected
