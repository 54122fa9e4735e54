"""Publish with twine and uv, install with pip and uv: the index as its users meet it.

Each test names what it would catch. The clients run with client_env, which hides
the machine's pip/uv configuration, so a passing install proves the files came
from the server under test and from nowhere else.
"""

import hashlib
import re
import sys
from urllib.parse import urlsplit

import pytest
from uv import find_uv_bin

from .conftest import describe, run, simple_links, twine_upload

pytestmark = pytest.mark.e2e

UV = find_uv_bin()

# The factories' sdists name the build backend "none": they are never meant to be
# built. pip still asks an sdist's backend for its metadata before it saves the
# file, so `pip download` gets this stand-in, which only copies PKG-INFO.
NONE_BACKEND = """
import email, os


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    with open("PKG-INFO", encoding="utf-8") as handle:
        text = handle.read()
    headers = email.message_from_string(text)
    name = headers["Name"].replace("-", "_").replace(".", "_")
    dist_info = f"{name}-{headers['Version']}.dist-info"
    os.makedirs(os.path.join(metadata_directory, dist_info))
    with open(os.path.join(metadata_directory, dist_info, "METADATA"), "w") as handle:
        handle.write(text)
    return dist_info
"""


def output(result) -> str:
    """stdout and stderr as one line: twine's console wraps long messages."""
    return " ".join((result.stdout + result.stderr).split())


def installed_version(python, env) -> str:
    result = run([python, "-c", "import e2e_demo; print(e2e_demo.VERSION)"], env=env, timeout=60)
    assert result.returncode == 0, describe(result)
    return result.stdout.strip()


# --- 1. twine upload ---------------------------------------------------------------------


def test_twine_upload_lists_wheel_and_sdist_with_their_sha256(server, published, dists):
    # Would catch: an upload that twine reports as done but that the simple page
    # does not show, or shows with a digest other than the bytes sent.
    assert f"{server.url}/legacy/" in output(published), describe(published)
    links = simple_links(server, "e2e-demo")
    for dist in (dists.demo_wheel, dists.demo_sdist):
        assert dist.filename in links, f"{dist.filename} missing from {sorted(links)}"
        assert links[dist.filename].hashes.get("sha256") == dist.sha256, links[dist.filename]


def test_simple_page_carries_yank_requires_python_and_metadata(server, published, dists):
    # Would catch: the attributes installers decide by (PEP 592, PEP 503's
    # data-requires-python, PEP 658/714) being dropped or mangled in the page.
    links = simple_links(server, "e2e-demo")
    assert links[dists.yanked_wheel.filename].attrs.get("data-yanked") == "broken"
    assert "data-yanked" not in links[dists.demo_wheel.filename].attrs
    assert links[dists.future_wheel.filename].attrs.get("data-requires-python") == ">=3.99"

    wheel = links[dists.demo_wheel.filename]
    metadata = dists.demo_wheel.metadata.encode()
    expected = f"sha256={hashlib.sha256(metadata).hexdigest()}"
    assert wheel.attrs.get("data-core-metadata") == expected, wheel.attrs
    status, body = server.get(urlsplit(wheel.url).path + ".metadata", accept="*/*")
    assert status == 200
    assert body == metadata


# --- 2. re-uploads --------------------------------------------------------------------------


def test_identical_reupload_with_skip_existing_succeeds(
    server, published, account, dists, client_env
):
    # Would catch: a duplicate check that answers an identical re-upload in a way
    # twine cannot recognise, failing every retried CI release job.
    result = twine_upload(
        server,
        [dists.demo / dists.demo_wheel.filename],
        username="__token__",
        password=account.token,
        env=client_env,
        extra=["--skip-existing"],
    )
    assert result.returncode == 0, describe(result)


def test_other_bytes_under_an_existing_filename_are_refused(
    server, published, account, dists, client_env
):
    # Would catch: files that are not immutable, or a refusal whose message twine
    # cannot show.
    result = twine_upload(
        server,
        [dists.conflict / dists.conflict_wheel.filename],
        username="__token__",
        password=account.token,
        env=client_env,
    )
    assert result.returncode != 0, describe(result)
    assert "File already exists" in output(result), describe(result)
    links = simple_links(server, "e2e-demo")
    assert links[dists.demo_wheel.filename].hashes["sha256"] == dists.demo_wheel.sha256


# --- 3. credentials ---------------------------------------------------------------------------


def test_password_upload_is_refused_with_a_pointer_to_api_tokens(
    server, account, dists, client_env
):
    # Would catch: password uploads being accepted, or refused without telling
    # the person what to use instead.
    result = twine_upload(
        server,
        [dists.denied / "*"],
        username=account.username,
        password=account.password,
        env=client_env,
    )
    assert result.returncode != 0, describe(result)
    assert re.search(r"API token", output(result), re.IGNORECASE), describe(result)
    assert server.get("/simple/e2e-denied/")[0] == 404


def test_bad_token_is_refused(server, account, dists, client_env):
    # Would catch: a token check that lets a well-formed but unknown token through.
    forged = "pypi-" + "0" * 16 + "_" + "x" * 43
    result = twine_upload(
        server, [dists.denied / "*"], username="__token__", password=forged, env=client_env
    )
    assert result.returncode != 0, describe(result)
    assert re.search(r"\b40[13]\b", output(result)), describe(result)
    assert server.get("/simple/e2e-denied/")[0] == 404


# --- 4. uv publish ------------------------------------------------------------------------------


def test_uv_publish(server, account, dists, client_env):
    # Would catch: an upload endpoint that only understands twine's requests
    # (uv sends fields in another order, other metadata, its own auth header).
    files = [dists.other / dist.filename for dist in dists.other_dists]
    result = run(
        [
            UV,
            "publish",
            "--publish-url",
            f"{server.url}/legacy/",
            "--username=__token__",
            f"--password={account.token}",
            "--trusted-publishing",
            "never",
            *files,
        ],
        env=client_env,
    )
    assert result.returncode == 0, describe(result)
    links = simple_links(server, "e2e-other")
    for dist in dists.other_dists:
        assert dist.filename in links, f"{dist.filename} missing from {sorted(links)}"
        assert links[dist.filename].hashes.get("sha256") == dist.sha256


# --- 5. pip install ------------------------------------------------------------------------------


def test_pip_installs_the_newest_compatible_unyanked_release(
    server, published, dists, client_env, tmp_path
):
    # Would catch: a yanked release offered as installable, Requires-Python not
    # exposed (pip would pick 2.0), hashes pip rejects, unreachable file URLs.
    venv = tmp_path / "venv"
    created = run([sys.executable, "-m", "venv", "--without-pip", venv], env=client_env)
    assert created.returncode == 0, describe(created)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", python]
    index = ["--index-url", f"{server.url}/simple/", "--no-cache-dir"]

    result = run([*pip, "install", *index, "e2e-demo"], env=client_env)
    assert result.returncode == 0, describe(result)
    # Our index and nothing else: no extra index, no find-links from the machine.
    assert f"Looking in indexes: {server.url}/simple/\n" in result.stdout, describe(result)
    assert "Looking in links" not in result.stdout, describe(result)
    assert "Successfully installed e2e-demo-1.0" in result.stdout, describe(result)
    assert dists.future_wheel.filename not in output(result), describe(result)
    assert installed_version(python, client_env) == "1.0"

    # PEP 592: an exact pin still gets the yanked release, with the reason.
    result = run([*pip, "install", *index, "e2e-demo==1.5"], env=client_env)
    assert result.returncode == 0, describe(result)
    assert "Successfully installed e2e-demo-1.5" in result.stdout, describe(result)
    warning = output(result)
    assert "yanked" in warning, describe(result)
    assert "broken" in warning, describe(result)
    assert installed_version(python, client_env) == "1.5"


# --- 6. uv pip install -------------------------------------------------------------------------


def test_uv_installs_with_pep_658_metadata(server, published, dists, client_env, tmp_path):
    # Would catch: what the pip test catches, for uv's resolver, and a .metadata
    # file that is advertised but not served (uv then fails or falls back).
    venv = tmp_path / "uv-venv"
    created = run([UV, "venv", "--python", sys.executable, venv], env=client_env)
    assert created.returncode == 0, describe(created)
    python = venv / "bin" / "python"
    seen_before = len(server.access_lines())

    result = run(
        [
            UV,
            "pip",
            "install",
            "--index-url",
            f"{server.url}/simple/",
            "--python",
            python,
            "e2e-demo",
        ],
        env=client_env,
    )
    assert result.returncode == 0, describe(result)
    assert "+ e2e-demo==1.0" in output(result), describe(result)
    assert installed_version(python, client_env) == "1.0"

    # gunicorn's access log: ... "GET /packages/.../x.whl.metadata HTTP/1.1" 200 ...
    requests = server.access_lines()[seen_before:]
    fetched = re.compile(
        rf'"GET \S*/{re.escape(dists.demo_wheel.filename)}\.metadata HTTP/[\d.]+" 200 '
    )
    assert any(fetched.search(line) for line in requests), (
        "uv did not fetch the PEP 658 metadata file:\n" + "\n".join(requests)
    )


# --- 7. pip download ------------------------------------------------------------------------------


def test_pip_downloads_the_sdist_byte_for_byte(server, published, dists, client_env, tmp_path):
    # Would catch: files served with other bytes than uploaded (re-compression,
    # a truncated stream), or a digest on the page that is not the file's.
    backend = tmp_path / "backend"
    backend.mkdir()
    (backend / "none.py").write_text(NONE_BACKEND)
    destination = tmp_path / "downloads"
    result = run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--no-build-isolation",
            "--index-url",
            f"{server.url}/simple/",
            "--no-cache-dir",
            "--dest",
            destination,
            "e2e-demo==1.0",
        ],
        env={**client_env, "PYTHONPATH": str(backend)},
    )
    assert result.returncode == 0, describe(result)
    saved = destination / dists.demo_sdist.filename
    assert [path.name for path in destination.iterdir()] == [saved.name]
    digest = hashlib.sha256(saved.read_bytes()).hexdigest()
    assert digest == dists.demo_sdist.sha256
    link = simple_links(server, "e2e-demo")[dists.demo_sdist.filename]
    assert link.hashes.get("sha256") == digest
