"""A stand-in for GitHub Actions' OIDC token service, on loopback, for the
trusted-publishing tests.

A job with `id-token: write` gets two variables, ACTIONS_ID_TOKEN_REQUEST_URL
(already carrying a query string) and ACTIONS_ID_TOKEN_REQUEST_TOKEN; a client
(uv, the pypa publish action) asks ``GET $URL&audience=<aud>`` with
``Authorization: bearer $TOKEN`` and gets ``{"value": "<JWT>"}``. This server
speaks that protocol, and serves the public half of its signing key where GitHub
does (``/.well-known/jwks``, named by ``/.well-known/openid-configuration``),
so the index under test is pointed at it with OIDC_GITHUB_JWKS_URL while the
tokens keep GitHub's real issuer, as the index must check it.

    with OIDCIssuer() as issuer:
        issuer.identity = github_identity("acme/e2e-tp", "release.yml")
        env = {**client_env, **issuer.actions_env()}      # uv publish ... runs here
        ... OIDC_GITHUB_JWKS_URL=issuer.jwks_url ...       # the index trusts it

Per test, ``issuer.identity`` says whose workflow the next tokens come from, and
``issuer.expired`` makes them expired on arrival. Nothing here imports Django or
pytest.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
JWKS_PATH = "/.well-known/jwks"
# GitHub's own request URL carries an api-version; clients append "&audience=".
TOKEN_PATH = "/_apis/distributedtask/hubs/build/plans/e2e/jobs/e2e/idtoken"
TOKEN_QUERY = "api-version=2.0"
# GitHub's tokens live 5 minutes (iat = nbf, exp 300 s later).
LIFETIME = 300


@dataclass(frozen=True)
class GitHubIdentity:
    """The workflow run a token speaks for: GitHub's claims, derived as GitHub
    derives them (sub, workflow_ref, job_workflow_ref from repository, workflow
    file, ref and environment)."""

    repository: str  # OWNER/NAME
    workflow: str  # the file under .github/workflows/
    ref: str = "refs/heads/main"
    environment: str = ""  # "" = the job names no environment: no claim at all
    repository_owner_id: str = "1000001"
    repository_id: str = "2000002"
    sha: str = "0123456789abcdef0123456789abcdef01234567"
    event_name: str = "push"
    # Claims set last, as given: a test's way to say what GitHub never would.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def owner(self) -> str:
        return self.repository.partition("/")[0]

    def claims(self) -> dict[str, Any]:
        workflow_ref = f"{self.repository}/.github/workflows/{self.workflow}@{self.ref}"
        # GitHub's default subject: the environment when the job has one, else the ref.
        context = f"environment:{self.environment}" if self.environment else f"ref:{self.ref}"
        claims: dict[str, Any] = {
            "sub": f"repo:{self.repository}:{context}",
            "repository": self.repository,
            "repository_owner": self.owner,
            "repository_owner_id": self.repository_owner_id,
            "repository_id": self.repository_id,
            "repository_visibility": "public",
            "actor": "e2e-actor",
            "actor_id": "3000003",
            "workflow": "Release",
            "workflow_ref": workflow_ref,
            "workflow_sha": self.sha,
            "job_workflow_ref": workflow_ref,
            "job_workflow_sha": self.sha,
            "ref": self.ref,
            "ref_type": "tag" if self.ref.startswith("refs/tags/") else "branch",
            "ref_protected": "false",
            "sha": self.sha,
            "event_name": self.event_name,
            "head_ref": "",
            "base_ref": "",
            "run_id": "4000004",
            "run_number": "7",
            "run_attempt": "1",
            "runner_environment": "github-hosted",
        }
        if self.environment:
            claims["environment"] = self.environment
        claims.update(self.extra)
        return claims


def github_identity(repository: str, workflow: str, **fields: Any) -> GitHubIdentity:
    return GitHubIdentity(repository, workflow, **fields)


@dataclass(frozen=True)
class TokenRequest:
    """One request a client made for a token, as the issuer saw it."""

    audience: str | None
    authorized: bool


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format, *args):
        pass  # the tests assert on issuer.requests, not on a log

    def do_GET(self):
        issuer = self.server.issuer
        parts = urlsplit(self.path)
        if parts.path == JWKS_PATH:
            self._json(200, issuer.jwks())
        elif parts.path == "/.well-known/openid-configuration":
            self._json(200, issuer.openid_configuration())
        elif parts.path == TOKEN_PATH:
            self._token(issuer, parse_qs(parts.query))
        else:
            self._json(404, {"message": "Not Found"})

    def _token(self, issuer: OIDCIssuer, query: dict[str, list[str]]) -> None:
        scheme, _, credential = self.headers.get("Authorization", "").partition(" ")
        # The toolkit sends "Bearer", uv "bearer": the scheme is case-insensitive.
        authorized = scheme.lower() == "bearer" and secrets.compare_digest(
            credential.encode(), issuer.request_token.encode()
        )
        audience = query.get("audience", [None])[-1]
        issuer.requests.append(TokenRequest(audience, authorized))
        if not authorized:
            self._json(401, {"message": "Bad credentials"})
            return
        self._json(200, {"count": len(issuer.requests), "value": issuer.mint(audience)})

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    issuer: OIDCIssuer


class OIDCIssuer:
    """Signs GitHub-shaped ID tokens with a key of its own (RS256, as GitHub)."""

    def __init__(self, *, issuer: str = GITHUB_ISSUER, identity: GitHubIdentity | None = None):
        self.issuer = issuer
        self.identity = identity or github_identity("acme/e2e-tp", "release.yml")
        self.expired = False  # the next tokens expired before they were handed out
        self.request_token = secrets.token_urlsafe(32)
        self.requests: list[TokenRequest] = []
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(8)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- tokens

    def jwks(self) -> dict:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def openid_configuration(self) -> dict:
        return {
            "issuer": self.issuer,
            "jwks_uri": self.jwks_url,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": sorted({"aud", "exp", "iat", "iss", "jti", "nbf", "sub"}),
        }

    def claims(self, audience: str | None, *, now: float | None = None) -> dict[str, Any]:
        """What the next token says; without an audience GitHub puts the
        repository owner's URL in ``aud``."""
        issued = int(time.time() if now is None else now)
        if self.expired:
            issued -= 2 * LIFETIME
        return {
            "jti": str(uuid.uuid4()),
            "iss": self.issuer,
            "aud": audience
            if audience is not None
            else f"https://github.com/{self.identity.owner}",
            "iat": issued,
            "nbf": issued,
            "exp": issued + LIFETIME,
            **self.identity.claims(),
        }

    def mint(self, audience: str | None, **overrides: Any) -> str:
        """A signed token for ``audience``; ``overrides`` replace claims."""
        claims = {**self.claims(audience), **overrides}
        return jwt.encode(
            claims, self.key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"}
        )

    def verify(self, token: str, audience: str) -> dict[str, Any]:
        """The token's claims, checked as a relying party checks them against the
        JWKS this issuer serves (signature, issuer, audience, times)."""
        keys = jwt.PyJWKSet.from_dict(self.jwks())
        kid = jwt.get_unverified_header(token)["kid"]
        return jwt.decode(
            token,
            keys[kid].key,
            algorithms=["RS256"],
            audience=audience,
            issuer=self.issuer,
            options={"require": ["exp", "iat", "nbf", "iss", "aud", "jti", "sub"]},
        )

    @contextmanager
    def acting_as(self, identity: GitHubIdentity | None = None, *, expired: bool = False, **fields):
        """Tokens for ``identity`` (or the current one with ``fields`` changed),
        expired or not, within the block; the previous ones after it."""
        before = (self.identity, self.expired)
        self.identity = replace(identity or self.identity, **fields)
        self.expired = expired
        try:
            yield self
        finally:
            self.identity, self.expired = before

    # -- the server

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the issuer is not started: use start() or `with OIDCIssuer()`")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def jwks_url(self) -> str:
        return self.url + JWKS_PATH

    @property
    def token_request_url(self) -> str:
        return f"{self.url}{TOKEN_PATH}?{TOKEN_QUERY}"

    def actions_env(self) -> dict[str, str]:
        """The variables of a GitHub Actions job with `id-token: write`."""
        return {
            "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": self.token_request_url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token,
        }

    def request_id_token(self, audience: str, *, request_token: str | None = None) -> str:
        """A token asked for as a client in the job asks (the protocol's other
        side), with the job's request token unless ``request_token``."""
        request = urllib.request.Request(
            f"{self.token_request_url}&audience={audience}",
            headers={"Authorization": f"bearer {request_token or self.request_token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)["value"]

    def start(self) -> OIDCIssuer:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.issuer = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="oidc-issuer", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OIDCIssuer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
