"""What the server does under pressure: a file over the limit while it is still
being sent, and two clients uploading one filename at the same moment."""

import base64
import http.client
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from tests.factories import Dist, make_wheel

from .conftest import UPLOAD_MAX_BYTES, describe, simple_links, twine_upload

pytestmark = pytest.mark.e2e


def multipart(dist: Dist) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    parts = []
    for key, value in dist.form().items():
        for item in value if isinstance(value, list) else [value]:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                f"{item}\r\n".encode()
            )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{dist.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        + dist.content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def post_upload(server, dist: Dist, token: str) -> tuple[int, str]:
    body, content_type = multipart(dist)
    url = urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    credentials = base64.b64encode(f"__token__:{token}".encode()).decode()
    try:
        connection.request(
            "POST",
            "/legacy/",
            body=body,
            headers={"Content-Type": content_type, "Authorization": f"Basic {credentials}"},
        )
        response = connection.getresponse()
        response.read()
        return response.status, response.reason
    finally:
        connection.close()


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
    assert "File too large. Limit for project 'e2e-big' is 4 MB" in shown, describe(result)
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
            results = list(
                pool.map(lambda d: post_upload(server, d, account.token), [first, second])
            )

        statuses = sorted(status for status, _reason in results)
        assert statuses == [200, 400], results
        loser_reason = next(reason for status, reason in results if status == 400)
        assert loser_reason.startswith("File already exists"), results
        winner = first if results[0][0] == 200 else second
        winners[first.filename] = winner.sha256

    links = simple_links(server, "e2e-race")
    assert {name: link.hashes["sha256"] for name, link in links.items()} == winners
