"""Trusted publishing: a CI job's OIDC identity token exchanged for a 15-minute
upload token scoped to the projects whose publisher matches its claims, as on
the public index (``/_/oidc/mint-token``), so unchanged clients publish here.

A token is accepted once: its issuer is one we know (GitHub, GitLab, Google, or
an issuer the admins configured), its signature is by a key from that issuer's
JWKS, it is meant for this index (``OIDC_AUDIENCE``), within its lifetime, never
seen before, and its claims match a publisher the project's Owners configured.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import jwt
import urllib3
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.events import Actor, record_event
from accounts.models import ApiToken, OrganizationRole
from accounts.tokens import (
    TokenError,
    api_token_create,
    api_token_match,
    api_token_revoke,
    token_display_prefix,
)

from .journal import JournalLine, journal_and_purge
from .mirror_claims import project_claimed
from .models import OIDCIssuer, Project, Role, TrustedPublisher
from .names import is_valid_project_name, normalize_project_name
from .namespaces import new_project_organization
from .policy import UploadError, check_uploader, check_user_upload_to, user_role

Provider = TrustedPublisher.Provider

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
# Google signs with either spelling of its issuer.
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")

TOKEN_LIFETIME = timedelta(minutes=15)
# Clock skew tolerated between the CI provider and us, for exp, nbf and iat.
LEEWAY_SECONDS = 30
# Only asymmetric algorithms: a symmetric one would let the JWKS's public key
# be used as an HMAC secret.
ALGORITHMS = ["RS256", "ES256"]
# The bound on what a JWKS fetch may cost: its size, its time, how long it is
# kept, and how often an unknown key id may make us fetch again.
JWKS_MAX_BYTES = 64 * 1024
JWKS_TIMEOUT_SECONDS = 5
JWKS_CACHE_SECONDS = 15 * 60
JWKS_REFRESH_SECONDS = 60

_http = urllib3.PoolManager(
    timeout=urllib3.Timeout(total=JWKS_TIMEOUT_SECONDS), retries=False, maxsize=4
)


class TrustedPublishingError(Exception):
    """The exchange is refused; ``code`` and ``description`` are what the public
    index answers (clients print both)."""

    def __init__(self, code: str, description: str):
        super().__init__(description)
        self.code = code
        self.description = description


def _invalid_token(description: str) -> TrustedPublishingError:
    return TrustedPublishingError("invalid-token", description)


@dataclass(frozen=True)
class Issuer:
    url: str
    jwks_url: str
    providers: tuple[str, ...]
    configured: OIDCIssuer | None = None


def audience() -> str:
    return settings.OIDC_AUDIENCE


def known_issuer(url: str) -> Issuer | None:
    """The issuer ``url`` names, if its tokens may be exchanged here."""
    if url == GITHUB_ISSUER:
        return Issuer(url, settings.OIDC_GITHUB_JWKS_URL, (Provider.GITHUB,))
    if url == GITLAB_ISSUER:
        return Issuer(url, settings.OIDC_GITLAB_JWKS_URL, (Provider.GITLAB,))
    if url in GOOGLE_ISSUERS:
        return Issuer(url, settings.OIDC_GOOGLE_JWKS_URL, (Provider.GOOGLE,))
    # Admins configure the others (a self-hosted GitLab, a company's CI): an
    # Owner naming any URL would make the index fetch whatever they like.
    configured = OIDCIssuer.objects.filter(issuer_url=url).first()
    if configured is None:
        return None
    return Issuer(url, configured.jwks_url, (Provider.GITLAB, Provider.CUSTOM), configured)


def _fetch_jwks(url: str) -> dict:
    try:
        response = _http.request("GET", url, preload_content=False)
        try:
            body = response.read(JWKS_MAX_BYTES + 1)
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        raise _invalid_token(f"The issuer's signing keys could not be fetched: {exc}") from None
    if response.status != 200 or len(body) > JWKS_MAX_BYTES:
        raise _invalid_token(
            f"The issuer's signing keys could not be fetched (HTTP {response.status}, "
            f"{len(body)} bytes)."
        )
    try:
        keys = json.loads(body)["keys"]
        return {key["kid"]: key for key in keys if isinstance(key, dict) and "kid" in key}
    except (ValueError, KeyError, TypeError):
        raise _invalid_token("The issuer's signing keys are not a JWKS document.") from None


def _cache_key(kind: str, text: str) -> str:
    return f"oidc:{kind}:{hashlib.sha256(text.encode()).hexdigest()}"


def signing_key(jwks_url: str, kid: str) -> jwt.PyJWK:
    """The key ``kid`` from the JWKS at ``jwks_url``, cached; an unknown id
    fetches the JWKS again (the provider rotated its keys), at most once a
    minute, so a stream of made-up ids can't make us hammer the provider."""
    key = _cache_key("jwks", jwks_url)
    keys = cache.get(key)
    if keys is None or (
        kid not in keys and cache.add(_cache_key("jwks-refresh", jwks_url), 1, JWKS_REFRESH_SECONDS)
    ):
        keys = _fetch_jwks(jwks_url)
        cache.set(key, keys, JWKS_CACHE_SECONDS)
    if kid not in keys:
        raise _invalid_token(f"The token is signed by an unknown key (kid {kid!r}).")
    try:
        return jwt.PyJWK(keys[kid])
    except jwt.PyJWTError as exc:
        raise _invalid_token(f"The issuer's key {kid!r} is unusable: {exc}") from None


@dataclass(frozen=True)
class VerifiedToken:
    issuer: Issuer
    claims: dict


def verify_token(raw: str) -> VerifiedToken:
    """The claims of the OIDC token ``raw`` once everything but the publisher
    is checked, and the token spent (a second exchange of it is refused)."""
    try:
        header = jwt.get_unverified_header(raw)
        unverified = jwt.decode(raw, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _invalid_token(f"The token is not a JWT: {exc}") from None
    issuer = known_issuer(str(unverified.get("iss", "")))
    if issuer is None:
        raise _invalid_token(f"Unknown issuer {unverified.get('iss')!r}.")
    if header.get("alg") not in ALGORITHMS:
        raise _invalid_token(f"Unsupported signing algorithm {header.get('alg')!r}.")
    key = signing_key(issuer.jwks_url, str(header.get("kid", "")))
    try:
        claims = jwt.decode(
            raw,
            key=key,
            algorithms=[header["alg"]],
            audience=audience(),
            issuer=issuer.url,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise _invalid_token(f"The token is refused: {exc}.") from None
    _spend(raw, claims)
    return VerifiedToken(issuer, claims)


def _spend(raw: str, claims: dict) -> None:
    # Remembered until the token would expire anyway (plus the leeway). Google
    # tokens carry no jti: the token itself is then what is remembered.
    jti = claims.get("jti") or raw
    remaining = int(claims["exp"] - timezone.now().timestamp()) + LEEWAY_SECONDS
    if not cache.add(_cache_key("jti", f"{claims['iss']}|{jti}"), 1, max(remaining, 1)):
        raise _invalid_token("The token has already been used.")


# --- Claims checks, per provider: None when the publisher matches, else why not.


def _claim(claims: dict, name: str) -> str:
    value = claims.get(name)
    return value if isinstance(value, str) else ""


def _check_github(publisher: TrustedPublisher, claims: dict) -> str | None:
    repository = _claim(claims, "repository")
    owner = publisher.repository.partition("/")[0]
    if repository.lower() != publisher.repository.lower():
        return f"repository {repository!r} is not {publisher.repository!r}"
    if _claim(claims, "repository_owner").lower() != owner.lower():
        return f"repository_owner {_claim(claims, 'repository_owner')!r} is not {owner!r}"
    if not _claim(claims, "sub").lower().startswith(f"repo:{publisher.repository.lower()}:"):
        return f"sub {_claim(claims, 'sub')!r} is not of repository {publisher.repository!r}"
    if publisher.repository_owner_id and (
        str(claims.get("repository_owner_id", "")) != publisher.repository_owner_id
    ):
        return (
            f"repository_owner_id {claims.get('repository_owner_id')!r} is not "
            f"{publisher.repository_owner_id!r}"
        )
    # The workflow that runs, at a ref: "OWNER/NAME/.github/workflows/FILE@REF".
    workflow_ref = _claim(claims, "job_workflow_ref")
    path, _, ref = workflow_ref.partition("@")
    expected = f"{publisher.repository}/.github/workflows/{publisher.workflow}"
    if path.lower() != expected.lower() or not ref:
        return f"job_workflow_ref {workflow_ref!r} is not workflow {expected!r} at a ref"
    if ref not in {_claim(claims, "ref"), _claim(claims, "sha")}:
        return f"job_workflow_ref's ref {ref!r} is neither the job's ref nor its sha"
    return _check_environment(publisher, claims, case_sensitive=False)


def _check_environment(publisher: TrustedPublisher, claims: dict, *, case_sensitive: bool):
    if not publisher.environment:
        return None
    environment = _claim(claims, "environment")
    # GitHub's environment names are case-insensitive, GitLab's are not.
    same = (
        environment == publisher.environment
        if case_sensitive
        else environment.lower() == publisher.environment.lower()
    )
    return None if same else f"environment {environment!r} is not {publisher.environment!r}"


def _check_gitlab(publisher: TrustedPublisher, claims: dict) -> str | None:
    project_path = _claim(claims, "project_path")
    if project_path.lower() != publisher.repository.lower():
        return f"project_path {project_path!r} is not {publisher.repository!r}"
    if not _claim(claims, "sub").lower().startswith(f"project_path:{project_path.lower()}:"):
        return f"sub {_claim(claims, 'sub')!r} is not of project {publisher.repository!r}"
    # The CI file that runs, at a ref: "HOST/NAMESPACE/PROJECT//PATH@REF".
    host = urlsplit(publisher.issuer_url or GITLAB_ISSUER).netloc
    config_ref = _claim(claims, "ci_config_ref_uri")
    path, _, ref = config_ref.partition("@")
    expected = f"{host}/{publisher.repository}//{publisher.workflow}"
    if path.lower() != expected.lower() or not ref:
        return f"ci_config_ref_uri {config_ref!r} is not {expected!r} at a ref"
    return _check_environment(publisher, claims, case_sensitive=True)


def _check_google(publisher: TrustedPublisher, claims: dict) -> str | None:
    if claims.get("email_verified") is not True:
        return "the e-mail address is not verified"
    if _claim(claims, "email").lower() != publisher.email.lower():
        return f"email {_claim(claims, 'email')!r} is not {publisher.email!r}"
    if publisher.subject and _claim(claims, "sub") != publisher.subject:
        return f"sub {_claim(claims, 'sub')!r} is not {publisher.subject!r}"
    return None


def _check_custom(publisher: TrustedPublisher, claims: dict) -> str | None:
    for name, value in publisher.claims.items():
        if claims.get(name) != value:
            return f"{name} {claims.get(name)!r} is not {value!r}"
    return None


CHECKS = {
    Provider.GITHUB: _check_github,
    Provider.GITLAB: _check_gitlab,
    Provider.GOOGLE: _check_google,
    Provider.CUSTOM: _check_custom,
}


def _candidates(verified: VerifiedToken):
    issuer, claims = verified.issuer, verified.claims
    publishers = TrustedPublisher.objects.select_related("project", "added_by")
    if issuer.configured is not None:
        return publishers.filter(provider=Provider.CUSTOM, custom_issuer=issuer.configured) | (
            publishers.filter(provider=Provider.GITLAB, issuer_url=issuer.url)
        )
    match issuer.providers[0]:
        case Provider.GITHUB:
            lookup = {"repository__iexact": _claim(claims, "repository")}
        case Provider.GITLAB:
            lookup = {"repository__iexact": _claim(claims, "project_path"), "issuer_url": ""}
        case _:
            lookup = {"email__iexact": _claim(claims, "email")}
    return publishers.filter(provider=issuer.providers[0], **lookup)


def find_publisher(verified: VerifiedToken) -> TrustedPublisher:
    """The publisher ``verified``'s claims match; one that names an environment
    is preferred to one that doesn't (it is the narrower grant)."""
    reasons = []
    candidates = sorted(_candidates(verified), key=lambda p: (not p.environment, p.pk))
    for publisher in candidates:
        reason = CHECKS[publisher.provider](publisher, verified.claims)
        if reason is None:
            return publisher
        reasons.append(f"{publisher.identity}: {reason}")
    raise TrustedPublishingError(
        "invalid-publisher",
        "valid token, but no corresponding publisher ("
        + ("; ".join(reasons) or "no publisher is configured for these claims")
        + ")",
    )


# --- The exchange


@dataclass(frozen=True)
class MintedUpload:
    secret: str
    token: ApiToken
    publisher: TrustedPublisher


def _create_pending_project(publisher: TrustedPublisher, actor: Actor) -> Project:
    """A pending publisher's first exchange creates its project, owned by the
    account that registered the publisher, through the same name rules as an
    upload creating one; the publisher then belongs to the project."""
    user = publisher.added_by
    name = publisher.pending_name
    if user is None:
        raise TrustedPublishingError(
            "invalid-pending-publisher",
            f"the account that registered the pending publisher for {name!r} no longer exists",
        )
    if Project.objects.filter(normalized_name=publisher.pending_normalized_name).exists():
        raise TrustedPublishingError(
            "invalid-pending-publisher",
            f"a project named {name!r} exists already; its Owners must add the publisher",
        )
    try:
        check_uploader(user)
        check_user_upload_to(user, name, None)
    except UploadError as exc:
        raise TrustedPublishingError("invalid-pending-publisher", str(exc)) from None
    project = Project.objects.create(
        name=name,
        normalized_name=publisher.pending_normalized_name,
        organization=new_project_organization(user, name),
    )
    Role.objects.create(project=project, user=user, role_name=Role.Name.OWNER)
    project_claimed(project.normalized_name)
    record_event("project:created", actor=actor, project=project, role=Role.Name.OWNER, user=user)
    journal_and_purge(
        project=project,
        entries=[JournalLine("create"), JournalLine(f"add Owner {user.username}")],
        actor=actor.as_user(user),
    )
    # Other pending publishers for the name had their chance: this one won it.
    TrustedPublisher.objects.filter(
        project__isnull=True, pending_normalized_name=project.normalized_name
    ).exclude(pk=publisher.pk).delete()
    publisher.project = project
    publisher.pending_name = publisher.pending_normalized_name = ""
    publisher.save(update_fields=["project", "pending_name", "pending_normalized_name"])
    return project


def _token_holder(publisher: TrustedPublisher):
    """The account an upload with the token is recorded against: the Owner who
    added the publisher while they are one, else the project's first Owner, else
    (a project of an organization) the organization's first Owner."""
    project = publisher.project
    adder = publisher.added_by
    if adder is not None and user_role(adder, project) == Role.Name.OWNER:
        return adder
    role = Role.objects.filter(project=project, role_name=Role.Name.OWNER).order_by("pk").first()
    if role is None and project.organization_id is not None:
        role = (
            OrganizationRole.objects.filter(
                organization_id=project.organization_id, role_name=OrganizationRole.Name.OWNER
            )
            .order_by("pk")
            .first()
        )
    if role is None:
        raise TrustedPublishingError(
            "invalid-publisher",
            f"project {project.name!r} has no Owner an upload could be recorded for",
        )
    return role.user


def mint_token(raw: str, *, actor: Actor) -> MintedUpload:
    """Exchange the OIDC token ``raw`` for an upload token (TrustedPublishingError)."""
    verified = verify_token(raw)
    publisher = find_publisher(verified)
    claims = verified.claims
    with transaction.atomic():
        # Locked: two jobs of a pending publisher exchanging tokens at once
        # must not both create its project; the second sees it created.
        try:
            publisher = TrustedPublisher.objects.select_for_update().get(pk=publisher.pk)
        except TrustedPublisher.DoesNotExist:
            # Removed by an Owner since it was found: the token names no
            # publisher any more.
            raise TrustedPublishingError(
                "invalid-publisher", "valid token, but the publisher it matched was just removed"
            ) from None
        if publisher.project is None:
            _create_pending_project(publisher, actor)
        project = publisher.project
        holder = _token_holder(publisher)
        minted = api_token_create(
            user=holder,
            description=f"Trusted publishing: {publisher.identity}",
            projects=[project],
            expires_at=timezone.now() + TOKEN_LIFETIME,
            actor=actor,
            trusted_publisher=publisher,
        )
        record_event(
            "project:trusted-publisher:token-minted",
            actor=actor,
            project=project,
            publisher=publisher.identity,
            provider=publisher.provider,
            token=token_display_prefix(minted.token),
            **{
                name: _claim(claims, name)
                for name in (
                    "repository",
                    "job_workflow_ref",
                    "ci_config_ref_uri",
                    "ref",
                    "sha",
                    "environment",
                    "email",
                    "sub",
                )
                if _claim(claims, name)
            },
        )
    return MintedUpload(minted.secret, minted.token, publisher)


def burn_token(raw: str, *, actor: Actor) -> None:
    """Revoke an upload token minted by trusted publishing, once the client is
    done with it (uv does after its upload)."""
    try:
        token = api_token_match(raw)
    except TokenError as exc:
        raise _invalid_token(str(exc)) from None
    if token.trusted_publisher_id is None:
        raise _invalid_token("The token was not minted by trusted publishing.")
    api_token_revoke(token, actor=actor)


class PublisherError(Exception):
    """The publisher's configuration is refused; the message says why."""


_GITHUB_REPOSITORY = re.compile(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+")
_GITLAB_PROJECT = re.compile(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+")
_WORKFLOW_FILE = re.compile(r"[A-Za-z0-9_.-]+\.ya?ml")
_GITLAB_CI_FILE = re.compile(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*\.ya?ml")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise PublisherError(message)


def _validate(fields: dict) -> dict:
    provider = fields.get("provider")
    repository, workflow = fields.get("repository", ""), fields.get("workflow", "")
    if provider == Provider.GITHUB:
        _require(
            bool(_GITHUB_REPOSITORY.fullmatch(repository)),
            f"The GitHub repository must be OWNER/NAME, not {repository!r}.",
        )
        _require(
            bool(_WORKFLOW_FILE.fullmatch(workflow)),
            "The workflow must be a filename under .github/workflows/ ending in .yml or "
            f".yaml, not {workflow!r}.",
        )
        _require(
            fields.get("repository_owner_id", "").isdigit()
            or not fields.get("repository_owner_id"),
            "The repository owner id is a number (GitHub's id of the owner).",
        )
    elif provider == Provider.GITLAB:
        _require(
            bool(_GITLAB_PROJECT.fullmatch(repository)),
            f"The GitLab project must be NAMESPACE/PROJECT, not {repository!r}.",
        )
        _require(
            bool(_GITLAB_CI_FILE.fullmatch(workflow)),
            f"The CI file must be a path in the repository ending in .yml, not {workflow!r}.",
        )
        issuer = fields.get("issuer_url", "")
        _require(
            not issuer or OIDCIssuer.objects.filter(issuer_url=issuer).exists(),
            f"The GitLab instance {issuer!r} is not an issuer the index's admins configured.",
        )
    elif provider == Provider.GOOGLE:
        _require("@" in fields.get("email", ""), "A Google publisher needs the e-mail address.")
    elif provider == Provider.CUSTOM:
        _require(
            fields.get("custom_issuer") is not None,
            "A custom publisher needs an issuer the index's admins configured.",
        )
        _require(bool(fields.get("claims")), "A custom publisher needs at least one claim.")
    else:
        raise PublisherError(f"Unknown provider {provider!r}: github, gitlab, google or custom.")
    return fields


# Claims a custom publisher may not pin: the token's own envelope, which every
# token of the issuer carries with a value of its own (checked separately).
_ENVELOPE_CLAIMS = frozenset({"iss", "aud", "exp", "iat", "nbf", "jti"})
MAX_CUSTOM_CLAIMS = 20


def parse_claims(pairs) -> dict[str, str]:
    """A custom publisher's claims from ``NAME=VALUE`` lines (the web form's
    lines, the command's ``--claim`` flags): a token must carry each exactly."""
    claims = {}
    for pair in pairs:
        if not pair.strip():
            continue
        name, sep, value = pair.strip().partition("=")
        name, value = name.strip(), value.strip()
        _require(bool(sep and name and value), f"A claim is NAME=VALUE, not {pair.strip()!r}.")
        _require(
            name not in _ENVELOPE_CLAIMS,
            f"The claim {name!r} is the token's own and differs in every token; "
            "name claims of the job (sub, repository, ...).",
        )
        _require(name not in claims, f"The claim {name!r} is given twice.")
        claims[name] = value
    _require(len(claims) <= MAX_CUSTOM_CLAIMS, f"At most {MAX_CUSTOM_CLAIMS} claims.")
    return claims


# Pending publishers one account may hold at once: each reserves nothing, but
# a name's first exchange goes to whichever matches, so hoarding is pointless
# and the bound keeps the lookup small.
MAX_PENDING_PER_USER = 10


def _check_pending(user, name: str) -> None:
    _require(user is not None, "A pending publisher needs the account that will own the project.")
    _require(is_valid_project_name(name), f"{name!r} is not a valid project name.")
    _require(
        not Project.objects.filter(normalized_name=normalize_project_name(name)).exists(),
        f"A project named {name!r} exists already: its Owners add publishers on its page.",
    )
    _require(
        TrustedPublisher.objects.filter(project__isnull=True, added_by=user).count()
        < MAX_PENDING_PER_USER,
        f"You have {MAX_PENDING_PER_USER} pending publishers already: remove one first.",
    )
    # The name rules an upload creating the project would meet, told now
    # rather than when the CI job runs.
    try:
        check_uploader(user)
        check_user_upload_to(user, name, None)
    except UploadError as exc:
        raise PublisherError(str(exc)) from None


def publisher_add(
    *, actor: Actor, project: Project | None = None, pending_name: str = "", **fields
):
    """Add a publisher to ``project`` or, without one, a pending publisher that
    creates the project ``pending_name`` on first use (PublisherError)."""
    if project is None:
        _check_pending(actor.user, pending_name)
    publisher = TrustedPublisher(
        project=project,
        pending_name=pending_name,
        pending_normalized_name=normalize_project_name(pending_name) if pending_name else "",
        added_by=actor.user,
        **_validate(fields),
    )
    with transaction.atomic():
        publisher.save()
        record_event(
            "project:trusted-publisher:added",
            actor=actor,
            project=project,
            user=actor.user if project is None else None,
            publisher=publisher.identity,
            pending=pending_name or None,
        )
    return publisher


def publisher_remove(publisher: TrustedPublisher, *, actor: Actor) -> None:
    """Remove ``publisher``; the tokens it minted go with it."""
    with transaction.atomic():
        record_event(
            "project:trusted-publisher:removed",
            actor=actor,
            project=publisher.project,
            user=actor.user if publisher.project is None else None,
            publisher=publisher.identity,
        )
        publisher.delete()
