"""PEP 792 on the real server with real clients: an archived project (statuses set
with ``manage.py moderate``) still installs with pip and uv and refuses twine's
upload with a message twine prints; a deprecated project installs; a
quarantined project's simple page says ``quarantined`` and offers nothing, so
pip finds no matching distribution and uv none either.

What the clients print about the status is recorded in the test output (run
with ``-s``): pip 26 and uv 0.13 say nothing of archived or deprecated projects
on their own; the index's part is the status in the simple API, asserted here."""

import json
import sys

import pytest
from uv import find_uv_bin

from tests.factories import make_wheel

from .conftest import describe, run, twine_upload

pytestmark = pytest.mark.e2e

UV = find_uv_bin()
JSON = "application/vnd.pypi.simple.v1+json"
ARCHIVED, DEPRECATED, QUARANTINED = "e2e-archived", "e2e-deprecated", "e2e-quarantined"


def _output(result) -> str:
    return " ".join((result.stdout + result.stderr).split())


@pytest.fixture(scope="module")
def statuses(server, account, client_env, tmp_path_factory):
    """The three projects, uploaded with twine, then given their statuses."""
    directory = tmp_path_factory.mktemp("status-dists")
    for name in (ARCHIVED, DEPRECATED, QUARANTINED):
        wheel = make_wheel(name, "1.0")
        (directory / wheel.filename).write_bytes(wheel.content)
        result = twine_upload(
            server,
            [directory / wheel.filename],
            username="__token__",
            password=account.token,
            env=client_env,
        )
        assert result.returncode == 0, describe(result)
    server.manage("moderate", "archive", ARCHIVED, "--reason", "No longer maintained")
    server.manage(
        "moderate", "deprecate", DEPRECATED, "--reason", "Replaced", "--successor", ARCHIVED
    )
    server.manage(
        "moderate",
        "quarantine",
        QUARANTINED,
        "--reason",
        "Malware found",
        "--moderator",
        account.username,
    )
    return directory


def _simple_json(server, name: str) -> dict:
    status, body = server.get(f"/simple/{name}/", accept=JSON)
    assert status == 200, body[:500]
    return json.loads(body)


def test_the_simple_api_carries_each_status(server, statuses):
    archived = _simple_json(server, ARCHIVED)
    assert archived["project-status"] == {"status": "archived", "reason": "No longer maintained"}
    assert [file["filename"] for file in archived["files"]] == ["e2e_archived-1.0-py3-none-any.whl"]
    deprecated = _simple_json(server, DEPRECATED)
    assert deprecated["project-status"] == {"status": "deprecated", "reason": "Replaced"}
    quarantined = _simple_json(server, QUARANTINED)
    assert quarantined["project-status"] == {"status": "quarantined", "reason": "Malware found"}
    assert (quarantined["files"], quarantined["versions"]) == ([], [])
    status, body = server.get(f"/simple/{QUARANTINED}/")
    assert status == 200
    assert b'<meta name="pypi:project-status" content="quarantined">' in body
    assert b"<a " not in body
    # The JSON API keeps its 404 for a quarantined project, saying why.
    status, body = server.get(f"/pypi/{QUARANTINED}/json", accept="application/json")
    assert status == 404
    assert json.loads(body)["project_status"]["status"] == "quarantined"
    status, body = server.get(f"/pypi/{ARCHIVED}/json", accept="application/json")
    assert json.loads(body)["info"]["project_status"]["status"] == "archived"


def test_pip_installs_archived_and_deprecated_not_quarantined(
    server, statuses, client_env, tmp_path
):
    venv = tmp_path / "venv"
    created = run([sys.executable, "-m", "venv", "--without-pip", venv], env=client_env)
    assert created.returncode == 0, describe(created)
    pip = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python"]
    index = ["--index-url", f"{server.url}/simple/", "--no-cache-dir"]

    for name in (ARCHIVED, DEPRECATED):
        result = run([*pip, "install", *index, name], env=client_env)
        print(f"\n--- pip install {name}:\n{result.stdout}{result.stderr}")
        assert result.returncode == 0, describe(result)
        assert f"Successfully installed {name}-1.0" in result.stdout, describe(result)

    result = run([*pip, "install", *index, QUARANTINED], env=client_env)
    print(f"\n--- pip install {QUARANTINED}:\n{result.stdout}{result.stderr}")
    assert result.returncode != 0, describe(result)
    assert f"No matching distribution found for {QUARANTINED}" in _output(result), describe(result)


def test_uv_installs_archived_and_deprecated_not_quarantined(
    server, statuses, client_env, tmp_path
):
    venv = tmp_path / "uv-venv"
    created = run([UV, "venv", "--python", sys.executable, venv], env=client_env)
    assert created.returncode == 0, describe(created)
    install = [UV, "pip", "install", "--index-url", f"{server.url}/simple/"]
    install += ["--python", venv / "bin" / "python"]

    for name in (ARCHIVED, DEPRECATED):
        result = run([*install, name], env=client_env)
        print(f"\n--- uv pip install {name}:\n{result.stdout}{result.stderr}")
        assert result.returncode == 0, describe(result)
        assert f"+ {name}==1.0" in _output(result), describe(result)

    result = run([*install, QUARANTINED], env=client_env)
    print(f"\n--- uv pip install {QUARANTINED}:\n{result.stdout}{result.stderr}")
    assert result.returncode != 0, describe(result)
    assert QUARANTINED in _output(result), describe(result)


def test_twine_upload_to_an_archived_project_is_refused_with_the_message(
    server, statuses, account, client_env
):
    wheel = make_wheel(ARCHIVED, "2.0")
    (statuses / wheel.filename).write_bytes(wheel.content)

    result = twine_upload(
        server,
        [statuses / wheel.filename],
        username="__token__",
        password=account.token,
        env=client_env,
    )

    print(f"\n--- twine upload {wheel.filename}:\n{result.stdout}{result.stderr}")
    shown = _output(result)
    assert result.returncode != 0, describe(result)
    assert "400 Bad Request" in shown, describe(result)
    message = (
        "Project 'e2e-archived' is archived: it accepts no new uploads. "
        "Its Owners can unarchive it at /manage/project/e2e-archived/status/."
    )
    assert message in shown, describe(result)
    assert "2.0" not in _simple_json(server, ARCHIVED)["versions"]
