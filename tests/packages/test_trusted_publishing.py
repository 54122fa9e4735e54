"""Trusted publishing: OIDC tokens signed by a locally generated key, whose JWKS
a loopback HTTP server serves in place of the CI provider's."""

import json
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.events import Actor
from accounts.models import ApiToken, Event
from accounts.tokens import api_token_create
from packages import trusted_publishing as tp
from packages.models import JournalEntry, OIDCIssuer, Project, Role, TrustedPublisher
from packages.policy import upload_token
from tests.factories import make_organization, make_wheel, post_upload

pytestmark = pytest.mark.django_db

Provider = TrustedPublisher.Provider
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SELF_HOSTED = "https://gitlab.example.com"
CUSTOM_ISSUER = "https://ci.example.com"


def jwk(private_key, kid: str) -> dict:
    data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    return {**data, "kid": kid, "alg": "RS256", "use": "sig"}


class JWKSServer:
    """Serves ``body`` with ``status`` on loopback, counting requests."""

    def __init__(self):
        self.status = 200
        self.body = json.dumps({"keys": [jwk(KEY, "k1")]}).encode()
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests += 1
                self.send_response(server.status)
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/jwks"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks(settings):
    server = JWKSServer()
    settings.OIDC_GITHUB_JWKS_URL = server.url
    settings.OIDC_GITLAB_JWKS_URL = server.url
    settings.OIDC_GOOGLE_JWKS_URL = server.url
    yield server
    server.stop()


def sign(claims: dict, *, key=KEY, kid="k1", algorithm="RS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def times(**overrides) -> dict:
    now = int(time.time())
    return {"iat": now, "nbf": now, "exp": now + 300, "jti": str(uuid.uuid4()), **overrides}


def github_claims(**overrides) -> dict:
    claims = {
        "iss": tp.GITHUB_ISSUER,
        "aud": "pypi",
        "sub": "repo:Octo/sample:environment:pypi",
        "repository": "Octo/sample",
        "repository_owner": "Octo",
        "repository_owner_id": "42",
        "job_workflow_ref": "Octo/sample/.github/workflows/release.yml@refs/tags/v1.0",
        "ref": "refs/tags/v1.0",
        "sha": "0123abcd",
        "environment": "pypi",
        **times(),
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def gitlab_claims(host="gitlab.com", iss=tp.GITLAB_ISSUER, **overrides) -> dict:
    claims = {
        "iss": iss,
        "aud": "pypi",
        "sub": "project_path:group/sub/sample:ref_type:tag:ref:v1.0",
        "project_path": "group/sub/sample",
        "ci_config_ref_uri": f"{host}/group/sub/sample//ci/release.yml@refs/tags/v1.0",
        "environment": "Release",
        **times(),
    }
    claims.update(overrides)
    return claims


def google_claims(**overrides) -> dict:
    claims = {
        "iss": "https://accounts.google.com",
        "aud": "pypi",
        "sub": "1234",
        "email": "builder@proj.iam.gserviceaccount.com",
        "email_verified": True,
        **times(jti=None),
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def github_publisher(project, **fields) -> TrustedPublisher:
    values = {
        "provider": Provider.GITHUB,
        "repository": "octo/sample",
        "workflow": "release.yml",
        **fields,
    }
    return TrustedPublisher.objects.create(project=project, **values)


def mint(client, token: str):
    return client.post("/_/oidc/mint-token", {"token": token}, content_type="application/json")


def refused(response) -> tuple[str, str]:
    assert response.status_code == 422
    body = response.json()
    assert body["message"] == "Token request failed"
    (error,) = body["errors"]
    return error["code"], error["description"]


# --- The endpoints' shapes


def test_audience(client, settings):
    settings.OIDC_AUDIENCE = "index.example"
    assert client.get("/_/oidc/audience").json() == {"audience": "index.example"}


def test_mint_gives_an_upload_token_for_the_project_only(client, jwks, project, owner):
    publisher = github_publisher(project, environment="pypi", added_by=owner)
    response = mint(client, sign(github_claims()))
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["token"].startswith("pypi-")
    token = upload_token(body["token"])
    assert token.trusted_publisher == publisher
    assert token.user == owner
    assert list(token.projects.all()) == [project]
    assert body["expires"] == int(token.expires_at.timestamp())
    lifetime = token.expires_at - timezone.now()
    assert timedelta(minutes=14) < lifetime <= timedelta(minutes=15)
    event = Event.objects.get(tag="project:trusted-publisher:token-minted")
    assert event.project == project
    assert event.details["repository"] == "Octo/sample"
    assert event.details["job_workflow_ref"].endswith("release.yml@refs/tags/v1.0")
    assert event.details["sha"] == "0123abcd"
    assert event.details["environment"] == "pypi"
    assert event.details["publisher"] == publisher.identity


def test_a_publisher_removed_while_its_token_is_exchanged_is_refused(
    client, jwks, project, owner, monkeypatch
):
    from packages import trusted_publishing

    github_publisher(project, environment="pypi", added_by=owner)
    found = trusted_publishing.find_publisher

    def found_then_removed(verified):
        publisher = found(verified)
        TrustedPublisher.objects.filter(pk=publisher.pk).delete()  # an Owner, meanwhile
        return publisher

    monkeypatch.setattr(trusted_publishing, "find_publisher", found_then_removed)
    assert refused(mint(client, sign(github_claims()))) == (
        "invalid-publisher",
        "valid token, but the publisher it matched was just removed",
    )


def test_minted_token_uploads_to_its_project_and_nowhere_else(client, jwks, project, owner):
    github_publisher(project)
    secret = mint(client, sign(github_claims())).json()["token"]
    assert post_upload(client, make_wheel("sample-project", "1.0"), secret).status_code == 200
    uploaded = Event.objects.get(tag="project:file:uploaded")
    assert uploaded.details["publisher"] == "GitHub Actions octo/sample release.yml"
    other = post_upload(client, make_wheel("other-project", "1.0"), secret)
    assert other.status_code == 403


def test_burn_token_revokes_it(client, jwks, project):
    github_publisher(project)
    secret = mint(client, sign(github_claims())).json()["token"]
    response = client.post("/_/oidc/burn-token", {"token": secret}, content_type="application/json")
    assert response.json() == {"success": True}
    assert ApiToken.objects.get().revoked_at is not None


def test_burn_token_refuses_other_tokens(client, owner):
    secret = api_token_create(user=owner).secret
    for token in (secret, "pypi-nonsense"):
        response = client.post(
            "/_/oidc/burn-token", {"token": token}, content_type="application/json"
        )
        assert refused(response)[0] == "invalid-token"
    assert ApiToken.objects.get().revoked_at is None


@pytest.mark.parametrize("body", [b"not json", b"[]", b"{}", b'{"token": 3}', b'{"token": ""}'])
def test_mint_refuses_a_malformed_body(client, body):
    response = client.post("/_/oidc/mint-token", body, content_type="application/json")
    assert refused(response)[0] == "invalid-payload"


def test_mint_answers_only_post(client):
    assert client.get("/_/oidc/mint-token").status_code == 405


# --- The token itself


def test_not_a_jwt(client, jwks):
    code, description = refused(mint(client, "garbage"))
    assert code == "invalid-token" and "not a JWT" in description


def test_unknown_issuer(client, jwks, project):
    github_publisher(project)
    code, description = refused(mint(client, sign(github_claims(iss="https://evil.example"))))
    assert code == "invalid-token" and "Unknown issuer" in description


def test_symmetric_algorithm_refused(client, jwks, project):
    github_publisher(project)
    token = sign(github_claims(), key="a-shared-secret-that-is-long-enough", algorithm="HS256")
    assert "Unsupported signing algorithm" in refused(mint(client, token))[1]


def test_wrong_key_refused(client, jwks, project):
    github_publisher(project)
    code, description = refused(mint(client, sign(github_claims(), key=OTHER_KEY)))
    assert code == "invalid-token" and "Signature verification failed" in description


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # Times from the moment the test runs, not from collection: a run in
        # several processes reaches a test minutes after collecting it.
        (lambda now: {"exp": now - 120}, "expired"),
        (lambda now: {"nbf": now + 120}, "not yet valid"),
        (lambda now: {"iat": None}, 'missing the "iat" claim'),
        (lambda now: {"aud": "someone-else"}, "Audience doesn't match"),
    ],
    ids=["expired", "not-yet-valid", "no-iat", "other-audience"],
)
def test_lifetime_and_audience(client, jwks, project, overrides, message):
    github_publisher(project)
    claims = github_claims(**overrides(int(time.time())))
    code, description = refused(mint(client, sign(claims)))
    assert code == "invalid-token" and message in description


def test_small_clock_skew_tolerated(client, jwks, project):
    github_publisher(project)
    assert mint(client, sign(github_claims(exp=int(time.time()) - 10))).status_code == 200


def test_token_used_once(client, jwks, project):
    github_publisher(project)
    token = sign(github_claims())
    assert mint(client, token).status_code == 200
    assert "already been used" in refused(mint(client, token))[1]


def test_jwks_fetched_once_and_cached(client, jwks, project):
    github_publisher(project)
    mint(client, sign(github_claims()))
    mint(client, sign(github_claims()))
    assert jwks.requests == 1


def test_unknown_key_id_refetches_at_most_once_a_minute(client, jwks, project):
    github_publisher(project)
    mint(client, sign(github_claims()))
    assert "unknown key" in refused(mint(client, sign(github_claims(), kid="k2")))[1]
    assert jwks.requests == 2
    refused(mint(client, sign(github_claims(), kid="k3")))
    assert jwks.requests == 2


def test_rotated_key_is_found_by_refetching(client, jwks, project):
    github_publisher(project)
    mint(client, sign(github_claims()))
    jwks.body = json.dumps({"keys": [jwk(KEY, "k1"), jwk(OTHER_KEY, "k2")]}).encode()
    assert mint(client, sign(github_claims(), key=OTHER_KEY, kid="k2")).status_code == 200


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, b"oops", "HTTP 500"),
        (200, b"x" * (tp.JWKS_MAX_BYTES + 1), "bytes"),
        (200, b"not json", "not a JWKS"),
        (200, b'{"nokeys": []}', "not a JWKS"),
        (200, b'{"keys": [{"kid": "k1", "kty": "nonsense"}]}', "unusable"),
    ],
)
def test_broken_jwks(client, jwks, project, status, body, message):
    github_publisher(project)
    jwks.status, jwks.body = status, body
    code, description = refused(mint(client, sign(github_claims())))
    assert code == "invalid-token" and message in description


def test_unreachable_jwks(client, jwks, project):
    github_publisher(project)
    jwks.stop()
    assert "could not be fetched" in refused(mint(client, sign(github_claims())))[1]


# --- Claims, per provider


def test_no_publisher(client, jwks, project):
    code, description = refused(mint(client, sign(github_claims())))
    assert code == "invalid-publisher"
    assert "no publisher is configured" in description


@pytest.mark.parametrize(
    ("fields", "overrides", "reason"),
    [
        ({}, {"repository_owner": "someone"}, "repository_owner"),
        ({}, {"sub": "repo:other/sample:ref:x"}, "sub"),
        ({"repository_owner_id": "43"}, {}, "repository_owner_id"),
        ({}, {"repository_owner_id": None}, None),
        ({"workflow": "other.yml"}, {}, "job_workflow_ref"),
        (
            {},
            {"job_workflow_ref": "Octo/sample/.github/workflows/release.yml@"},
            "job_workflow_ref",
        ),
        (
            {},
            {"job_workflow_ref": "Octo/sample/.github/workflows/release.yml@refs/heads/evil"},
            "neither the job's ref nor its sha",
        ),
        ({}, {"job_workflow_ref": "Octo/sample/.github/workflows/release.yml@0123abcd"}, None),
        ({"environment": "PyPI"}, {}, None),
        ({"environment": "pypi"}, {"environment": "staging"}, "environment"),
        ({"environment": "pypi"}, {"environment": None}, "environment"),
    ],
)
def test_github_claims(client, jwks, project, fields, overrides, reason):
    github_publisher(project, **fields)
    response = mint(client, sign(github_claims(**overrides)))
    if reason is None:
        assert response.status_code == 200
    else:
        code, description = refused(response)
        assert code == "invalid-publisher" and reason in description


def test_publisher_with_environment_preferred(client, jwks, project):
    plain = github_publisher(project)
    scoped = github_publisher(project, environment="pypi")
    mint(client, sign(github_claims()))
    mint(client, sign(github_claims(environment=None)))
    assert [token.trusted_publisher for token in ApiToken.objects.order_by("pk")] == [
        scoped,
        plain,
    ]


@pytest.mark.parametrize(
    ("check", "fields", "claims", "reason"),
    [
        (tp._check_github, {"repository": "a/b"}, github_claims(), "repository"),
        (tp._check_gitlab, {"repository": "a/b"}, gitlab_claims(), "project_path"),
        (
            tp._check_google,
            {"email": "x@example.com"},
            google_claims(),
            "email",
        ),
        (tp._check_github, {"repository": "octo/sample"}, github_claims(repository=3), "''"),
    ],
)
def test_checks_refuse_what_the_lookup_would_not_find(check, fields, claims, reason):
    # The lookup already narrows candidates by these claims; each check still
    # refuses on its own, so it holds wherever it is called.
    publisher = TrustedPublisher(workflow="release.yml", **fields)
    assert reason in check(publisher, claims)


def gitlab_publisher(project, **fields) -> TrustedPublisher:
    values = {
        "provider": Provider.GITLAB,
        "repository": "Group/Sub/Sample",
        "workflow": "ci/release.yml",
        **fields,
    }
    return TrustedPublisher.objects.create(project=project, **values)


@pytest.mark.parametrize(
    ("fields", "overrides", "reason"),
    [
        ({}, {}, None),
        ({"environment": "Release"}, {}, None),
        ({"environment": "release"}, {}, "environment"),
        ({}, {"sub": "project_path:other/x:ref:v1"}, "sub"),
        ({"workflow": "other.yml"}, {}, "ci_config_ref_uri"),
        ({}, {"ci_config_ref_uri": "gitlab.com/group/sub/sample//ci/release.yml@"}, "at a ref"),
    ],
)
def test_gitlab_claims(client, jwks, project, fields, overrides, reason):
    gitlab_publisher(project, **fields)
    response = mint(client, sign(gitlab_claims(**overrides)))
    if reason is None:
        assert response.status_code == 200
    else:
        code, description = refused(response)
        assert code == "invalid-publisher" and reason in description


def test_self_hosted_gitlab(client, jwks, project):
    OIDCIssuer.objects.create(name="ours", issuer_url=SELF_HOSTED, jwks_url=jwks.url)
    publisher = gitlab_publisher(project, issuer_url=SELF_HOSTED)
    claims = gitlab_claims(host="gitlab.example.com", iss=SELF_HOSTED)
    assert mint(client, sign(claims)).status_code == 200
    # The same claims from gitlab.com match no self-hosted publisher.
    assert refused(mint(client, sign(gitlab_claims())))[0] == "invalid-publisher"
    other = gitlab_claims(host="gitlab.example.com", iss=SELF_HOSTED, project_path="x/y")
    assert "project_path" in refused(mint(client, sign(other)))[1]
    assert ApiToken.objects.get().trusted_publisher == publisher


@pytest.mark.parametrize(
    ("fields", "overrides", "reason"),
    [
        ({}, {}, None),
        ({"subject": "1234"}, {}, None),
        ({"subject": "999"}, {}, "sub"),
        ({}, {"email_verified": False}, "not verified"),
    ],
)
def test_google_claims(client, jwks, project, fields, overrides, reason):
    TrustedPublisher.objects.create(
        project=project,
        provider=Provider.GOOGLE,
        email="Builder@proj.iam.gserviceaccount.com",
        **fields,
    )
    response = mint(client, sign(google_claims(**overrides)))
    if reason is None:
        assert response.status_code == 200
    else:
        assert reason in refused(response)[1]


def test_google_token_without_jti_is_still_single_use(client, jwks, project):
    TrustedPublisher.objects.create(
        project=project, provider=Provider.GOOGLE, email="builder@proj.iam.gserviceaccount.com"
    )
    token = sign(google_claims())
    assert mint(client, token).status_code == 200
    assert "already been used" in refused(mint(client, token))[1]


def test_custom_issuer(client, jwks, project):
    issuer = OIDCIssuer.objects.create(name="ci", issuer_url=CUSTOM_ISSUER, jwks_url=jwks.url)
    TrustedPublisher.objects.create(
        project=project,
        provider=Provider.CUSTOM,
        custom_issuer=issuer,
        claims={"pipeline": "release", "team": "infra"},
    )
    claims = {"iss": CUSTOM_ISSUER, "aud": "pypi", "pipeline": "release", "team": "infra"}
    assert mint(client, sign({**claims, **times()})).status_code == 200
    wrong = {**claims, "team": "web", **times()}
    assert "team 'web' is not 'infra'" in refused(mint(client, sign(wrong)))[1]


# --- Pending publishers and the token's holder


def pending(user, name="brand-new", **fields) -> TrustedPublisher:
    return tp.publisher_add(
        actor=Actor(user=user),
        pending_name=name,
        provider=Provider.GITHUB,
        repository="octo/sample",
        workflow="release.yml",
        **fields,
    )


def test_pending_publisher_creates_the_project(client, jwks, owner, outsider):
    publisher = pending(owner, "Brand_New")
    rival = pending(outsider, "brand-new", environment="other")
    secret = mint(client, sign(github_claims())).json()["token"]
    project = Project.objects.get(normalized_name="brand-new")
    assert project.name == "Brand_New"
    assert Role.objects.get(project=project).user == owner
    publisher.refresh_from_db()
    assert publisher.project == project and publisher.pending_name == ""
    assert not TrustedPublisher.objects.filter(pk=rival.pk).exists()
    assert [e.action for e in JournalEntry.objects.filter(name="Brand_New")] == [
        "create",
        "add Owner olivia",
    ]
    assert Event.objects.filter(project=project, tag="project:created").exists()
    assert post_upload(client, make_wheel("brand-new", "1.0"), secret).status_code == 200
    # From now on it is the project's publisher: later jobs mint for it.
    assert mint(client, sign(github_claims())).status_code == 200
    assert Project.objects.count() == 1


def test_pending_publisher_for_a_name_taken_since(client, jwks, owner):
    pending(owner, "brand.new")
    Project.objects.create(name="Brand-New", normalized_name="brand-new")
    description = refused(mint(client, sign(github_claims())))[1]
    assert "exists already" in description


def test_pending_publisher_of_a_deleted_account(client, jwks, owner):
    pending(owner)
    owner.delete()
    assert refused(mint(client, sign(github_claims())))[0] == "invalid-pending-publisher"


def test_pending_publisher_of_an_account_that_may_not_upload(client, jwks, owner):
    pending(owner)
    owner.emails.update(verified=False)
    code, description = refused(mint(client, sign(github_claims())))
    assert code == "invalid-pending-publisher" and "verified" in description
    assert not Project.objects.exists()


def test_token_held_by_an_owner_when_the_adder_left(client, jwks, project, owner, maintainer):
    github_publisher(project, added_by=maintainer)
    mint(client, sign(github_claims()))
    assert ApiToken.objects.get().user == owner


def test_token_of_an_organizations_project(client, jwks, owner, outsider):
    organization = make_organization("acme", owners=[outsider, owner])
    project = Project.objects.create(name="acme-tool", normalized_name="acme-tool")
    project.organization = organization
    project.save()
    github_publisher(project, added_by=owner)
    secret = mint(client, sign(github_claims())).json()["token"]
    assert upload_token(secret).user == owner
    assert post_upload(client, make_wheel("acme-tool", "1.0"), secret).status_code == 200
    # The adder gone, the organization's first Owner holds the next token.
    owner.organization_roles.all().delete()
    mint(client, sign(github_claims()))
    assert ApiToken.objects.order_by("pk").last().user == outsider


def test_project_without_owner(client, jwks, project):
    github_publisher(project)
    project.roles.filter(role_name="Owner").delete()
    assert "no Owner" in refused(mint(client, sign(github_claims())))[1]


def test_removing_a_publisher_removes_its_tokens(client, jwks, project, owner):
    publisher = github_publisher(project)
    mint(client, sign(github_claims()))
    tp.publisher_remove(publisher, actor=Actor(user=owner))
    assert not ApiToken.objects.exists()
    assert Event.objects.filter(project=project, tag="project:trusted-publisher:removed").exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"provider": "svn"}, "Unknown provider"),
        ({"provider": "github", "repository": "nope", "workflow": "r.yml"}, "OWNER/NAME"),
        ({"provider": "github", "repository": "a/b", "workflow": "dir/r.yml"}, "workflow"),
        (
            {
                "provider": "github",
                "repository": "a/b",
                "workflow": "r.yml",
                "repository_owner_id": "x",
            },
            "a number",
        ),
        ({"provider": "gitlab", "repository": "solo", "workflow": "ci.yml"}, "NAMESPACE"),
        ({"provider": "gitlab", "repository": "a/b", "workflow": "ci.txt"}, "CI file"),
        (
            {
                "provider": "gitlab",
                "repository": "a/b",
                "workflow": "ci.yml",
                "issuer_url": SELF_HOSTED,
            },
            "not an issuer",
        ),
        ({"provider": "google", "email": "nobody"}, "e-mail"),
        ({"provider": "custom", "claims": {"a": "b"}}, "needs an issuer"),
    ],
)
def test_publisher_validation(project, owner, fields, message):
    with pytest.raises(tp.PublisherError, match=message):
        tp.publisher_add(actor=Actor(user=owner), project=project, **fields)


def test_custom_publisher_needs_claims(project, owner):
    issuer = OIDCIssuer.objects.create(name="ci", issuer_url=CUSTOM_ISSUER, jwks_url=CUSTOM_ISSUER)
    with pytest.raises(tp.PublisherError, match="at least one claim"):
        tp.publisher_add(
            actor=Actor(user=owner), project=project, provider="custom", custom_issuer=issuer
        )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no good!", "not a valid project name"),
        ("Sample_Project", "exists already"),
        ("os", "isn't allowed|not allowed|standard library"),
    ],
)
def test_pending_name_checked_when_added(owner, project, name, message):
    with pytest.raises(tp.PublisherError, match=message):
        pending(owner, name)


def test_pending_needs_an_account(db):
    with pytest.raises(tp.PublisherError, match="needs the account"):
        pending(None)


def test_pending_name_rules_of_an_upload(owner, settings):
    owner.emails.update(verified=False)
    with pytest.raises(tp.PublisherError, match="verified primary email"):
        pending(owner)


def test_pending_publishers_per_account_bounded(owner):
    for number in range(tp.MAX_PENDING_PER_USER):
        pending(owner, f"new-{number}")
    with pytest.raises(tp.PublisherError, match="remove one first"):
        pending(owner, "one-more")


def test_identity_and_str(project):
    issuer = OIDCIssuer(name="ci", issuer_url=CUSTOM_ISSUER)
    assert str(issuer) == f"ci ({CUSTOM_ISSUER})"
    github = TrustedPublisher(
        project=project, provider="github", repository="a/b", workflow="r.yml", environment="e"
    )
    assert str(github) == "GitHub Actions a/b r.yml (environment e) for Sample.Project"
    gitlab = TrustedPublisher(
        project=project, provider="gitlab", repository="g/p", workflow="ci.yml",
        issuer_url=SELF_HOSTED,
    )  # fmt: skip
    assert gitlab.identity == f"GitLab CI/CD g/p ci.yml on {SELF_HOSTED}"
    google = TrustedPublisher(pending_name="New", provider="google", email="x@y.z")
    assert str(google) == "Google Cloud x@y.z for New (pending)"
    custom = TrustedPublisher(provider="custom", custom_issuer=issuer, claims={"a": "b"})
    assert custom.identity == "ci a=b"


# --- manage.py trusted_publisher


def run(*args) -> str:
    out = StringIO()
    call_command("trusted_publisher", *args, stdout=out)
    return out.getvalue()


def test_command_add_github_list_remove(client, jwks, project):
    output = run(
        "add",
        "sample.project",
        "--provider",
        "github",
        "--repository",
        "octo/sample",
        "--workflow",
        "release.yml",
        "--environment",
        "pypi",
        "--owner-id",
        "42",
    )
    publisher = TrustedPublisher.objects.get()
    assert output == f"Added publisher {publisher.pk}: {publisher}\n"
    assert publisher.repository_owner_id == "42" and publisher.environment == "pypi"
    assert mint(client, sign(github_claims())).status_code == 200
    assert run("list", "Sample.Project") == f"{publisher.pk}\t{publisher}\n"
    assert run("remove", "sample-project", str(publisher.pk)).startswith("Removed publisher")
    assert not TrustedPublisher.objects.exists()


def test_command_other_providers(project):
    OIDCIssuer.objects.create(name="gl", issuer_url=SELF_HOSTED, jwks_url=SELF_HOSTED)
    OIDCIssuer.objects.create(name="ci", issuer_url=CUSTOM_ISSUER, jwks_url=CUSTOM_ISSUER)
    run("add", "sample-project", "--provider", "gitlab", "--repository", "g/p",
        "--workflow", ".gitlab-ci.yml", "--issuer", SELF_HOSTED)  # fmt: skip
    run("add", "sample-project", "--provider", "google", "--email", "b@x.iam", "--subject", "7")
    run("add", "sample-project", "--provider", "custom", "--issuer", CUSTOM_ISSUER,
        "--claim", "team=infra", "--claim", "ref=a=b")  # fmt: skip
    custom = TrustedPublisher.objects.get(provider="custom")
    assert custom.claims == {"team": "infra", "ref": "a=b"}
    assert TrustedPublisher.objects.get(provider="gitlab").issuer_url == SELF_HOSTED
    assert TrustedPublisher.objects.get(provider="google").subject == "7"


def test_command_refuses_a_bad_gitlab_workflow(project):
    with pytest.raises(CommandError, match="CI file"):
        run("add", "sample-project", "--provider", "gitlab", "--repository", "g/p")


def test_command_pending(owner):
    run("add", "new-thing", "--pending", "--user", "olivia", "--provider", "google",
        "--email", "b@x.iam")  # fmt: skip
    publisher = TrustedPublisher.objects.get()
    assert publisher.added_by == owner and publisher.pending_name == "new-thing"
    assert run("list", "New_Thing") == f"{publisher.pk}\t{publisher}\n"
    assert Event.objects.get(user=owner, tag="project:trusted-publisher:added")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "nope", "--provider", "google", "--email", "a@b"], "No project named 'nope'"),
        (
            ["add", "sample-project", "--pending", "--user", "olivia", "--provider", "google"],
            "exists: add it without --pending",
        ),
        (["add", "new", "--pending", "--provider", "google"], "needs --user"),
        (["add", "sample-project", "--provider", "custom", "--claim", "novalue"], "NAME=VALUE"),
        (["add", "sample-project", "--provider", "google"], "e-mail"),
        (["remove", "sample-project", "99"], "has no publisher 99"),
    ],
)
def test_command_errors(project, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


# --- PEP 807 discovery

LEGACY_KEY = "0cace9579789849db6e16d48df183951c8f17582200d84bc93c7678d6c8f78a7"
# The PEP's own example key, sha256 of "/legacy/\n".
PEP_EXAMPLE_KEY = "af030c06750716b1b35852298fe852b90def13dcbd012a5fe5148470f1206bfc"


@pytest.mark.parametrize("key", [LEGACY_KEY, PEP_EXAMPLE_KEY])
def test_discovery_names_the_endpoints(client, key):
    response = client.get(f"/.well-known/pytp/{key}", HTTP_ACCEPT=tp_type())
    assert response.status_code == 200
    assert response["Content-Type"] == tp_type()
    assert response.json() == {
        "audience-endpoint": "http://testserver/_/oidc/audience",
        "mint-token-endpoint": "http://testserver/_/oidc/mint-token",
    }


def tp_type() -> str:
    return "application/vnd.pypi.pytp.v1+json"


def test_discovery_without_accept_header(client):
    assert client.get(f"/.well-known/pytp/{LEGACY_KEY}").status_code == 200


def test_discovery_of_another_upload_url_is_a_bare_404(client):
    response = client.get("/.well-known/pytp/" + "0" * 64)
    assert response.status_code == 404 and response.content == b""


def test_discovery_refuses_other_media_types(client):
    response = client.get(f"/.well-known/pytp/{LEGACY_KEY}", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response.json()["errors"][0]["code"] == "not-acceptable"


def test_refused_exchanges_are_rate_limited(client, settings, jwks, project):
    settings.RATELIMITS = {**settings.RATELIMITS, "oidc-mint-failure": (2, 300)}
    github_publisher(project)
    for _ in range(2):
        refused(mint(client, "garbage"))
    response = mint(client, sign(github_claims()))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    (error,) = response.json()["errors"]
    assert error["code"] == "rate-limited" and "Try again" in error["description"]
