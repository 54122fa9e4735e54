"""The real bandersnatch mirrors the live index: completely on the first run,
only the changes on the second, and pip installs from the mirror it leaves.

bandersnatch reads the project list and the changelog over XML-RPC
(list_packages_with_serial, changelog_since_serial), each project's
/pypi/<name>/json (checking X-PyPI-Last-Serial against the serial it expects)
and then the files, whose sha256 it verifies.
"""

import hashlib
import json
import sys
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.factories import make_sdist, make_wheel

from .conftest import describe, run, twine_upload

pytestmark = pytest.mark.e2e

BANDERSNATCH = Path(sys.executable).with_name("bandersnatch")
JSON = "application/vnd.pypi.simple.v1+json"

FIRST = (
    make_wheel("e2e-mirror-one", "1.0"),
    make_sdist("e2e-mirror-one", "1.0"),
    make_wheel("e2e-mirror-two", "0.1"),
    make_wheel("e2e-mirror-still", "1.0"),
)
SECOND = (
    make_wheel("e2e-mirror-one", "1.1"),
    make_wheel("e2e-mirror-three", "1.0"),
)


@dataclass
class Run:
    result: object  # subprocess.CompletedProcess
    serial: int  # the mirror's status file after the run
    files: dict[str, tuple[str, int]]  # web-relative path -> (sha256, mtime_ns)
    diff: list[str]  # files bandersnatch wrote in this run (its diff-file)

    @property
    def log(self) -> str:
        return self.result.stdout + self.result.stderr


def _config(root: Path, master: str) -> Path:
    config = root / "bandersnatch.conf"
    config.write_text(
        "[mirror]\n"
        f"directory = {root / 'mirror'}\n"
        f"master = {master}\n"
        # The test server speaks plain http on 127.0.0.1.
        "allow-non-https = true\n"
        "json = true\n"
        "release-files = true\n"
        "simple-format = ALL\n"
        "hash-index = false\n"
        "workers = 3\n"
        "verifiers = 1\n"
        "timeout = 30\n"
        "global-timeout = 600\n"
        "stop-on-error = true\n"
        "compare-method = hash\n"
        f"diff-file = {root / 'diff'}\n"
        "api-method = xmlrpc\n"
    )
    return config


def _snapshot(web: Path) -> dict[str, tuple[str, int]]:
    return {
        str(path.relative_to(web)): (
            hashlib.sha256(path.read_bytes()).hexdigest(),
            path.stat().st_mtime_ns,
        )
        for path in sorted((web / "packages").rglob("*"))
        if path.is_file()
    }


def _mirror(config: Path, root: Path, env) -> Run:
    result = run([BANDERSNATCH, "--config", config, "mirror"], env=env, timeout=300)
    # Kept beside the mirror for whoever reads a failed run (and for the docs).
    runs = len(list(root.glob("bandersnatch-*.log")))
    (root / f"bandersnatch-{runs + 1}.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, describe(result)
    mirror = root / "mirror"
    diff_file = root / "diff"
    diff = diff_file.read_text().split() if diff_file.exists() else []
    return Run(
        result=result,
        serial=int((mirror / "status").read_text()),
        files=_snapshot(mirror / "web"),
        diff=[str(Path(path).relative_to(mirror / "web")) for path in diff],
    )


def _upload(server, account, client_env, directory: Path, dists) -> None:
    directory.mkdir()
    for dist in dists:
        (directory / dist.filename).write_bytes(dist.content)
    result = twine_upload(
        server,
        sorted(directory.iterdir()),
        username="__token__",
        password=account.token,
        env=client_env,
    )
    assert result.returncode == 0, describe(result)


def _index_state(server) -> dict[str, dict]:
    """Per normalized project: its serial and files (filename -> (url path, sha256))."""
    status, body = server.get("/simple/", accept=JSON)
    assert status == 200
    state = {}
    for entry in json.loads(body)["projects"]:
        name = entry["name"]
        status, page = server.get(f"/simple/{name}/", accept=JSON)
        assert status == 200, name
        detail = json.loads(page)
        state[detail["name"]] = {
            "serial": entry["_last-serial"],
            "files": {
                file["filename"]: (urlsplit(file["url"]).path, file["hashes"]["sha256"])
                for file in detail["files"]
            },
        }
    return state


def _assert_mirror_complete(web: Path, state: dict[str, dict]) -> None:
    for name, project in state.items():
        simple = web / "simple" / name
        html = (simple / "index.html").read_text()
        listed = json.loads((simple / "index.v1_json").read_text())
        assert {file["filename"] for file in listed["files"]} == set(project["files"]), name
        metadata = json.loads((web / "json" / name).read_text())
        assert metadata["last_serial"] == project["serial"], name
        for filename, (url_path, sha256) in project["files"].items():
            assert filename in html
            local = web / url_path.lstrip("/")
            assert hashlib.sha256(local.read_bytes()).hexdigest() == sha256, filename


@dataclass
class Mirrored:
    root: Path
    first: Run
    second: Run
    first_state: dict
    second_state: dict
    first_last_serial: int
    second_last_serial: int


@pytest.fixture(scope="module")
def mirrored(server, account, client_env, tmp_path_factory) -> Mirrored:
    root = tmp_path_factory.mktemp("bandersnatch")
    config = _config(root, server.url)
    proxy = xmlrpc.client.ServerProxy(server.url + "/pypi")

    _upload(server, account, client_env, root / "first", FIRST)
    first_state = _index_state(server)
    first_last_serial = proxy.changelog_last_serial()
    first = _mirror(config, root, client_env)

    _upload(server, account, client_env, root / "second", SECOND)
    server.manage("yank_release", "e2e-mirror-two", "0.1", "--reason", "superseded")
    second_state = _index_state(server)
    second_last_serial = proxy.changelog_last_serial()
    second = _mirror(config, root, client_env)
    return Mirrored(
        root, first, second, first_state, second_state, first_last_serial, second_last_serial
    )


def test_first_run_mirrors_every_project_and_file(mirrored):
    web = mirrored.root / "mirror" / "web"
    assert mirrored.first.serial == mirrored.first_last_serial
    assert {"e2e-mirror-one", "e2e-mirror-two", "e2e-mirror-still"} <= set(mirrored.first_state)
    _assert_mirror_complete(web, mirrored.second_state)
    for dist in FIRST:
        (path,) = [name for name in mirrored.first.files if name.endswith("/" + dist.filename)]
        assert mirrored.first.files[path][0] == dist.sha256


def test_second_run_fetches_only_the_changes(mirrored):
    first, second = mirrored.first, mirrored.second
    assert second.serial == mirrored.second_last_serial > first.serial
    # It followed the changelog from where the first run stopped.
    assert "Syncing based on changelog" in second.log
    assert f"Current mirror serial: {first.serial}" in second.log
    assert f"New mirror serial: {second.serial}" in second.log
    # Files of the first run were not written again: same bytes, same mtime.
    for path, (sha256, mtime) in first.files.items():
        assert second.files[path] == (sha256, mtime), path
    fetched = {path for path in second.diff if path.startswith("packages/")}
    assert fetched == {path for path in second.files if path not in first.files}
    assert {Path(path).name for path in fetched} == {dist.filename for dist in SECOND}
    # Only the projects that changed were rewritten (and the root index, which
    # lists them all).
    rewritten = {
        Path(path).parts[1]
        for path in second.diff
        if path.startswith("simple/") and len(Path(path).parts) > 2
    }
    assert rewritten == {"e2e-mirror-one", "e2e-mirror-two", "e2e-mirror-three"}
    # The yank reached the mirror's simple page.
    page = mirrored.root / "mirror" / "web" / "simple" / "e2e-mirror-two" / "index.html"
    assert 'data-yanked="superseded"' in page.read_text()


def test_pip_installs_from_the_mirror(mirrored, client_env, tmp_path):
    venv = tmp_path / "venv"
    created = run([sys.executable, "-m", "venv", "--without-pip", venv], env=client_env)
    assert created.returncode == 0, describe(created)
    python = venv / "bin" / "python"
    index = (mirrored.root / "mirror" / "web" / "simple").as_uri()
    result = run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--index-url",
            index,
            "e2e-mirror-one",
        ],
        env=client_env,
    )
    assert result.returncode == 0, describe(result)
    assert "Successfully installed e2e-mirror-one-1.1" in result.stdout, describe(result)
    version = run(
        [python, "-c", "import e2e_mirror_one; print(e2e_mirror_one.VERSION)"], env=client_env
    )
    assert version.stdout.strip() == "1.1", describe(version)
