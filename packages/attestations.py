"""PEP 740 attestations: verified at upload, kept as the file's provenance,
served at ``/integrity/<project>/<version>/<filename>/provenance``.

As on the public index, an upload may carry attestations only when its token
was minted by trusted publishing: the publisher that minted it is the identity
the attestations must have been signed by (a Sigstore certificate issued to
that CI workflow), and they must name the uploaded file's name and sha256.
Verification is offline, against the Sigstore trust root pypi-attestations
ships (sigstore's TUF cache), so an upload never waits on the network.

Provenance continuity: a release none of whose files carries an attestation,
although the project's previous release had some, is flagged on its page and
to the project's Owners (a stolen long-lived token publishes without them).
"""

import dataclasses
import json
import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from pydantic import ValidationError

from accounts.models import ApiToken, Email, OrganizationRole
from accounts.services import send_templated_mail

from .models import File, Project, Provenance, Release, Role, TrustedPublisher
from .policy import UploadError

Provider = TrustedPublisher.Provider

CONTENT_TYPE = "application/vnd.pypi.integrity.v1+json"
# The predicate types the public index accepts (pypi-attestations'
# AttestationType), each at most once per file.
PREDICATE_TYPES = frozenset(
    {"https://docs.pypi.org/attestations/publish/v1", "https://slsa.dev/provenance/v1"}
)
MAX_ATTESTATIONS = len(PREDICATE_TYPES)
# A real attestation is about 10 KB (a certificate, a signature, one log
# entry); the field is refused past this before it is parsed at all.
MAX_FIELD_CHARS = 64 * 1024 * MAX_ATTESTATIONS
# What the Sigstore certificate of each provider's CI names as its issuer.
CERTIFICATE_ISSUERS = {
    Provider.GITHUB: "https://token.actions.githubusercontent.com",
    Provider.GITLAB: "https://gitlab.com",
    Provider.GOOGLE: "https://accounts.google.com",
}
_ISSUER_OID = "1.3.6.1.4.1.57264.1.8"
_SOURCE_REPOSITORY_OID = "1.3.6.1.4.1.57264.1.12"
REPOSITORY_HOSTS = {Provider.GITHUB: "https://github.com/", Provider.GITLAB: "https://gitlab.com/"}

ONLY_TRUSTED_PUBLISHING = (
    "Attestations are only supported when using Trusted Publishing: upload from a CI "
    "workflow configured as a trusted publisher of the project, or without attestations."
)

# sigstore warns on every offline verification that it does not refresh its
# trust root: offline is our choice, said once here rather than in every log line.
logging.getLogger("sigstore._internal.tuf").setLevel(logging.ERROR)

# pypi-attestations (and sigstore under it) is imported where an upload with
# attestations needs it, not with this module: half a second of imports that
# every process (pages, the simple API, commands) would pay for nothing.


@dataclass(frozen=True)
class Verified:
    """An upload's attestations, verified: the fields of its Provenance row.
    Plain JSON values: a staged upload may keep them (``dataclasses.asdict``)
    until its session is published."""

    provenance: dict  # the PEP 740 provenance object, as served
    # The publisher that minted the token, as it was then (it may be removed later).
    publisher_kind: str  # TrustedPublisher.Provider
    repository: str  # GitHub/GitLab: OWNER/NAME; Google: the service account
    workflow: str
    environment: str


def _refuse(message: str) -> UploadError:
    return UploadError(message)


def attestation_identity(publisher: TrustedPublisher):
    """The pypi-attestations publisher ``publisher`` signs as, or UploadError
    when its attestations can't be verified here."""
    from pypi_attestations import GitHubPublisher, GitLabPublisher, GooglePublisher

    environment = publisher.environment or None
    match publisher.provider:
        case Provider.GITHUB:
            return GitHubPublisher(
                repository=publisher.repository,
                workflow=publisher.workflow,
                environment=environment,
            )
        case Provider.GITLAB if not publisher.issuer_url:
            return GitLabPublisher(
                repository=publisher.repository,
                workflow_filepath=publisher.workflow,
                environment=environment,
            )
        case Provider.GOOGLE:
            return GooglePublisher(email=publisher.email)
    # Sigstore's public-good instance issues certificates to gitlab.com's and
    # the public CI services' identities only: a self-hosted GitLab's or a
    # company issuer's job has no certificate an attestation could carry.
    raise _refuse(
        f"Attestations can't be verified for the publisher {publisher.identity}: only "
        "GitHub Actions, gitlab.com and Google Cloud publishers can attest. Upload "
        "without attestations."
    )


def _parse(field: str) -> list:
    from pypi_attestations import Attestation

    if len(field) > MAX_FIELD_CHARS:
        raise _refuse(
            f"The attestations field is too large ({len(field):,} characters; at most "
            f"{MAX_FIELD_CHARS:,})."
        )
    try:
        items = json.loads(field)
    except (ValueError, RecursionError) as exc:
        raise _refuse(f"The attestations field is not valid JSON: {exc}.") from None
    if not isinstance(items, list) or not items:
        raise _refuse("The attestations field must be a non-empty JSON list of attestations.")
    if len(items) > MAX_ATTESTATIONS:
        raise _refuse(
            f"Too many attestations ({len(items)}): at most {MAX_ATTESTATIONS}, one per "
            "predicate type."
        )
    parsed = []
    for number, item in enumerate(items, 1):
        try:
            parsed.append(Attestation.model_validate(item))
        except ValidationError as exc:
            error = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in error["loc"]) or "the attestation"
            raise _refuse(f"Attestation {number} is malformed: {where}: {error['msg']}.") from None
    return parsed


def _certificate_claims(attestation, number: int) -> dict[str, str]:
    try:
        return attestation.certificate_claims
    except Exception as exc:
        # Any DER the client made up: cryptography's and pyasn1's parsers
        # raise errors of their own kinds.
        raise _refuse(
            f"Attestation {number} has no valid signing certificate: {type(exc).__name__}: {exc}"
        ) from None


def _as_certified(publisher, model: TrustedPublisher, claims: dict[str, str]):
    """``publisher`` with its repository spelt as the certificate spells it,
    when they differ only in case: GitHub and gitlab.com names ignore case, as
    the token exchange does (packages.trusted_publishing), while Sigstore's
    policy compares them exactly."""
    host = REPOSITORY_HOSTS.get(model.provider)
    uri = claims.get(_SOURCE_REPOSITORY_OID, "")
    if host and uri.lower() == f"{host}{publisher.repository}".lower():
        return publisher.model_copy(update={"repository": uri[len(host) :]})
    return publisher


def _verify_one(attestation, number: int, publisher, dist, model):
    """The attestation's predicate type and the publisher it verified for."""
    import sigstore.errors
    from pypi_attestations import AttestationError

    claims = _certificate_claims(attestation, number)
    issuer = claims.get(_ISSUER_OID, "")
    if issuer != CERTIFICATE_ISSUERS[model.provider]:
        # Told before the signature is checked: the usual mistake is an
        # attestation made by someone's own identity, not by the workflow.
        raise _refuse(
            f"Attestation {number} is signed by an identity of {issuer or 'an unknown issuer'}, "
            f"not by the trusted publisher that minted this upload's token "
            f"({model.identity})."
        )
    publisher = _as_certified(publisher, model, claims)
    try:
        predicate_type, _predicate = attestation.verify(publisher, dist, offline=True)
    except (sigstore.errors.TUFError, OSError) as exc:
        # The trust root itself could not be read: nothing the uploader did.
        raise UploadError(
            f"Attestations can't be verified right now ({exc}); try again later.", status=503
        ) from None
    except AttestationError as exc:
        raise _refuse(
            f"Attestation {number} does not verify for {dist.name} and the publisher "
            f"{model.identity}: {exc}"
        ) from None
    except Exception as exc:
        # Crafted input can make sigstore's parsers fail in ways it does not
        # wrap; it is still the attestation that is wrong, not the index.
        raise _refuse(
            f"Attestation {number} could not be verified: {type(exc).__name__}: {exc}"
        ) from None
    return predicate_type, publisher


def verify_upload(*, field: str | None, token: ApiToken | None, filename: str, sha256: str):
    """The upload's attestations (the form's ``attestations`` field) verified
    against the file and the publisher that minted ``token``: a Verified, or
    None without attestations; UploadError when they are refused."""
    if field is None:
        return None
    from pypi_attestations import Attestation, AttestationBundle, Distribution
    from pypi_attestations import Provenance as ProvenanceObject

    if token is None or token.trusted_publisher_id is None:
        raise _refuse(ONLY_TRUSTED_PUBLISHING)
    model = token.trusted_publisher
    configured = attestation_identity(model)
    attestations = _parse(field)
    try:
        dist = Distribution(name=filename, digest=sha256)
    except ValidationError:
        raise _refuse(
            f"{filename!r} is not a distribution filename attestations can name."
        ) from None
    seen = set()
    for number, attestation in enumerate(attestations, 1):
        # An unknown predicate type does not verify (pypi-attestations knows
        # the public index's two, PREDICATE_TYPES).
        predicate_type, publisher = _verify_one(attestation, number, configured, dist, model)
        if predicate_type in seen:
            raise _refuse(
                f"Attestation {number} repeats the predicate type {predicate_type}: one "
                "attestation per predicate type."
            )
        seen.add(predicate_type)
    bundle = AttestationBundle(
        publisher=publisher,
        # Rebuilt from what was verified: only the parts the signature covers
        # and the log entry that was checked, nothing the client added around them.
        attestations=[Attestation.from_bundle(item.to_bundle()) for item in attestations],
    )
    provenance = ProvenanceObject(attestation_bundles=[bundle]).model_dump(mode="json")
    return Verified(
        provenance=provenance,
        publisher_kind=model.provider,
        repository=model.email if model.provider == Provider.GOOGLE else publisher.repository,
        workflow=model.workflow,
        environment=model.environment,
    )


# --- Recording, at the upload's commit ---------------------------------------------


def provenance_record(
    *, project: Project, release: Release, file: File, verified: Verified | None, writes
) -> None:
    """In the upload's transaction, after ``file`` is added to ``release``:
    its Provenance row when it came with attestations; otherwise, for the
    release's first file, the continuity check (an event, and the Owners
    mailed after the commit, when the previous release had provenance)."""
    if verified is not None:
        Provenance.objects.create(file=file, **dataclasses.asdict(verified))
        return
    if release.files.count() != 1:
        # Told once per release, when its first file arrives without attestations.
        return
    previous = previous_attested_version(release)
    if previous is None:
        return
    writes.event(
        "project:release:provenance-missing",
        project,
        version=release.version,
        previous_version=previous,
        filename=file.filename,
    )
    version = release.version
    transaction.on_commit(lambda: _mail_owners(project, version, previous))


def _latest_with_files(release: Release) -> list[tuple[int, str, int]]:
    """(pk, version, whether any file is attested) of ``release`` and the project's release
    published before it, the latest first; releases without files are skipped."""
    earlier = Q(created_at__lt=release.created_at) | Q(
        created_at=release.created_at, pk__lte=release.pk
    )
    # EXISTS rather than counts: a project of thousands of releases is read
    # from its newest down until two with files are found, not aggregated whole.
    has_files = Exists(File.objects.filter(release=OuterRef("pk")))
    attested = Exists(Provenance.objects.filter(file__release=OuterRef("pk")))
    return list(
        Release.objects.filter(earlier, has_files, project_id=release.project_id)
        .annotate(attested=attested)
        .order_by("-created_at", "-pk")
        .values_list("pk", "version", "attested")[:2]
    )


def _gap(rows) -> str | None:
    # rows[0] is ``release`` itself: it has files (a caller's precondition).
    if len(rows) < 2 or rows[0][2]:
        return None
    _pk, version, attested = rows[1]
    return version if attested else None


def previous_attested_version(release: Release) -> str | None:
    """The continuity rule: when ``release`` (which has files) has none carrying an
    attestation, the version of the project's release published before it
    (the last one with files) if that one had attested files; else None."""
    return _gap(_latest_with_files(release))


def _owner_addresses(project: Project) -> list[str]:
    owners = Q(
        user__in=Role.objects.filter(project=project, role_name=Role.Name.OWNER).values("user")
    )
    if project.organization_id is not None:
        owners |= Q(
            user__in=OrganizationRole.objects.filter(
                organization_id=project.organization_id, role_name=OrganizationRole.Name.OWNER
            ).values("user")
        )
    rows = Email.objects.filter(owners, primary=True, verified=True, user__is_active=True)
    return sorted(set(rows.values_list("email", flat=True)))


def _mail_owners(project: Project, version: str, previous: str) -> None:
    from django.conf import settings

    context = {
        "project": project,
        "version": version,
        "previous": previous,
        "url": reverse("release", args=[project.normalized_name, version]),
        "security_url": reverse("manage-project-history", args=[project.normalized_name]),
        "site_name": settings.SITE_NAME,
    }
    for address in _owner_addresses(project):
        send_templated_mail(
            subject_template="packages/email/provenance_missing_subject.txt",
            body_template="packages/email/provenance_missing.txt",
            context=context,
            to=address,
            failure=f"Could not mail {address} about {project.name} {version}'s provenance",
        )


# --- What pages show -------------------------------------------------------------------


def provenance_url(normalized_name: str, version: str, filename: str) -> str:
    return reverse("provenance", args=[normalized_name, version, filename])


@dataclass(frozen=True)
class FileProvenance:
    filename: str
    url: str  # the provenance object
    kind: str  # TrustedPublisher.Provider
    repository: str  # GitHub/GitLab: OWNER/NAME; Google: the service account
    workflow: str
    environment: str

    @property
    def repository_url(self) -> str:
        host = REPOSITORY_HOSTS.get(self.kind)
        return f"{host}{self.repository}" if host else ""


@dataclass(frozen=True)
class ReleaseProvenance:
    files: list[FileProvenance]
    # The continuity flag: the previous release's version, when it had
    # provenance and this release has none.
    missing_since: str | None


def release_provenance(release: Release, files) -> ReleaseProvenance:
    """The provenance of ``release``'s ``files`` for its page: one query, and
    one more when some file is attested."""
    if not files:
        return ReleaseProvenance(files=[], missing_since=None)
    rows = _latest_with_files(release)
    if not rows[0][2]:
        return ReleaseProvenance(files=[], missing_since=_gap(rows))
    found = {
        row[0]: row[1:]
        for row in Provenance.objects.filter(file__release=release).values_list(
            "file_id", "publisher_kind", "repository", "workflow", "environment"
        )
    }
    name = release.project.normalized_name
    attested = [
        FileProvenance(
            file.filename, provenance_url(name, release.version, file.filename), *found[file.pk]
        )
        for file in files
        if file.pk in found
    ]
    return ReleaseProvenance(files=attested, missing_since=None)
