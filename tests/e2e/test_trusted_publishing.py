"""Trusted publishing end to end (issue 16): `uv publish --trusted-publishing
always` as it runs in a GitHub Actions job, against the real server over HTTPS.

Three real processes besides uv: the index (gunicorn, BEHIND_TLS_PROXY, its
GitHub JWKS URL pointed at the stand-in issuer), nginx terminating TLS in front
of it with a throwaway CA (tests/tls_terminator.py), and the stand-in for
GitHub's token service (tests/oidc_issuer.py), whose tokens carry GitHub's real
issuer and claims. uv gets only what a job gets: GITHUB_ACTIONS,
ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN, and the CA by SSL_CERT_FILE, in an
environment with no uv configuration, cache or credentials (client_env).

uv always asks for the /_/oidc/ endpoints over https at the upload URL's
authority, whatever the scheme of --publish-url: without TLS in front, no test of
it could pass.
"""

import json
import re
import secrets
import ssl
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
from uv import find_uv_bin

from tests.factories import make_sdist, make_wheel
from tests.liveserver import (
    gunicorn_server,
    superuser_with_token,
    throwaway_postgresql_database,
)
from tests.oidc_issuer import GITHUB_ISSUER, OIDCIssuer, github_identity
from tests.tls_terminator import BEHIND_TLS_ENV, TLSTerminator, https_get, tls_terminator

from .conftest import (
    _DATABASE_URL,
    BACKENDS,
    Server,
    _manage_concurrently,
    describe,
    run,
    server_env,
    simple_links,
)

pytestmark = pytest.mark.e2e

UV = find_uv_bin()
PROJECT = "e2e-tp"
REPOSITORY = "acme/e2e-tp"
WORKFLOW = "release.yml"


@dataclass
class TrustedIndex:
    server: Server  # the index itself, plain http on loopback: manage.py, reads
    tls: TLSTerminator  # https in front of it: what clients are given
    issuer: OIDCIssuer
    token: str  # an ordinary API token of the superuser "owner"

    @property
    def publish_url(self) -> str:
        return f"{self.tls.url}/legacy/"

    def tls_requests(self, since: int = 0, *, expect: int = 0) -> list[str]:
        """The requests nginx forwarded, as "METHOD path status", from the
        ``since``-th on. nginx logs a request once its answer is sent, a moment
        after the client may have read it: waits (10 s at most) for ``expect``."""
        deadline = time.monotonic() + 10
        while True:
            lines = self.tls.access_log.read_text().splitlines()
            found = [" ".join(m.groups()) for m in map(_ACCESS_LINE.search, lines) if m]
            if len(found) - since >= expect or time.monotonic() > deadline:
                return found[since:]
            time.sleep(0.05)


_ACCESS_LINE = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3})')


@pytest.fixture(scope="module")
def issuer() -> Iterator[OIDCIssuer]:
    with OIDCIssuer(identity=github_identity(REPOSITORY, WORKFLOW)) as issuer:
        yield issuer


@contextmanager
def trusted_index(backend: str, issuer: OIDCIssuer, root: Path) -> Iterator[TrustedIndex]:
    """The index (SQLite or a throwaway PostgreSQL database) trusting ``issuer``
    as GitHub's, behind the TLS terminator, with the superuser "owner"."""
    var_dir = root / "var"
    var_dir.mkdir()
    with ExitStack() as stack:
        database_url = None
        if backend == "postgresql":
            database_url, _name = stack.enter_context(
                throwaway_postgresql_database(_DATABASE_URL, f"e2e_{secrets.token_hex(4)}")
            )
        env = server_env(
            var_dir,
            database_url,
            CACHE_KEY_PREFIX=f"e2e-{secrets.token_hex(4)}",
            OIDC_GITHUB_JWKS_URL=issuer.jwks_url,
            **BEHIND_TLS_ENV,
        )
        _manage_concurrently(
            env,
            ["migrate", "--noinput", "--verbosity", "0"],
            ["collectstatic", "--noinput", "--verbosity", "0"],
        )
        access_log = var_dir / "access.log"
        gunicorn = stack.enter_context(gunicorn_server(env, var_dir, access_log=access_log))
        tls = stack.enter_context(tls_terminator(gunicorn.url, root / "tls"))
        token = superuser_with_token(env, "owner", secrets.token_urlsafe(12))
        server = Server(backend, gunicorn.url, env, var_dir, access_log)
        yield TrustedIndex(server, tls, issuer, token)


@pytest.fixture(scope="module", params=BACKENDS)
def index(request, issuer, tmp_path_factory) -> Iterator[TrustedIndex]:
    with trusted_index(
        request.param, issuer, tmp_path_factory.mktemp(f"trusted-{request.param}")
    ) as index:
        yield index


def untrusting(client_env: dict[str, str]) -> dict[str, str]:
    """client_env without any CA of the machine's own choosing."""
    tls_settings = {"SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"}
    return {key: value for key, value in client_env.items() if key not in tls_settings}


def trusting(index: TrustedIndex, client_env: dict[str, str]) -> dict[str, str]:
    """client_env trusting the throwaway CA, and nothing else of the kind."""
    return {**untrusting(client_env), **index.tls.client_env()}


def job_env(index: TrustedIndex, client_env: dict[str, str]) -> dict[str, str]:
    """A GitHub Actions job with `id-token: write`, trusting the throwaway CA."""
    return {**trusting(index, client_env), **index.issuer.actions_env()}


def uv_publish(index: TrustedIndex, env: dict[str, str], files, *options: str):
    return run(
        [UV, "publish", "--publish-url", index.publish_url, *options, *files],
        env=env,
        timeout=120,
    )


def shown(result) -> str:
    """What uv printed, on one line (it wraps long messages)."""
    return " ".join((result.stdout + result.stderr).split())


def write(directory: Path, *dists) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for dist in dists:
        (directory / dist.filename).write_bytes(dist.content)
        paths.append(directory / dist.filename)
    return paths


# --- The harness itself ------------------------------------------------------------------


def test_the_index_answers_over_https_with_the_throwaway_ca_only(index):
    status, headers, body = https_get(f"{index.tls.url}/simple/", index.tls.ssl_context())
    assert status == 200, body[:500]
    assert b"<!DOCTYPE html>" in body or b"<html" in body, body[:500]
    # The server believed X-Forwarded-Proto: it sends HSTS on secure requests only.
    assert headers.get("strict-transport-security", "").startswith("max-age="), headers
    plain = index.server.get("/simple/")
    assert plain[0] == 200
    # The machine's own CAs do not know the throwaway one.
    with pytest.raises(ssl.SSLCertVerificationError):
        https_get(f"{index.tls.url}/simple/", ssl.create_default_context(cafile=None))


def test_uv_trusts_the_index_through_ssl_cert_file_and_not_without_it(index, client_env, tmp_path):
    files = write(tmp_path, make_wheel("e2e-tls-check", "1.0"))
    seen = len(index.tls_requests())
    credentials = ("--username=__token__", f"--password={index.token}", "--trusted-publishing")

    refused = uv_publish(index, untrusting(client_env), files, *credentials, "never")
    assert refused.returncode != 0, describe(refused)
    assert "invalid peer certificate: UnknownIssuer" in shown(refused), describe(refused)

    accepted = uv_publish(index, trusting(index, client_env), files, *credentials, "never")
    assert accepted.returncode == 0, describe(accepted)
    assert "e2e_tls_check-1.0-py3-none-any.whl" in simple_links(index.server, "e2e-tls-check")
    assert "POST /legacy/ 200" in index.tls_requests(seen, expect=1)


def test_the_issuer_speaks_githubs_token_protocol(issuer):
    token = issuer.request_id_token("pypi")
    # As a relying party checks it: the keys fetched from the JWKS URL the index has.
    key = jwt.PyJWKClient(issuer.jwks_url).get_signing_key_from_jwt(token).key
    claims = jwt.decode(token, key, algorithms=["RS256"], audience="pypi", issuer=GITHUB_ISSUER)
    assert claims["repository"] == REPOSITORY
    assert claims["repository_owner"] == "acme"
    assert (
        claims["job_workflow_ref"] == f"{REPOSITORY}/.github/workflows/{WORKFLOW}@refs/heads/main"
    )
    assert claims["sub"] == f"repo:{REPOSITORY}:ref:refs/heads/main"
    assert claims["exp"] - claims["iat"] == 300
    assert issuer.requests[-1].audience == "pypi"

    with issuer.acting_as(expired=True):
        expired = issuer.request_id_token("pypi")
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(expired, key, algorithms=["RS256"], audience="pypi", issuer=GITHUB_ISSUER)
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key, algorithms=["RS256"], audience="other", issuer=GITHUB_ISSUER)

    # Without the job's request token, no token at all.
    with pytest.raises(OSError, match="401"):
        issuer.request_id_token("pypi", request_token="not-the-jobs")
    assert issuer.requests[-1].authorized is False


# --- Trusted publishing with uv ------------------------------------------------------------


@pytest.fixture(scope="module")
def publisher(index, client_env, tmp_path_factory) -> str:
    """e2e-tp exists (0.1, uploaded with the Owner's API token) and trusts the
    workflow release.yml of acme/e2e-tp; what the command printed."""
    files = write(tmp_path_factory.mktemp("tp-first"), make_wheel(PROJECT, "0.1"))
    credentials = ("--username=__token__", f"--password={index.token}", "--trusted-publishing")
    first = uv_publish(index, trusting(index, client_env), files, *credentials, "never")
    assert first.returncode == 0, describe(first)
    added = index.server.manage(
        "trusted_publisher",
        "add",
        PROJECT,
        *("--provider", "github", "--repository", REPOSITORY, "--workflow", WORKFLOW),
    )
    assert REPOSITORY in added and WORKFLOW in added, added
    return added


def minted_token(result) -> str:
    """The upload token uv got, from the line that asks GitHub to mask it in logs."""
    masks = re.findall(r"^::add-mask::(\S+)$", result.stdout, re.MULTILINE)
    assert len(masks) == 1, describe(result)
    return masks[0]


def test_uv_publishes_from_the_trusted_workflow(index, publisher, client_env, tmp_path):
    dists = (make_wheel(PROJECT, "1.0"), make_sdist(PROJECT, "1.0"))
    files = write(tmp_path, *dists)
    seen = len(index.tls_requests())

    result = uv_publish(index, job_env(index, client_env), files, "--trusted-publishing", "always")
    print(f"\n--- uv publish --trusted-publishing always:\n{result.stdout}{result.stderr}")

    assert result.returncode == 0, describe(result)
    # uv asked the index for the audience, GitHub for a token with it, the index
    # for an upload token, uploaded, and burnt the token: all of it over HTTPS.
    assert index.tls_requests(seen, expect=5) == [
        "GET /_/oidc/audience 200",
        "POST /_/oidc/mint-token 200",
        "POST /legacy/ 200",
        "POST /legacy/ 200",
        "POST /_/oidc/burn-token 200",
    ], describe(result)
    links = simple_links(index.server, PROJECT)
    for dist in dists:
        assert links[dist.filename].hashes.get("sha256") == dist.sha256, sorted(links)
    _status, _headers, body = https_get(f"{index.tls.url}/_/oidc/audience", index.tls.ssl_context())
    assert index.issuer.requests[-1].audience == json.loads(body)["audience"]

    # Burnt: the token uv was given uploads nothing more.
    again = write(tmp_path / "again", make_wheel(PROJECT, "1.1"))
    token = minted_token(result)
    reused = uv_publish(
        index,
        trusting(index, client_env),
        again,
        "--username=__token__",
        f"--password={token}",
        "--trusted-publishing",
        "never",
    )
    print(f"\n--- uv publish with the burnt token:\n{reused.stdout}{reused.stderr}")
    assert reused.returncode != 0, describe(reused)
    assert "revoked" in shown(reused), describe(reused)
    assert "e2e_tp-1.1-py3-none-any.whl" not in simple_links(index.server, PROJECT)


@pytest.mark.parametrize(
    ("case", "acting", "said"),
    [
        # The public index's error codes, in the body uv prints whole.
        (
            "wrong-repository",
            {"repository": "mallory/e2e-tp"},
            ['"code": "invalid-publisher"', 'repository: "mallory/e2e-tp"'],
        ),
        ("expired", {"expired": True}, ['"code": "invalid-token"', "expired"]),
    ],
)
def test_uv_is_refused_a_token_for_another_identity(
    index, publisher, client_env, tmp_path, case, acting, said
):
    wheel = make_wheel(PROJECT, "2.0")
    files = write(tmp_path, wheel)
    seen = len(index.tls_requests())

    with index.issuer.acting_as(**acting):
        result = uv_publish(
            index, job_env(index, client_env), files, "--trusted-publishing", "always"
        )
    print(f"\n--- uv publish, {case}:\n{result.stdout}{result.stderr}")

    assert result.returncode != 0, describe(result)
    assert "Failed to obtain token for trusted publishing" in shown(result), describe(result)
    assert "is trusted publishing correctly configured?" in shown(result), describe(result)
    for words in said:
        assert words in shown(result), describe(result)
    assert index.tls_requests(seen, expect=2) == [
        "GET /_/oidc/audience 200",
        "POST /_/oidc/mint-token 422",
    ], describe(result)
    assert wheel.filename not in simple_links(index.server, PROJECT)


def test_a_pending_publisher_creates_the_project_on_first_use(index, client_env, tmp_path):
    name = f"e2e-tp-new-{index.server.backend}"
    repository = f"acme/{name}"
    index.server.manage(
        "trusted_publisher",
        "add",
        name,
        *("--provider", "github", "--repository", repository, "--workflow", WORKFLOW),
        *("--pending", "--user", "owner"),
    )
    assert index.server.get(f"/simple/{name}/")[0] == 404
    wheel = make_wheel(name, "1.0")
    files = write(tmp_path, wheel)

    with index.issuer.acting_as(repository=repository):
        result = uv_publish(
            index, job_env(index, client_env), files, "--trusted-publishing", "always"
        )

    assert result.returncode == 0, describe(result)
    assert wheel.filename in simple_links(index.server, name)
    status, body = index.server.get(f"/pypi/{name}/json", accept="application/json")
    assert status == 200, body[:500]
    assert json.loads(body)["info"]["version"] == "1.0"
