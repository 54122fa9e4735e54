"""Staged releases for people, with the real clients: a project whose Owner
requires publishing sessions takes twine's uploads (twine says they succeeded)
without making them installable; pip and uv install them from the session's
preview index only; the Owner publishes on the web (signed in with a password
and an authenticator code) and then pip installs from the index; a cancelled
session leaves nothing behind.

pip runs isolated (client_env: PIP_CONFIG_FILE=/dev/null, no PIP_*/UV_* of the
machine's, no cache) with --index-url only, uv with --no-config --no-cache, so
an install proves where its files came from.
"""

import json
import re
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
import requests
from uv import find_uv_bin

from tests.factories import make_sdist, make_wheel
from tests.liveserver import superuser_with_token

from .conftest import describe, run, simple_links, twine_upload

pytestmark = pytest.mark.e2e

UV = find_uv_bin()
NAME = "e2e-staged"
CANCELLED = "e2e-staged-cancel"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# A purge reaches the other gunicorn worker's memory within
# PAGE_LOCAL_CACHE_SECONDS (1 s by default; packages.cache).
PURGE_REACHES_EVERY_WORKER = 1.2
SESSION_ID = re.compile(r'name="session" value="([0-9a-f-]{36})"')


def output(result) -> str:
    return " ".join((result.stdout + result.stderr).split())


# --- The Owner, on the web ------------------------------------------------------------


@dataclass
class Owner:
    username: str
    token: str
    web: requests.Session
    base: str

    def page(self, path: str) -> str:
        response = self.web.get(self.base + path, timeout=30)
        assert response.status_code == 200, (path, response.status_code, response.text[:2000])
        return response.text

    def post(self, path: str, fields: dict, *, form_page: str) -> requests.Response:
        """POST ``fields`` with the CSRF token of ``form_page``, as the browser does."""
        token = CSRF.search(self.page(form_page))[1]
        return self.web.post(
            self.base + path,
            data={"csrfmiddlewaretoken": token, **fields},
            headers={"Referer": self.base + form_page},
            timeout=60,
        )


def _form_post(web, base: str, path: str, fields: dict) -> requests.Response:
    page = web.get(base + path, timeout=30)
    assert page.status_code == 200, (path, page.status_code, page.text[:2000])
    token = CSRF.search(page.text)[1]
    return web.post(
        base + path,
        data={"csrfmiddlewaretoken": token, **fields},
        headers={"Referer": base + path},
        timeout=30,
    )


@pytest.fixture(scope="module")
def owner(server) -> Owner:
    """An account of its own (the session's e2e-owner keeps no second factor),
    with an authenticator app set up on the web, then signed in afresh with its
    password and a code, as a person does."""
    username = f"e2e-stager-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(16)
    token = superuser_with_token(server.env, username, password)
    base = server.url

    first = requests.Session()
    signed_in = _form_post(
        first, base, "/account/login/", {"username": username, "password": password}
    )
    assert signed_in.status_code == 200 and signed_in.url.startswith(base), signed_in.url
    enrol = first.get(base + "/account/two-factor/totp/add/", timeout=30)
    secret = re.search(r'class="two-factor__secret"[^>]*>([A-Z2-7]+)<', enrol.text)[1]
    totp = pyotp.TOTP(secret)
    token_csrf = CSRF.search(enrol.text)[1]
    enrolled = first.post(
        base + "/account/two-factor/totp/add/",
        data={"csrfmiddlewaretoken": token_csrf, "code": totp.now()},
        headers={"Referer": base + "/account/two-factor/totp/add/"},
        timeout=30,
    )
    assert enrolled.url.endswith("/account/two-factor/recovery-codes/"), enrolled.text[:2000]

    web = requests.Session()
    pending = _form_post(web, base, "/account/login/", {"username": username, "password": password})
    assert pending.url.endswith("/account/login/two-factor/"), pending.url
    # The next step's code: the enrolment used this step's, and a code is
    # accepted once; the server takes a step either side of its clock.
    code = totp.at(time.time() + 30)
    verified = web.post(
        base + "/account/login/two-factor/",
        data={
            "csrfmiddlewaretoken": CSRF.search(pending.text)[1],
            "method": "totp",
            "totp-code": code,
        },
        headers={"Referer": base + "/account/login/two-factor/"},
        timeout=30,
    )
    assert not verified.url.endswith("/account/login/two-factor/"), verified.text[:2000]
    return Owner(username, token, web, base)


def _upload(server, owner, paths, client_env, extra=()):
    return twine_upload(
        server, paths, username="__token__", password=owner.token, env=client_env, extra=extra
    )


def _write(directory: Path, *dists) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for dist in dists:
        path = directory / dist.filename
        path.write_bytes(dist.content)
        paths.append(path)
    return paths


def _serial(server, name: str = NAME) -> str:
    response = requests.get(f"{server.url}/simple/{name}/", timeout=30)
    assert response.status_code == 200, response.text[:2000]
    return response.headers["X-PyPI-Last-Serial"]


def _json_versions(server) -> set[str]:
    status, body = server.get(f"/pypi/{NAME}/json", accept="application/json")
    assert status == 200, body[:2000]
    return set(json.loads(body)["releases"])


def _preview_urls(owner, name: str = NAME) -> dict[str, str]:
    """version -> the preview index the sessions page gives for it."""
    page = owner.page(f"/manage/project/{name}/sessions/")
    command = re.compile(rf"pip install --index-url (\S+) {re.escape(name)}==([\w.]+)")
    return {version: url for url, version in command.findall(page)}


def _require_sessions(owner, name: str, required: str) -> requests.Response:
    answer = owner.post(
        f"/manage/project/{name}/sessions/require/",
        {"required": required},
        form_page=f"/manage/project/{name}/sessions/",
    )
    assert answer.status_code == 200, answer.text[:2000]
    return answer


def _venv(tmp_path, client_env, name="venv") -> Path:
    venv = tmp_path / name
    created = run([UV, "venv", "--no-config", "--python", sys.executable, venv], env=client_env)
    assert created.returncode == 0, describe(created)
    return venv / "bin" / "python"


def _pip_install(python, index: str, requirement: str, client_env):
    return run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--no-cache-dir",
            "--index-url",
            index,
            requirement,
        ],
        env=client_env,
    )


def _uv_install(python, index: str, requirement: str, client_env):
    return run(
        [
            UV,
            "pip",
            "install",
            "--no-config",
            "--no-cache",
            "--index-url",
            index,
            "--python",
            python,
            requirement,
        ],
        env=client_env,
    )


def _installed(python, client_env) -> str:
    result = run([python, "-c", "import e2e_staged; print(e2e_staged.VERSION)"], env=client_env)
    assert result.returncode == 0, describe(result)
    return result.stdout.strip()


def _session_rows(server, name: str) -> str:
    """What the database holds of the project's sessions and their files."""
    return server.manage(
        "shell",
        "-c",
        "from packages.models import UploadSession, StagedFile;"
        f"print(sorted(UploadSession.objects.filter(normalized_name={name!r})"
        ".values_list('version', 'status')),"
        f" sorted(StagedFile.objects.filter(session__normalized_name={name!r})"
        ".values_list('filename', flat=True)))",
    ).strip()


def _stored(server, filename: str) -> list[Path]:
    return [path for path in (server.var_dir / "files").rglob(filename) if path.is_file()]


# --- The test --------------------------------------------------------------------------


def test_staged_upload_installs_from_preview_until_the_owner_publishes(
    server, owner, client_env, tmp_path
):
    simple = f"{server.url}/simple/"
    dists = tmp_path / "dists"
    first = _write(dists / "0.9", make_wheel(NAME, "0.9"))
    staged_wheel, staged_sdist = make_wheel(NAME, "1.0"), make_sdist(NAME, "1.0")
    staged = _write(dists / "1.0", staged_wheel, staged_sdist)

    # A project as it was before: its uploads are public at once.
    result = _upload(server, owner, first, client_env)
    assert result.returncode == 0, describe(result)

    # The Owner requires sessions on the web.
    answer = _require_sessions(owner, NAME, "on")
    assert "now waits in a session until an Owner publishes it" in answer.text
    serial = _serial(server)

    # twine uploads the wheel and the sdist of 1.0, and says it succeeded;
    # --verbose shows the answer's reason: staged.
    result = _upload(server, owner, staged, client_env, extra=["--verbose"])
    assert result.returncode == 0, describe(result)
    assert output(result).count("200 OK (staged until an Owner publishes it)") == 2, describe(
        result
    )
    assert f"publish this release at {server.url}/manage/project/{NAME}/sessions/" in output(
        result
    ), describe(result)

    # Nothing public changed: the simple page, the JSON API, the serial.
    links = simple_links(server, NAME)
    assert staged_wheel.filename not in links and staged_sdist.filename not in links, links
    assert _json_versions(server) == {"0.9"}
    assert _serial(server) == serial

    # pip can't install 1.0 from the index ...
    python = _venv(tmp_path, client_env)
    result = _pip_install(python, simple, f"{NAME}==1.0", client_env)
    assert result.returncode != 0, describe(result)
    # ... but can from the preview index the sessions page gives, and uv too.
    previews = _preview_urls(owner)
    assert set(previews) == {"1.0"}, previews
    preview = previews["1.0"]
    assert preview.startswith(server.url) and preview != simple
    result = _pip_install(python, preview, f"{NAME}==1.0", client_env)
    assert result.returncode == 0, describe(result)
    assert f"Looking in indexes: {preview}" in result.stdout, describe(result)
    assert "Successfully installed e2e-staged-1.0" in result.stdout, describe(result)
    assert _installed(python, client_env) == "1.0"
    uv_python = _venv(tmp_path, client_env, "uv-venv")
    result = _uv_install(uv_python, preview, f"{NAME}==1.0", client_env)
    assert result.returncode == 0, describe(result)
    assert f"+ {NAME}==1.0" in output(result), describe(result)

    # The Owner publishes on the web; pip then installs 1.0 from the index.
    page = owner.page(f"/manage/project/{NAME}/sessions/")
    session_id = SESSION_ID.search(page)[1]
    answer = owner.post(
        f"/manage/project/{NAME}/sessions/publish/",
        {"session": session_id, "confirm": "1.0"},
        form_page=f"/manage/project/{NAME}/sessions/",
    )
    assert answer.status_code == 200, answer.text[:2000]
    assert "e2e-staged 1.0 is published with 2 files." in answer.text
    time.sleep(PURGE_REACHES_EVERY_WORKER)
    links = simple_links(server, NAME)
    assert links[staged_wheel.filename].hashes["sha256"] == staged_wheel.sha256
    assert links[staged_sdist.filename].hashes["sha256"] == staged_sdist.sha256
    assert _json_versions(server) == {"0.9", "1.0"}
    assert int(_serial(server)) > int(serial)
    fresh = _venv(tmp_path, client_env, "after")
    result = _pip_install(fresh, simple, NAME, client_env)
    assert result.returncode == 0, describe(result)
    assert "Successfully installed e2e-staged-1.0" in result.stdout, describe(result)
    # The preview index ended with its session.
    assert requests.get(preview + f"{NAME}/", timeout=30).status_code == 404


def test_a_cancelled_session_leaves_nothing(server, owner, client_env, tmp_path):
    first = _write(tmp_path / "0.1", make_wheel(CANCELLED, "0.1"))
    wheel = make_wheel(CANCELLED, "1.1")
    paths = _write(tmp_path / "1.1", wheel)
    result = _upload(server, owner, first, client_env)
    assert result.returncode == 0, describe(result)
    _require_sessions(owner, CANCELLED, "on")
    serial = _serial(server, CANCELLED)
    sessions = f"/manage/project/{CANCELLED}/sessions/"

    # uv publish: the other legacy client, staged the same way.
    result = run(
        [
            UV,
            "publish",
            "--no-config",
            "--publish-url",
            f"{server.url}/legacy/",
            "--username=__token__",
            f"--password={owner.token}",
            "--trusted-publishing",
            "never",
            *paths,
        ],
        env=client_env,
    )
    assert result.returncode == 0, describe(result)
    assert _stored(server, wheel.filename), "the staged file is not stored"
    assert wheel.filename in _session_rows(server, CANCELLED)
    assert set(_preview_urls(owner, CANCELLED)) == {"1.1"}

    session_id = SESSION_ID.search(owner.page(sessions))[1]
    answer = owner.post(f"{sessions}cancel/", {"session": session_id}, form_page=sessions)
    assert answer.status_code == 200, answer.text[:2000]
    assert "is cancelled: its files are gone." in answer.text
    assert _preview_urls(owner, CANCELLED) == {}

    # No staged row, no stored bytes, nothing public, the serial unmoved.
    assert wheel.filename not in _session_rows(server, CANCELLED)
    assert _stored(server, wheel.filename) == []
    assert wheel.filename not in simple_links(server, CANCELLED)
    assert _serial(server, CANCELLED) == serial

    # The filename is free again: with sessions no longer required, the same
    # file is published at once.
    _require_sessions(owner, CANCELLED, "off")
    result = _upload(server, owner, paths, client_env)
    assert result.returncode == 0, describe(result)
    time.sleep(PURGE_REACHES_EVERY_WORKER)
    assert simple_links(server, CANCELLED)[wheel.filename].hashes["sha256"] == wheel.sha256


def test_a_staged_release_takes_its_dependencies_from_the_index(
    server, owner, client_env, tmp_path
):
    # The preview index holds only the staged project; the page's second pair
    # of commands takes the rest from the index, with pip and with uv (which
    # prefers the extra index for a project it finds there).
    dependency, project = "e2e-staged-dep", "e2e-staged-app"
    published = _write(
        tmp_path / "published", make_wheel(dependency, "1.0"), make_wheel(project, "0.1")
    )
    result = _upload(server, owner, published, client_env)
    assert result.returncode == 0, describe(result)
    _require_sessions(owner, project, "on")
    app = make_wheel(project, "2.0", requires_dist=(dependency,))
    result = _upload(server, owner, _write(tmp_path / "staged", app), client_env)
    assert result.returncode == 0, describe(result)

    page = owner.page(f"/manage/project/{project}/sessions/")
    preview = re.search(rf"pip install --index-url (\S+) {project}==2\.0", page)[1]
    both = ["--index-url", f"{server.url}/simple/", "--extra-index-url", preview]
    assert f"pip install {' '.join(both)} {project}==2.0" in page
    assert f"uv pip install {' '.join(both)} {project}==2.0" in page

    # The preview alone lacks the dependency.
    python = _venv(tmp_path, client_env, "alone")
    result = _pip_install(python, preview, f"{project}==2.0", client_env)
    assert result.returncode != 0, describe(result)
    assert dependency in output(result), describe(result)

    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--no-cache-dir"]
    result = run([*pip, *both, f"{project}==2.0"], env=client_env)
    assert result.returncode == 0, describe(result)
    assert "Successfully installed e2e-staged-app-2.0 e2e-staged-dep-1.0" in result.stdout, (
        describe(result)
    )

    uv_python = _venv(tmp_path, client_env, "uv")
    uv = [UV, "pip", "install", "--no-config", "--no-cache", "--python", uv_python]
    result = run([*uv, *both, f"{project}==2.0"], env=client_env)
    assert result.returncode == 0, describe(result)
    assert f"+ {project}==2.0" in output(result), describe(result)
    assert f"+ {dependency}==1.0" in output(result), describe(result)
