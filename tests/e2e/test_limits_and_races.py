"""What the server does under pressure: a file over the limit while it is still
being sent, and two clients uploading one filename at the same moment."""

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.factories import make_wheel
from tests.liveserver import post_upload

from .conftest import UPLOAD_MAX_BYTES, describe, simple_links, twine_upload

pytestmark = pytest.mark.e2e


def test_oversized_upload_is_refused_with_a_message_twine_shows(
    server, account, client_env, tmp_path
):
    # Would catch: the server resetting the connection mid-send (twine would
    # print a connection error instead of the reason), or storing the file.
    payload = os.urandom(UPLOAD_MAX_BYTES + 1_000_000)  # random: stays big zipped
    big = make_wheel("e2e-big", "1.0", files={"e2e_big/blob.bin": payload})
    (tmp_path / big.filename).write_bytes(big.content)

    result = twine_upload(
        server,
        [tmp_path / big.filename],
        username="__token__",
        password=account.token,
        env=client_env,
    )

    shown = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, describe(result)
    assert "400 Bad Request" in shown, describe(result)
    assert "Limit for project 'e2e-big' is 3.8 MB (4,000,000 bytes)" in shown, describe(result)
    assert server.get("/simple/e2e-big/")[0] == 404


def test_concurrent_uploads_of_one_filename_have_exactly_one_winner(server, account):
    # Would catch: both uploads accepted (two files under one name), both refused,
    # or the loser getting a 500 instead of the public index's message.
    winners = {}
    for round_ in range(3):
        version = f"1.{round_}"
        first = make_wheel("e2e-race", version, files={"e2e_race/first.py": b"A = 1\n"})
        second = make_wheel("e2e-race", version, files={"e2e_race/second.py": b"B = 2\n"})
        assert first.filename == second.filename and first.sha256 != second.sha256
        with ThreadPoolExecutor(2) as pool:
            responses = pool.map(
                lambda d: post_upload(
                    f"{server.url}/legacy/",
                    ("__token__", account.token),
                    d.form(),
                    d.filename,
                    d.content,
                ),
                [first, second],
            )
            results = [(response.status, response.reason) for response in responses]

        statuses = sorted(status for status, _reason in results)
        assert statuses == [200, 400], results
        loser_reason = next(reason for status, reason in results if status == 400)
        assert loser_reason.startswith("File already exists"), results
        winner = first if results[0][0] == 200 else second
        winners[first.filename] = winner.sha256

    links = simple_links(server, "e2e-race")
    assert {name: link.hashes["sha256"] for name, link in links.items()} == winners
