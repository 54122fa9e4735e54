"""PEP 740 attestations at upload (packages.attestations), with the real
published files and attestations of the pypi-attestations sdist's test assets
(tests/attestation_assets.py): verified offline against the publisher that
minted the upload's token, kept as the file's provenance and served."""

import base64
import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from pypi_attestations import Distribution
from pypi_attestations import Provenance as ProvenanceObject

from accounts.models import Email, Event
from accounts.tokens import api_token_create
from packages import attestations
from packages.models import File, OIDCIssuer, Project, Provenance, Role, TrustedPublisher
from packages.storage import files_storage
from tests.attestation_assets import (
    EMAIL_WHEEL,
    GITHUB_SDIST,
    GITLAB_SDIST,
    GOOGLE_SDIST,
    assets,
)
from tests.factories import Dist, make_organization, make_sdist, make_wheel, path_of, post_upload

pytestmark = pytest.mark.django_db

Provider = TrustedPublisher.Provider
INTEGRITY = "application/vnd.pypi.integrity.v1+json"


@pytest.fixture(scope="session")
def asset_dir():
    return assets()


def real_dist(asset_dir, filename: str) -> Dist:
    """A file of the assets as twine uploads it (the name and version its filename says)."""
    name, version = filename.split("-")[:2]
    version = version.removesuffix(".tar.gz")
    content = (asset_dir / filename).read_bytes()
    return Dist(
        filename, content, fields={"name": name, "version": version, "metadata_version": "2.1"}
    )


def attestation_of(asset_dir, filename: str, kind: str = "publish") -> dict:
    return json.loads((asset_dir / f"{filename}.{kind}.attestation").read_text())


def provenance_attestation(asset_dir, filename: str) -> tuple[dict, dict]:
    """The attestation and publisher of a ``.provenance`` asset (the Google one
    comes only as the provenance object the public index served)."""
    (bundle,) = json.loads((asset_dir / f"{filename}.provenance").read_text())[
        "attestation_bundles"
    ]
    (attestation,) = bundle["attestations"]
    return attestation, bundle["publisher"]


def make_project(name: str, owner) -> Project:
    project = Project.objects.create(name=name, normalized_name=name.lower().replace("_", "-"))
    Role.objects.create(project=project, user=owner, role_name=Role.Name.OWNER)
    return project


def minted(project, owner, **publisher_fields) -> str:
    """An upload token minted by trusted publishing for a publisher of ``project``."""
    publisher = TrustedPublisher.objects.create(project=project, added_by=owner, **publisher_fields)
    return api_token_create(
        user=owner,
        description=f"Trusted publishing: {publisher.identity}",
        projects=[project],
        expires_at=timezone.now() + timedelta(minutes=15),
        trusted_publisher=publisher,
    ).secret


GITHUB = {
    "provider": Provider.GITHUB,
    "repository": "trailofbits/pypi-attestations",
    "workflow": "release.yml",
}
GITLAB = {
    "provider": Provider.GITLAB,
    "repository": "facutuesca/gitlab-oidc-project",
    "workflow": ".gitlab-ci.yml",
}


@pytest.fixture
def github(owner):
    """pypi-attestations, trusting trailofbits/pypi-attestations' release.yml; its token."""
    project = make_project("pypi-attestations", owner)
    return project, minted(project, owner, **GITHUB, environment="pypi")


def upload(client, dist: Dist, secret: str, attestation_list):
    field = attestation_list if isinstance(attestation_list, str) else json.dumps(attestation_list)
    return post_upload(client, dist, secret, attestations=field)


def refused(response, status: int = 400) -> str:
    assert response.status_code == status, response.content[:500]
    message = response.content.decode().split("\n\n", 1)[1].strip()
    # The message is the reason phrase too: twine prints that.
    assert response.reason_phrase == " ".join(message.split())[:400]
    return message


# --- Accepted, stored, served ------------------------------------------------------------


def test_the_real_attestation_verifies_and_is_served(client, github, asset_dir):
    _project, secret = github
    dist = real_dist(asset_dir, GITHUB_SDIST)
    sent = attestation_of(asset_dir, GITHUB_SDIST)

    response = upload(client, dist, secret, [sent])

    assert response.status_code == 200, response.content
    row = Provenance.objects.get(file__filename=GITHUB_SDIST)
    assert (row.publisher_kind, row.repository, row.workflow, row.environment) == (
        "github",
        "trailofbits/pypi-attestations",
        "release.yml",
        "pypi",
    )
    served = client.get(f"/integrity/pypi-attestations/0.0.19/{GITHUB_SDIST}/provenance")
    assert served.status_code == 200
    assert served["Content-Type"] == INTEGRITY
    assert served["Cache-Control"] == "public, max-age=31536000, immutable"
    assert served["Surrogate-Key"] == "files files-pypi-attestations"
    assert served["Access-Control-Allow-Origin"] == "*"
    body = json.loads(served.content)
    assert body == {
        "version": 1,
        "attestation_bundles": [
            {
                "publisher": {
                    "kind": "GitHub",
                    "repository": "trailofbits/pypi-attestations",
                    "workflow": "release.yml",
                    "environment": "pypi",
                },
                "attestations": [sent],
            }
        ],
    }
    # What a client does with it: the attestation verifies for the file it downloads.
    provenance = ProvenanceObject.model_validate_json(served.content)
    (bundle,) = provenance.attestation_bundles
    file = Distribution(name=GITHUB_SDIST, digest=dist.sha256)
    assert bundle.attestations[0].verify(bundle.publisher, file, offline=True)[0] == (
        "https://docs.pypi.org/attestations/publish/v1"
    )


def test_the_provenance_answers_conditional_and_head_requests(client, github, asset_dir):
    _project, secret = github
    dist = real_dist(asset_dir, GITHUB_SDIST)
    assert (
        upload(client, dist, secret, [attestation_of(asset_dir, GITHUB_SDIST)]).status_code == 200
    )
    url = f"/integrity/pypi-attestations/0.0.19/{GITHUB_SDIST}/provenance"
    full = client.get(url)
    assert full["ETag"] == f'"{dist.sha256}-provenance"'

    again = client.get(url, HTTP_IF_NONE_MATCH=full["ETag"])
    assert again.status_code == 304 and again.content == b""
    assert again["Cache-Control"] == full["Cache-Control"]
    head = client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head["Content-Length"] == str(len(full.content))
    # Any spelling of the name and version finds it, as the file's own pages do.
    assert client.get(
        f"/integrity/PyPI_Attestations/0.0.19.0/{GITHUB_SDIST}/provenance"
    ).content == (full.content)
    assert client.post(url).status_code == 405


def test_both_predicate_types_are_kept(client, github, asset_dir):
    _project, secret = github
    both = [
        attestation_of(asset_dir, GITHUB_SDIST),
        attestation_of(asset_dir, GITHUB_SDIST, "slsa"),
    ]
    assert upload(client, real_dist(asset_dir, GITHUB_SDIST), secret, both).status_code == 200
    (bundle,) = Provenance.objects.get().provenance["attestation_bundles"]
    assert bundle["attestations"] == both


def test_a_gitlab_attestation_verifies_against_its_gitlab_publisher(client, owner, asset_dir):
    project = make_project("gitlab-oidc-project", owner)
    secret = minted(project, owner, **GITLAB)
    dist = real_dist(asset_dir, GITLAB_SDIST)

    response = upload(client, dist, secret, [attestation_of(asset_dir, GITLAB_SDIST)])

    assert response.status_code == 200, response.content
    (bundle,) = Provenance.objects.get().provenance["attestation_bundles"]
    assert bundle["publisher"] == {
        "kind": "GitLab",
        "repository": "facutuesca/gitlab-oidc-project",
        "workflow_filepath": ".gitlab-ci.yml",
        "environment": None,
    }
    page = client.get("/project/gitlab-oidc-project/").content.decode()
    assert (
        'published from <a href="https://gitlab.com/facutuesca/gitlab-oidc-project" '
        'rel="nofollow">facutuesca/gitlab-oidc-project</a>, workflow <code>.gitlab-ci.yml</code>'
    ) in " ".join(page.split())


def test_a_google_cloud_attestation_verifies_against_its_service_account(client, owner, asset_dir):
    attestation, publisher = provenance_attestation(asset_dir, GOOGLE_SDIST)
    project = make_project("gcb-attestation-test", owner)
    secret = minted(project, owner, provider=Provider.GOOGLE, email=publisher["email"])

    response = upload(client, real_dist(asset_dir, GOOGLE_SDIST), secret, [attestation])

    assert response.status_code == 200, response.content
    row = Provenance.objects.get()
    assert row.provenance["attestation_bundles"][0]["publisher"] == publisher
    assert (row.publisher_kind, row.repository) == ("google", publisher["email"])
    page = " ".join(client.get("/project/gcb-attestation-test/").content.decode().split())
    assert f"published from the Google Cloud service account <code>{publisher['email']}</code>" in (
        page
    )


def test_an_identical_reupload_with_attestations_is_already_stored(client, github, asset_dir):
    _project, secret = github
    dist = real_dist(asset_dir, GITHUB_SDIST)
    sent = [attestation_of(asset_dir, GITHUB_SDIST)]
    assert upload(client, dist, secret, sent).status_code == 200
    again = upload(client, dist, secret, sent)
    assert again.status_code == 200 and b"already" in again.content
    assert Provenance.objects.count() == 1


# --- Refused -----------------------------------------------------------------------------


def _tampered_signature(attestation: dict) -> dict:
    signature = bytearray(base64.b64decode(attestation["envelope"]["signature"]))
    signature[-1] ^= 0x01
    changed = json.loads(json.dumps(attestation))
    changed["envelope"]["signature"] = base64.b64encode(bytes(signature)).decode()
    return changed


def test_a_tampered_signature_is_refused_and_nothing_is_stored(client, github, asset_dir):
    _project, secret = github
    dist = real_dist(asset_dir, GITHUB_SDIST)
    tampered = _tampered_signature(attestation_of(asset_dir, GITHUB_SDIST))

    message = refused(upload(client, dist, secret, [tampered]))

    assert message.startswith(
        f"Attestation 1 does not verify for {GITHUB_SDIST} and the publisher GitHub Actions "
        "trailofbits/pypi-attestations release.yml (environment pypi): Verification failed:"
    ), message
    assert not File.objects.exists() and not Provenance.objects.exists()
    assert not files_storage().exists(path_of(dist))


def test_an_attestation_of_other_bytes_is_refused(client, github, asset_dir):
    _project, secret = github
    # The same filename, other bytes: the signed statement names the real file's digest.
    other = make_sdist("pypi-attestations", "0.0.19")
    assert other.filename == GITHUB_SDIST

    message = refused(upload(client, other, secret, [attestation_of(asset_dir, GITHUB_SDIST)]))

    assert message.endswith("Verification failed: subject does not match distribution digest")
    assert not File.objects.exists()


def test_an_attestation_of_another_file_is_refused(client, github, asset_dir):
    _project, secret = github
    # Its own bytes and digest, but the statement names another file.
    attestation = attestation_of(asset_dir, GITHUB_SDIST)
    renamed = make_sdist("pypi-attestations", "0.0.20")
    renamed.content = (asset_dir / GITHUB_SDIST).read_bytes()
    message = refused(post_upload(client, renamed, secret, attestations=json.dumps([attestation])))
    assert "does not verify" in message and "subject does not match distribution" in message


def test_an_e_mail_identity_is_refused(client, owner, asset_dir):
    project = make_project("rfc8785", owner)
    secret = minted(
        project,
        owner,
        provider=Provider.GITHUB,
        repository="trailofbits/rfc8785.py",
        workflow="release.yml",
    )

    message = refused(
        upload(
            client,
            real_dist(asset_dir, EMAIL_WHEEL),
            secret,
            [attestation_of(asset_dir, EMAIL_WHEEL)],
        )
    )

    assert message == (
        "Attestation 1 is signed by an identity of https://github.com/login/oauth, not by the "
        "trusted publisher that minted this upload's token (GitHub Actions "
        "trailofbits/rfc8785.py release.yml)."
    )


def test_another_repositorys_attestation_is_refused(client, owner, asset_dir):
    project = make_project("pypi-attestations", owner)
    secret = minted(project, owner, **{**GITHUB, "repository": "mallory/pypi-attestations"})
    message = refused(
        upload(
            client,
            real_dist(asset_dir, GITHUB_SDIST),
            secret,
            [attestation_of(asset_dir, GITHUB_SDIST)],
        )
    )
    assert "Certificate's OIDCSourceRepositoryURI does not match (got " in message
    assert "https://github.com/trailofbits/pypi-attestations, expected " in message


def test_another_workflows_attestation_is_refused(client, owner, asset_dir):
    project = make_project("pypi-attestations", owner)
    secret = minted(project, owner, **{**GITHUB, "workflow": "other.yml"})
    message = refused(
        upload(
            client,
            real_dist(asset_dir, GITHUB_SDIST),
            secret,
            [attestation_of(asset_dir, GITHUB_SDIST)],
        )
    )
    assert (
        "does not match expected Trusted Publisher (other.yml @ trailofbits/pypi-attestations)"
        in message
    )


def test_a_gitlab_attestation_is_not_a_github_publishers(client, github, asset_dir):
    _project, secret = github
    message = refused(
        upload(
            client,
            real_dist(asset_dir, GITHUB_SDIST),
            secret,
            [attestation_of(asset_dir, GITLAB_SDIST)],
        )
    )
    assert message.startswith(
        "Attestation 1 is signed by an identity of https://gitlab.com, not by"
    )


def test_attestations_need_trusted_publishing(client, owner, asset_dir):
    make_project("pypi-attestations", owner)
    secret = api_token_create(user=owner, description="laptop").secret
    message = refused(
        upload(
            client,
            real_dist(asset_dir, GITHUB_SDIST),
            secret,
            [attestation_of(asset_dir, GITHUB_SDIST)],
        )
    )
    assert message.startswith("Attestations are only supported when using Trusted Publishing")
    assert not File.objects.exists()


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"issuer_url": "https://gitlab.example.com", **GITLAB}, "on https://gitlab.example.com"),
        ({"provider": Provider.CUSTOM, "claims": {"sub": "job"}}, "sub"),
    ],
)
def test_publishers_sigstore_does_not_certify_are_refused(client, owner, asset_dir, fields, named):
    if fields["provider"] == Provider.CUSTOM:
        fields["custom_issuer"] = OIDCIssuer.objects.create(
            name="ci", issuer_url="https://ci.example.com", jwks_url="https://ci.example.com/jwks"
        )
    else:
        OIDCIssuer.objects.create(
            name="gl", issuer_url=fields["issuer_url"], jwks_url=f"{fields['issuer_url']}/jwks"
        )
    project = make_project("pypi-attestations", owner)
    secret = minted(project, owner, **fields)
    message = refused(
        upload(
            client,
            real_dist(asset_dir, GITHUB_SDIST),
            secret,
            [attestation_of(asset_dir, GITHUB_SDIST)],
        )
    )
    assert message.startswith("Attestations can't be verified for the publisher ")
    assert f"the publisher {TrustedPublisher.objects.get().identity}: only" in message
    assert named in message
    assert message.endswith(
        "only GitHub Actions, gitlab.com and Google Cloud publishers can attest. Upload without "
        "attestations."
    )


def test_a_repeated_predicate_type_is_refused(client, github, asset_dir):
    _project, secret = github
    same = attestation_of(asset_dir, GITHUB_SDIST)
    message = refused(upload(client, real_dist(asset_dir, GITHUB_SDIST), secret, [same, same]))
    assert message == (
        "Attestation 2 repeats the predicate type https://docs.pypi.org/attestations/publish/v1: "
        "one attestation per predicate type."
    )


def _with(attestation: dict, path: str, value) -> dict:
    changed = json.loads(json.dumps(attestation))
    *parents, last = path.split(".")
    target = changed
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    return changed


def _junk_cases():
    # (what is sent, given the real attestation) -> the start of the message.
    return [
        (lambda a: "not json", "The attestations field is not valid JSON: Expecting value"),
        (lambda a: "[" * 100_000, "The attestations field is not valid JSON:"),
        (lambda a: "{}", "The attestations field must be a non-empty JSON list"),
        (lambda a: "[]", "The attestations field must be a non-empty JSON list"),
        (lambda a: '"\\u0000"', "The attestations field must be a non-empty JSON list"),
        (lambda a: [a, a, a], "Too many attestations (3): at most 2, one per predicate type."),
        (lambda a: " " * (attestations.MAX_FIELD_CHARS + 1), "The attestations field is too large"),
        (lambda a: [1], "Attestation 1 is malformed: the attestation: Input should be a valid"),
        (lambda a: [{"version": 2}], "Attestation 1 is malformed: version: Input should be 1."),
        (lambda a: [_with(a, "version", "1\x00")], "Attestation 1 is malformed: version:"),
        (
            # Decoded leniently to nothing, which sigstore's envelope refuses unwrapped.
            lambda a: [_with(a, "envelope.signature", "%%%")],
            "Attestation 1 could not be verified: InvalidEnvelope: envelope signature must be "
            "non-empty",
        ),
        (
            lambda a: [_with(a, "envelope.signature", "A")],
            "Attestation 1 is malformed: envelope.signature: Base64 decoding error",
        ),
        (
            lambda a: [_with(a, "verification_material.transparency_entries", [])],
            "Attestation 1 is malformed: verification_material.transparency_entries: List should",
        ),
        (
            lambda a: [_with(a, "verification_material.certificate", "AAAA")],
            "Attestation 1 has no valid signing certificate:",
        ),
        (
            lambda a: [_with(a, "verification_material.transparency_entries.0", {"x": "\x00"})],
            "Attestation 1 does not verify for",
        ),
        (
            lambda a: [_with(a, "envelope.statement", base64.b64encode(b"\x00" * 9).decode())],
            "Attestation 1 does not verify for",
        ),
    ]


@pytest.mark.parametrize(("make", "start"), _junk_cases())
def test_junk_is_refused_with_a_message(client, github, asset_dir, make, start):
    _project, secret = github
    field = make(attestation_of(asset_dir, GITHUB_SDIST))
    message = refused(upload(client, real_dist(asset_dir, GITHUB_SDIST), secret, field))
    assert message.startswith(start), message
    assert not File.objects.exists()


def test_a_filename_attestations_cannot_name(github, asset_dir):
    # The upload's own filename rules come first; the service refuses on its own too.
    token = TrustedPublisher.objects.get().tokens.get()
    with pytest.raises(attestations.UploadError, match="not a distribution filename"):
        attestations.verify_upload(
            field=json.dumps([attestation_of(asset_dir, GITHUB_SDIST)]),
            token=token,
            filename="pypi_attestations-0.0.19.egg",
            sha256="0" * 64,
        )


def test_without_the_field_there_is_nothing_to_verify(client, github, asset_dir):
    _project, secret = github
    assert post_upload(client, real_dist(asset_dir, GITHUB_SDIST), secret).status_code == 200
    assert not Provenance.objects.exists()
    assert (
        client.get(f"/integrity/pypi-attestations/0.0.19/{GITHUB_SDIST}/provenance").status_code
        == 404
    )


def test_an_unreadable_trust_root_is_a_503_not_the_uploaders_fault(
    client, github, asset_dir, tmp_path, monkeypatch
):
    _project, secret = github
    # sigstore keeps its trust root under the user's cache directory: make it
    # a path no directory can be made at.
    (tmp_path / "not-a-directory").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-directory"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "not-a-directory"))
    response = upload(
        client,
        real_dist(asset_dir, GITHUB_SDIST),
        secret,
        [attestation_of(asset_dir, GITHUB_SDIST)],
    )
    message = refused(response, 503)
    assert message.startswith("Attestations can't be verified right now (")
    assert message.endswith("); try again later.")
    assert not File.objects.exists()


# --- The simple API ----------------------------------------------------------------------


def _attested_project(client, github, asset_dir) -> str:
    """pypi-attestations with the attested 0.0.19 sdist and an unattested wheel;
    the provenance URL of the sdist."""
    _project, secret = github
    dist = real_dist(asset_dir, GITHUB_SDIST)
    assert (
        upload(client, dist, secret, [attestation_of(asset_dir, GITHUB_SDIST)]).status_code == 200
    )
    assert post_upload(client, make_wheel("pypi-attestations", "0.0.19"), secret).status_code == 200
    return f"/integrity/pypi-attestations/0.0.19/{GITHUB_SDIST}/provenance"


def test_the_simple_json_links_each_files_provenance_or_null(client, github, asset_dir):
    url = _attested_project(client, github, asset_dir)
    response = client.get(
        "/simple/pypi-attestations/", HTTP_ACCEPT="application/vnd.pypi.simple.v1+json"
    )
    files = {entry["filename"]: entry for entry in response.json()["files"]}
    assert files[GITHUB_SDIST]["provenance"] == url
    assert files["pypi_attestations-0.0.19-py3-none-any.whl"]["provenance"] is None
    assert client.get(url).status_code == 200


def test_the_simple_html_links_each_files_provenance(client, github, asset_dir):
    url = _attested_project(client, github, asset_dir)
    page = client.get("/simple/pypi-attestations/", HTTP_ACCEPT="text/html").content.decode()
    (sdist_line,) = [line for line in page.splitlines() if f">{GITHUB_SDIST}<" in line]
    assert f' data-provenance="{url}">' in sdist_line
    (wheel_line,) = [line for line in page.splitlines() if ".whl<" in line]
    assert "data-provenance" not in wheel_line


def test_provenance_costs_the_simple_page_no_query(
    client, github, asset_dir, django_assert_num_queries
):
    from packages import simple

    _attested_project(client, github, asset_dir)
    # The listing reads the project, its releases and its files, with or
    # without provenance on them.
    with django_assert_num_queries(3):
        listing = simple.project_listing("pypi-attestations")
    assert [link.provenance is not None for link in listing.files] == [False, True]


# --- Pages, and provenance continuity ----------------------------------------------------


def test_the_release_page_says_where_each_file_was_published_from(client, github, asset_dir):
    url = _attested_project(client, github, asset_dir)
    page = " ".join(client.get("/project/pypi-attestations/0.0.19/").content.decode().split())
    assert (
        f'<code>{GITHUB_SDIST}</code>: published from <a href="https://github.com/trailofbits/'
        'pypi-attestations" rel="nofollow">trailofbits/pypi-attestations</a>, workflow '
        "<code>release.yml</code>, environment <code>pypi</code> "
        f'(<a href="{url}" type="application/vnd.pypi.integrity.v1+json">provenance</a>)'
    ) in page
    assert "pypi_attestations-0.0.19-py3-none-any.whl</code>: published" not in page
    assert "no provenance" not in page


def _mail_owner(user) -> str:
    address = f"{user.username}@example.com"
    Email.objects.filter(user=user).update(primary=False)
    Email.objects.update_or_create(
        user=user, email=address, defaults={"primary": True, "verified": True}
    )
    return address


def test_a_release_without_the_provenance_its_predecessor_had_is_flagged(
    client, github, asset_dir, owner, outsider, django_capture_on_commit_callbacks
):
    project, _secret = github
    address = _mail_owner(owner)
    _mail_owner(outsider)  # no role: not told
    _attested_project(client, github, asset_dir)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        # The next release, from a long-lived token, without attestations.
        laptop = api_token_create(user=owner, description="laptop").secret
        assert (
            post_upload(client, make_wheel("pypi-attestations", "0.0.20"), laptop).status_code
            == 200
        )

    (event,) = Event.objects.filter(tag="project:release:provenance-missing")
    assert event.project == project
    assert event.description == (
        "Release published without the provenance (attestations) its predecessor had"
    )
    assert event.details == {
        "version": "0.0.20",
        "previous_version": "0.0.19",
        "filename": "pypi_attestations-0.0.20-py3-none-any.whl",
    }
    (message,) = mail.outbox
    assert message.to == [address]
    assert message.subject == "pypi-attestations 0.0.20 was published without provenance"
    assert "the previous release, 0.0.19, was published with them" in " ".join(message.body.split())
    assert "/project/pypi-attestations/0.0.20/" in message.body
    assert "/manage/project/pypi-attestations/history/" in message.body
    for url in ("/project/pypi-attestations/", "/project/pypi-attestations/0.0.20/"):
        page = " ".join(client.get(url).content.decode().split())
        assert "This release has no provenance, though 0.0.19 had." in page, url
    older = " ".join(client.get("/project/pypi-attestations/0.0.19/").content.decode().split())
    assert "no provenance" not in older

    # Told once per release: its next file adds nothing.
    with django_capture_on_commit_callbacks(execute=True):
        sdist = make_sdist("pypi-attestations", "0.0.20")
        assert post_upload(client, sdist, laptop).status_code == 200
    assert Event.objects.filter(tag="project:release:provenance-missing").count() == 1
    assert len(mail.outbox) == 1


def test_an_organizations_owners_are_told_too(
    client, github, asset_dir, owner, outsider, django_capture_on_commit_callbacks
):
    project, _secret = github
    organization = make_organization("acme", owners=[outsider])
    Project.objects.filter(pk=project.pk).update(organization=organization)
    addresses = {_mail_owner(owner), _mail_owner(outsider)}
    _attested_project(client, github, asset_dir)
    mail.outbox.clear()
    laptop = api_token_create(user=owner, description="laptop").secret
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            post_upload(client, make_wheel("pypi-attestations", "1.0"), laptop).status_code == 200
        )
    assert {message.to[0] for message in mail.outbox} == addresses


def test_no_flag_when_the_previous_release_had_no_provenance_either(
    client, project, token, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for version in ("1.0", "1.1"):
            assert (
                post_upload(client, make_wheel("sample-project", version), token).status_code == 200
            )
    assert not Event.objects.filter(tag="project:release:provenance-missing").exists()
    assert not mail.outbox
    page = client.get("/project/sample-project/").content.decode()
    assert "no provenance" not in page and "Provenance" not in page


def test_a_first_release_and_an_empty_one_are_never_flagged(client, project, token):
    from tests.factories import make_release

    assert post_upload(client, make_wheel("sample-project", "1.0"), token).status_code == 200
    make_release(project, "2.0")  # no file yet
    assert "no provenance" not in client.get("/project/sample-project/2.0/").content.decode()
    assert not Event.objects.filter(tag="project:release:provenance-missing").exists()


# --- The provenance URL's refusals -------------------------------------------------------


def test_a_quarantined_projects_provenance_is_not_served(client, github, asset_dir):
    project, _secret = github
    url = _attested_project(client, github, asset_dir)
    Project.objects.filter(pk=project.pk).update(quarantined_at=timezone.now())
    response = client.get(url)
    assert response.status_code == 404
    assert response.json() == {
        "message": f"No provenance for {GITHUB_SDIST} of pypi-attestations 0.0.19: the file "
        "does not exist here, or was uploaded without attestations."
    }
    assert response["Surrogate-Key"] == "project-pypi-attestations files-pypi-attestations"


@pytest.mark.parametrize(
    "path",
    [
        "pypi-attestations/0.0.19/pypi_attestations-0.0.19-py3-none-any.whl",  # no attestation
        "pypi-attestations/0.0.20/" + GITHUB_SDIST,  # another release's
        "other/0.0.19/" + GITHUB_SDIST,  # another project's
        "pypi-attestations/0.0.19/nothing-1.0.tar.gz",
    ],
)
def test_no_provenance_is_a_404_with_a_message(client, github, asset_dir, path):
    _attested_project(client, github, asset_dir)
    response = client.get(f"/integrity/{path}/provenance")
    assert response.status_code == 404
    assert response.json()["message"].startswith("No provenance for ")


# --- Whatever the input, a 400 with a message --------------------------------------------


def _mutations(attestation: dict, rng) -> dict | list | str:
    """The real attestation with one part replaced by junk of some kind."""
    junk = [
        None,
        0,
        -1,
        2**70,
        1.5,
        True,
        "",
        "\x00" * rng.randint(1, 50),
        "A" * rng.randint(1, 5000),
        base64.b64encode(rng.randbytes(rng.randint(0, 600))).decode(),
        [],
        {},
        [[[[{}]]]],
        {"\x00": "\x00"},
    ]
    paths = [
        "version",
        "verification_material",
        "verification_material.certificate",
        "verification_material.transparency_entries",
        "verification_material.transparency_entries.0",
        "verification_material.transparency_entries.0.logIndex",
        "verification_material.transparency_entries.0.kindVersion",
        "verification_material.transparency_entries.0.inclusionProof",
        "verification_material.transparency_entries.0.canonicalizedBody",
        "verification_material.transparency_entries.0.logId",
        "envelope",
        "envelope.statement",
        "envelope.signature",
    ]
    choice = rng.random()
    if choice < 0.1:
        return rng.choice(junk)
    if choice < 0.2:
        # The certificate's DER with bytes flipped: a parse of made-up ASN.1.
        der = bytearray(base64.b64decode(attestation["verification_material"]["certificate"]))
        for _ in range(rng.randint(1, 8)):
            der[rng.randrange(len(der))] = rng.randrange(256)
        return [
            _with(
                attestation,
                "verification_material.certificate",
                base64.b64encode(bytes(der)).decode(),
            )
        ]
    path = rng.choice(paths)
    try:
        return [_with(attestation, path, rng.choice(junk))]
    except (KeyError, IndexError, TypeError):
        return [rng.choice(junk)]


def test_fuzzed_attestations_are_refused_with_a_message_never_an_error(github, asset_dir):
    import random

    _project, _secret = github
    token = TrustedPublisher.objects.get().tokens.get()
    real = attestation_of(asset_dir, GITHUB_SDIST)
    sha256 = Distribution.from_file(asset_dir / GITHUB_SDIST).digest
    rng = random.Random(740)  # noqa: S311 (a fixed sequence of test inputs)
    for _ in range(300):
        sent = _mutations(real, rng)
        field = sent if isinstance(sent, str) else json.dumps(sent)
        try:
            verified = attestations.verify_upload(
                field=field, token=token, filename=GITHUB_SDIST, sha256=sha256
            )
        except attestations.UploadError as refused:
            assert refused.status == 400, (sent, refused.message)
            assert refused.message.strip(), sent
            continue
        # Accepted only when the junk changed nothing that counts (a `true` read
        # as the version 1): what is kept is then the attestation as signed.
        assert verified.provenance["attestation_bundles"][0]["attestations"] == [real], sent


def test_a_publisher_spelt_in_another_case_verifies_as_the_certificate_spells_it(
    client, owner, asset_dir
):
    # The token exchange matches GitHub names without case; so does this.
    project = make_project("pypi-attestations", owner)
    secret = minted(project, owner, **{**GITHUB, "repository": "TrailOfBits/PyPI-Attestations"})
    sent = attestation_of(asset_dir, GITHUB_SDIST)
    assert upload(client, real_dist(asset_dir, GITHUB_SDIST), secret, [sent]).status_code == 200
    row = Provenance.objects.get()
    assert row.repository == "trailofbits/pypi-attestations"
    publisher = row.provenance["attestation_bundles"][0]["publisher"]
    assert publisher["repository"] == "trailofbits/pypi-attestations"


def test_the_predicate_types_are_the_libraries():
    # Written out in packages.attestations, so that pages need not import it.
    from pypi_attestations import AttestationType

    assert {kind.value for kind in AttestationType} == attestations.PREDICATE_TYPES
