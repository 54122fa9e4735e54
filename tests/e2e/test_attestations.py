"""PEP 740 attestations end to end (issue 16): a real attestation, published
from trailofbits/pypi-attestations' release.yml, uploaded by real clients
through the real server behind the TLS terminator, served as the file's
provenance; the same attestation tampered with refused, with the message the
client prints.

As in tests/e2e/test_trusted_publishing.py (whose harness this reuses): the
index behind nginx with a throwaway CA, the stand-in for GitHub's token service
minting a token for the workflow, exchanged at /_/oidc/mint-token exactly as
pypa/gh-action-pypi-publish's oidc-exchange does (the audience from
https://<index>/_/oidc/audience, the job's token through the `id` library, a JSON
POST), then `twine upload --attestations`; and `uv publish --trusted-publishing
always`, which exchanges the token itself and, as twine does, uploads with each
file the attestations among the paths it is given (`<file>.<kind>.attestation`,
e.g. `dist/*`) unless told not to (--no-attestations).

Each client gets an index of its own: a filename is accepted once forever, and
both upload the same real file.
"""

import base64
import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pypi_attestations import Distribution
from pypi_attestations import Provenance as ProvenanceObject

from tests.attestation_assets import GITHUB_SDIST, assets
from tests.oidc_issuer import OIDCIssuer, github_identity
from tests.tls_terminator import https_get

from .conftest import (
    BACKENDS,
    describe,
    run,
)
from .test_trusted_publishing import UV, TrustedIndex, job_env, shown, trusted_index, trusting

pytestmark = pytest.mark.e2e

PROJECT = "pypi-attestations"
REPOSITORY = "trailofbits/pypi-attestations"
WORKFLOW = "release.yml"
INTEGRITY = "application/vnd.pypi.integrity.v1+json"
PUBLISH_V1 = "https://docs.pypi.org/attestations/publish/v1"

# pypa/gh-action-pypi-publish's token exchange (oidc-exchange.py), reduced to
# what it asks of the index: the audience, the job's OIDC token for it, the
# exchange. Run in the job's environment, trusting the throwaway CA.
EXCHANGE = """
import sys
from urllib.parse import urlparse

import id
import requests

domain = urlparse(sys.argv[1]).netloc
audience = requests.get(f"https://{domain}/_/oidc/audience", timeout=5).json()["audience"]
oidc_token = id.detect_credential(audience=audience)
response = requests.post(
    f"https://{domain}/_/oidc/mint-token", json={"token": oidc_token}, timeout=5
)
response.raise_for_status()
print(response.json()["token"])
"""


@pytest.fixture(scope="module")
def asset_dir() -> Path:
    return assets()


@pytest.fixture(scope="module")
def issuer() -> Iterator[OIDCIssuer]:
    # The run that published 0.0.19: its tag, as the attestation's certificate says.
    identity = github_identity(REPOSITORY, WORKFLOW, ref="refs/tags/v0.0.19")
    with OIDCIssuer(identity=identity) as issuer:
        yield issuer


@contextmanager
def attestation_index(backend: str, issuer: OIDCIssuer, root: Path) -> Iterator[TrustedIndex]:
    """An index behind TLS where the pending publisher trailofbits/pypi-attestations
    release.yml will create pypi-attestations, owned by "owner"."""
    with trusted_index(backend, issuer, root) as index:
        index.server.manage(
            "trusted_publisher",
            "add",
            PROJECT,
            *("--provider", "github", "--repository", REPOSITORY, "--workflow", WORKFLOW),
            *("--pending", "--user", "owner"),
        )
        yield index


# One index per client: both upload the same real file, and a filename is
# accepted once forever.
@pytest.fixture(scope="module", params=BACKENDS)
def twine_index(request, issuer, tmp_path_factory) -> Iterator[TrustedIndex]:
    root = tmp_path_factory.mktemp(f"attestations-twine-{request.param}")
    with attestation_index(request.param, issuer, root) as index:
        yield index


@pytest.fixture(scope="module", params=BACKENDS)
def uv_index(request, issuer, tmp_path_factory) -> Iterator[TrustedIndex]:
    root = tmp_path_factory.mktemp(f"attestations-uv-{request.param}")
    with attestation_index(request.param, issuer, root) as index:
        yield index


def staged(directory: Path, asset_dir: Path, attestation: dict) -> Path:
    """The real sdist, with ``attestation`` beside it as a client finds it."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(asset_dir / GITHUB_SDIST, directory / GITHUB_SDIST)
    (directory / f"{GITHUB_SDIST}.publish.attestation").write_text(json.dumps(attestation))
    return directory / GITHUB_SDIST


def tampered(attestation: dict) -> dict:
    """The attestation with one bit of its signature flipped."""
    signature = bytearray(base64.b64decode(attestation["envelope"]["signature"]))
    signature[-1] ^= 0x01
    changed = json.loads(json.dumps(attestation))
    changed["envelope"]["signature"] = base64.b64encode(bytes(signature)).decode()
    return changed


def exchange(index: TrustedIndex, client_env) -> str:
    """An upload token, got as pypa/gh-action-pypi-publish gets it."""
    result = run(
        [sys.executable, "-c", EXCHANGE, index.publish_url],
        env=job_env(index, client_env),
        timeout=60,
    )
    assert result.returncode == 0, describe(result)
    return result.stdout.strip()


def twine_upload(index: TrustedIndex, client_env, token: str, directory: Path):
    return run(
        [
            *(sys.executable, "-m", "twine", "upload", "--repository-url", index.publish_url),
            *("--username=__token__", f"--password={token}", "--non-interactive"),
            *("--disable-progress-bar", "--attestations"),
            *map(str, sorted(directory.iterdir())),
        ],
        env=trusting(index, client_env),
        timeout=120,
    )


def provenance_of(index: TrustedIndex) -> tuple[str, dict]:
    """The provenance URL the simple JSON gives the sdist, and what it serves."""
    status, body = index.server.get(
        f"/simple/{PROJECT}/", accept="application/vnd.pypi.simple.v1+json"
    )
    assert status == 200, body[:500]
    (entry,) = [file for file in json.loads(body)["files"] if file["filename"] == GITHUB_SDIST]
    url = entry["provenance"]
    assert url == f"/integrity/{PROJECT}/0.0.19/{GITHUB_SDIST}/provenance"
    status, headers, served = https_get(f"{index.tls.url}{url}", index.tls.ssl_context())
    assert status == 200, served[:500]
    assert headers["content-type"] == INTEGRITY
    return url, json.loads(served)


def assert_served(index: TrustedIndex, asset_dir: Path, attestation: dict) -> None:
    _url, provenance = provenance_of(index)
    assert provenance == {
        "version": 1,
        "attestation_bundles": [
            {
                "publisher": {
                    "kind": "GitHub",
                    "repository": REPOSITORY,
                    "workflow": WORKFLOW,
                    "environment": None,
                },
                "attestations": [attestation],
            }
        ],
    }
    # As an installer checks it: the served attestation verifies for the bytes served.
    status, sdist = index.server.get(f"/simple/{PROJECT}/", accept="text/html")
    assert status == 200 and f'data-provenance="/integrity/{PROJECT}/0.0.19/' in sdist.decode()
    (bundle,) = ProvenanceObject.model_validate(provenance).attestation_bundles
    digest = Distribution.from_file(asset_dir / GITHUB_SDIST).digest
    dist = Distribution(name=GITHUB_SDIST, digest=digest)
    assert bundle.attestations[0].verify(bundle.publisher, dist, offline=True)[0] == PUBLISH_V1
    page = " ".join(index.server.get(f"/project/{PROJECT}/")[1].decode().split())
    assert (
        f'published from <a href="https://github.com/{REPOSITORY}" rel="nofollow">{REPOSITORY}</a>'
        f", workflow <code>{WORKFLOW}</code>"
    ) in page


def test_twine_uploads_a_real_attestation_and_is_refused_a_tampered_one(
    twine_index, client_env, asset_dir, tmp_path
):
    index = twine_index
    real = json.loads((asset_dir / f"{GITHUB_SDIST}.publish.attestation").read_text())

    bad = staged(tmp_path / "tampered", asset_dir, tampered(real))
    refused = twine_upload(index, client_env, exchange(index, client_env), bad.parent)
    print(f"\n--- twine upload --attestations, tampered:\n{refused.stdout}{refused.stderr}")
    assert refused.returncode != 0, describe(refused)
    said = shown(refused)
    assert f"HTTPError: 400 Bad Request from {index.publish_url}" in said, describe(refused)
    assert "Attestation 1 does not verify for pypi_attestations-0.0.19.tar.gz and the " in said
    assert "publisher GitHub Actions trailofbits/pypi-attestations release.yml: " in said
    assert "Verification failed:" in said, describe(refused)
    # The exchange created the project; the file was refused. (Asked of the JSON
    # API, read at the project's serial: a simple page read now could stay in
    # a worker's own memory for a second after the upload below.)
    status, body = index.server.get(f"/pypi/{PROJECT}/json", accept="application/json")
    assert status == 404 or not json.loads(body)["urls"], body[:500]

    good = staged(tmp_path / "real", asset_dir, real)
    accepted = twine_upload(index, client_env, exchange(index, client_env), good.parent)
    print(f"\n--- twine upload --attestations:\n{accepted.stdout}{accepted.stderr}")
    assert accepted.returncode == 0, describe(accepted)
    assert_served(index, asset_dir, real)


def test_uv_uploads_the_attestation_beside_the_file_and_is_refused_a_tampered_one(
    uv_index, client_env, asset_dir, tmp_path
):
    index = uv_index
    real = json.loads((asset_dir / f"{GITHUB_SDIST}.publish.attestation").read_text())

    bad = staged(tmp_path / "tampered", asset_dir, tampered(real))
    refused = run(
        [
            UV,
            "publish",
            "--publish-url",
            index.publish_url,
            "--trusted-publishing",
            "always",
            f"{bad.parent}/*",
        ],
        env=job_env(index, client_env),
        timeout=120,
    )
    print(f"\n--- uv publish, tampered attestation:\n{refused.stdout}{refused.stderr}")
    assert refused.returncode != 0, describe(refused)
    said = shown(refused)
    assert "Attestation 1 does not verify for pypi_attestations-0.0.19.tar.gz" in said
    assert "Verification failed:" in said, describe(refused)

    good = staged(tmp_path / "real", asset_dir, real)
    accepted = run(
        [
            UV,
            "publish",
            "--publish-url",
            index.publish_url,
            "--trusted-publishing",
            "always",
            f"{good.parent}/*",
        ],
        env=job_env(index, client_env),
        timeout=120,
    )
    print(f"\n--- uv publish:\n{accepted.stdout}{accepted.stderr}")
    assert accepted.returncode == 0, describe(accepted)
    assert_served(index, asset_dir, real)
