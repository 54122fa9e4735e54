"""The kill switches on the real server: switched with ``manage.py moderate
switch`` in another process, seen by gunicorn's workers at once, and what twine
prints when an upload is refused."""

import pytest

from tests.factories import make_wheel

from .conftest import describe, twine_upload

pytestmark = pytest.mark.e2e

BANNER = b"Read-only mode: browsing and installing packages work"


def switch(server, name: str, state: str) -> None:
    server.manage("moderate", "switch", name, state, "--reason", f"e2e: {name} {state}")


def test_twine_shows_why_uploads_are_refused_until_the_switch_is_off(
    server, account, client_env, tmp_path
):
    wheel = make_wheel("e2e-switched", "1.0")
    (tmp_path / wheel.filename).write_bytes(wheel.content)

    def upload():
        return twine_upload(
            server,
            [tmp_path / wheel.filename],
            username="__token__",
            password=account.token,
            env=client_env,
        )

    switch(server, "disallow-new-upload", "on")
    try:
        refused = upload()
        assert server.get("/simple/")[0] == 200  # reads go on
    finally:
        switch(server, "disallow-new-upload", "off")
    shown = " ".join((refused.stdout + refused.stderr).split())
    assert refused.returncode != 0, describe(refused)
    assert "403 Forbidden" in shown, describe(refused)
    message = "New uploads are temporarily disabled by the administrators. Try again later."
    assert message in shown, describe(refused)
    assert server.get("/simple/e2e-switched/")[0] == 404

    accepted = upload()
    assert accepted.returncode == 0, describe(accepted)


def test_read_only_banner_comes_and_goes_with_the_switch(server):
    assert BANNER not in server.get("/help/")[1]
    switch(server, "read-only", "on")
    try:
        status, page = server.get("/help/")
    finally:
        switch(server, "read-only", "off")
    assert status == 200 and BANNER in page
    assert BANNER not in server.get("/help/")[1]
