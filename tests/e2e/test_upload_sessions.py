"""Upload 2.0 (PEP 694) against the live server: no client speaks it yet, so
the session is driven with plain HTTP (urllib); the installs are REAL pip and
uv, isolated (client_env: no configuration, no cache, --index-url only).

A session's files install from its stage before it is published, and from the
index after; a canceled session leaves nothing, rows or bytes.
"""

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from uv import find_uv_bin

from tests.factories import make_sdist, make_wheel

from .conftest import describe, run

pytestmark = pytest.mark.e2e

UV = find_uv_bin()
V2 = "application/vnd.pypi.upload.v2+json"


class Client:
    """The few requests of PEP 694 a publishing tool would make."""

    def __init__(self, server, token: str):
        self.server = server
        self.token = token

    def request(self, method: str, url: str, body=None, content_type: str = V2):
        if not url.startswith("http"):
            url = self.server.url + url
        data = body
        if isinstance(body, dict):
            data = json.dumps({"meta": {"api-version": "2.0"}, **body}).encode()
        headers = {"Authorization": f"Bearer {self.token}"}
        if data is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def json(self, method: str, url: str, body=None, *, expect: int) -> dict:
        status, _headers, content = self.request(method, url, body)
        assert status == expect, (status, content)
        return json.loads(content) if content else {}

    def stage(self, session: dict, dist) -> None:
        announced = self.json(
            "POST",
            session["links"]["upload"],
            {
                "filename": dist.filename,
                "size": len(dist.content),
                "hashes": {"sha256": dist.sha256},
                "mechanism": "http-post-bytes",
            },
            expect=202,
        )
        status, _headers, content = self.request(
            "POST",
            announced["mechanism"]["file_url"],
            dist.content,
            content_type="application/octet-stream",
        )
        assert status == 201, content
        completed = self.json("POST", announced["links"]["complete"], {}, expect=200)
        assert completed["status"] == "complete"


def install(tool: str, index: str, requirement: str, client_env, venv: Path) -> str:
    if tool == "pip":
        created = run([sys.executable, "-m", "venv", "--without-pip", venv], env=client_env)
        assert created.returncode == 0, describe(created)
        command = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install"]
        command += ["--no-cache-dir", "--index-url", index, requirement]
    else:
        created = run([UV, "venv", "--python", sys.executable, venv], env=client_env)
        assert created.returncode == 0, describe(created)
        command = [UV, "pip", "install", "--no-config", "--no-cache", "--index-url", index]
        command += ["--python", venv / "bin" / "python", requirement]
    result = run(command, env=client_env, timeout=180)
    assert result.returncode == 0, describe(result)
    version = run(
        [venv / "bin" / "python", "-c", "import e2e_session; print(e2e_session.VERSION)"],
        env=client_env,
        timeout=60,
    )
    assert version.returncode == 0, describe(version)
    return result.stdout + result.stderr


def stored_filenames(server) -> set[str]:
    return {path.name for path in (server.var_dir / "files").rglob("*") if path.is_file()}


def test_a_session_installs_from_its_stage_then_from_the_index_once_published(
    server, account, client_env, tmp_path
):
    api = Client(server, account.token)
    wheel, sdist = make_wheel("e2e-session", "1.0"), make_sdist("e2e-session", "1.0")
    session = api.json(
        "POST", "/upload/2.0/", {"name": "e2e-session", "version": "1.0"}, expect=201
    )
    api.stage(session, wheel)
    api.stage(session, sdist)
    stage = session["links"]["stage"]

    # Before publishing: installable from the stage, unknown to the index.
    assert server.get("/simple/e2e-session/")[0] == 404
    printed = install("pip", stage, "e2e-session", client_env, tmp_path / "pip-stage")
    assert "Successfully installed e2e-session-1.0" in printed, printed
    printed = install("uv", stage, "e2e-session", client_env, tmp_path / "uv-stage")
    assert "+ e2e-session==1.0" in printed, printed

    published = api.json("POST", session["links"]["publish"], {}, expect=202)
    assert published["status"] == "published"
    assert api.json("GET", session["links"]["session"], expect=200)["status"] == "published"

    # After: from the index, as any release; the stage is gone.
    index = f"{server.url}/simple/"
    printed = install("pip", index, "e2e-session", client_env, tmp_path / "pip-index")
    assert "Successfully installed e2e-session-1.0" in printed, printed
    printed = install("uv", index, "e2e-session", client_env, tmp_path / "uv-index")
    assert "+ e2e-session==1.0" in printed, printed
    assert server.get(stage.removeprefix(server.url))[0] == 404


def test_a_canceled_session_leaves_nothing(server, account, client_env):
    api = Client(server, account.token)
    wheel = make_wheel("e2e-canceled", "1.0")
    session = api.json(
        "POST", "/upload/2.0/", {"name": "e2e-canceled", "version": "1.0"}, expect=201
    )
    api.stage(session, wheel)
    assert wheel.filename in stored_filenames(server)

    canceled = api.json("DELETE", session["links"]["session"], expect=200)
    assert canceled["status"] == "canceled"
    assert canceled["files"] == {}
    assert wheel.filename not in stored_filenames(server)
    rows = server.manage(
        "shell",
        "--verbosity",
        "0",
        "-c",
        "from packages.models import Project, StagedFile;"
        f"print(StagedFile.objects.filter(filename={wheel.filename!r}).count(),"
        " Project.objects.filter(normalized_name='e2e-canceled').count())",
    )
    assert rows.split() == ["0", "0"], rows
    assert server.get("/simple/e2e-canceled/")[0] == 404
    assert server.get(session["links"]["stage"].removeprefix(server.url))[0] == 404
    assert server.get("/pypi/e2e-canceled/json", accept="application/json")[0] == 404
    # The name is free again: a legacy upload or a new session may take it.
    again = api.json("POST", "/upload/2.0/", {"name": "e2e-canceled", "version": "1.0"}, expect=201)
    assert again["status"] == "pending"
