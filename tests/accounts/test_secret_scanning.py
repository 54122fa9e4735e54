"""Secret-scanning reports, signed for real with a key made in the test."""

import base64
import io
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from accounts import secret_scanning, services
from accounts.models import ApiToken, Email, Event
from accounts.tokens import TokenError, api_token_create
from accounts.views.secret_scanning import disclose_token
from common.env import secret_scanning_public_keys
from packages.policy import upload_token
from tests.factories import make_wheel, post_upload

pytestmark = pytest.mark.django_db

URL = "/_/secrets/disclose-token/"
KEY_ID = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a"


def pem_of(public_key) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.fixture(scope="module")
def private_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(autouse=True)
def _keys(settings, private_key):
    settings.SECRET_SCANNING_PUBLIC_KEYS = {KEY_ID: pem_of(private_key.public_key())}


def sign(body: bytes, key) -> str:
    return base64.b64encode(key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()


def report(client, entries, private_key, *, key_id=KEY_ID, signature=None, body=None):
    body = json.dumps(entries).encode() if body is None else body
    headers = {}
    if key_id is not None:
        headers["Github-Public-Key-Identifier"] = key_id
    signature = sign(body, private_key) if signature is None else signature
    if signature:
        headers["Github-Public-Key-Signature"] = signature
    return client.post(URL, body, content_type="application/json", headers=headers)


def entry(token: str, url: str = "https://github.com/o/r/blob/abc/ci.yml") -> dict:
    return {"token": token, "type": "pypi_api_token", "url": url, "source": "content"}


def test_url_has_its_name():
    assert reverse("secrets-disclose-token") == URL


def test_valid_report_revokes_and_mails(
    client, owner, private_key, mailoutbox, django_capture_on_commit_callbacks
):
    Email.objects.create(user=owner, email="olivia@work.example", primary=True, verified=True)
    minted = api_token_create(user=owner, description="ci for sample")
    with django_capture_on_commit_callbacks(execute=True):
        response = report(client, [entry(minted.secret)], private_key)
    assert response.status_code == 200
    assert response.json() == [
        {"token_raw": minted.secret, "token_type": "pypi_api_token", "label": "true_positive"}
    ]
    with pytest.raises(TokenError, match="revoked"):
        upload_token(minted.secret)
    event = Event.objects.get(tag="account:token:leaked")
    assert event.user == owner and event.actor is None
    assert event.details["url"] == "https://github.com/o/r/blob/abc/ci.yml"
    assert event.details["source"] == "content"
    (mail,) = mailoutbox
    assert mail.to == ["olivia@work.example"]  # the primary address
    assert "ci for sample" in mail.subject and "\n" not in mail.subject
    assert f"pypi-{minted.token.lookup_id}" in mail.body
    assert "https://github.com/o/r/blob/abc/ci.yml" in mail.body
    assert "revoked" in mail.body
    assert "http://testserver/manage/account/tokens/" in mail.body
    assert minted.secret not in mail.body


def test_mail_falls_back_to_the_account_address(
    client, owner, private_key, mailoutbox, django_capture_on_commit_callbacks
):
    minted = api_token_create(user=owner)
    with django_capture_on_commit_callbacks(execute=True):
        report(client, [{"token": minted.secret, "type": "pypi_api_token"}], private_key)
    (mail,) = mailoutbox
    assert mail.to == ["olivia@example.com"]
    assert "(the reporter did not say)" in mail.body


def test_no_address_no_mail(
    client, owner, private_key, mailoutbox, django_capture_on_commit_callbacks
):
    owner.email = ""
    owner.save()
    minted = api_token_create(user=owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = report(client, [entry(minted.secret)], private_key)
    assert response.json()[0]["label"] == "true_positive"
    assert ApiToken.objects.get().revoked_at is not None
    assert mailoutbox == []


def test_mail_failure_still_revokes(
    client, owner, private_key, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broken(*args, **kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr(services.EmailMultiAlternatives, "send", broken)
    minted = api_token_create(user=owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = report(client, [entry(minted.secret)], private_key)
    assert response.status_code == 200
    assert ApiToken.objects.get().revoked_at is not None
    assert "Could not mail olivia@example.com" in caplog.text


def test_repeated_report_is_idempotent(
    client, owner, private_key, mailoutbox, django_capture_on_commit_callbacks
):
    minted = api_token_create(user=owner)
    with django_capture_on_commit_callbacks(execute=True):
        report(client, [entry(minted.secret), entry(minted.secret)], private_key)
    first_revoked_at = ApiToken.objects.get().revoked_at
    with django_capture_on_commit_callbacks(execute=True):
        response = report(client, [entry(minted.secret)], private_key)
    assert response.json()[0]["label"] == "true_positive"
    assert ApiToken.objects.get().revoked_at == first_revoked_at
    assert len(mailoutbox) == 1
    assert Event.objects.filter(tag="account:token:leaked").count() == 1


def test_tokens_not_ours_are_false_positives_and_others_untouched(
    client, owner, outsider, private_key, mailoutbox, django_capture_on_commit_callbacks
):
    mine = api_token_create(user=owner)
    theirs = api_token_create(user=outsider)
    wrong_secret = f"pypi-{theirs.token.lookup_id}_{'A' * 43}"
    entries = [entry(mine.secret), entry(wrong_secret), entry("pypi-nonsense"), entry("ghp_x")]
    with django_capture_on_commit_callbacks(execute=True):
        response = report(client, entries, private_key)
    assert [answer["label"] for answer in response.json()] == [
        "true_positive",
        "false_positive",
        "false_positive",
        "false_positive",
    ]
    assert [answer["token_raw"] for answer in response.json()] == [e["token"] for e in entries]
    assert upload_token(theirs.secret) == theirs.token
    assert [mail.to for mail in mailoutbox] == [["olivia@example.com"]]


def test_revoked_token_can_no_longer_upload(client, owner, project, private_key):
    minted = api_token_create(user=owner)
    report(client, [entry(minted.secret)], private_key)
    response = post_upload(client, make_wheel("sample-project", "1.0"), minted.secret)
    assert response.status_code == 403
    assert "revoked" in response.reason_phrase


def test_empty_report_answers_empty(client, private_key):
    response = report(client, [], private_key)
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize(
    "key_id, signature, message",
    [
        (None, None, "Missing Github-Public-Key-Identifier"),
        (KEY_ID, "", "Missing Github-Public-Key-Identifier"),
        ("someone-else", None, "Unknown public key identifier"),
        (KEY_ID, "not base64!", "not base64"),
        (KEY_ID, base64.b64encode(b"garbage").decode(), "does not match"),
    ],
)
def test_unsigned_or_badly_signed_reports_are_refused(
    client, owner, private_key, key_id, signature, message
):
    minted = api_token_create(user=owner)
    response = report(
        client, [entry(minted.secret)], private_key, key_id=key_id, signature=signature
    )
    assert response.status_code == 400
    assert message in response.reason_phrase
    assert upload_token(minted.secret) == minted.token


def test_signature_by_another_key_is_refused(client, owner, private_key):
    minted = api_token_create(user=owner)
    body = json.dumps([entry(minted.secret)]).encode()
    stranger = ec.generate_private_key(ec.SECP256R1())
    response = report(client, None, private_key, body=body, signature=sign(body, stranger))
    assert response.status_code == 400
    assert upload_token(minted.secret) == minted.token


def test_signature_over_another_body_is_refused(client, owner, private_key):
    minted = api_token_create(user=owner)
    signed_body = json.dumps([]).encode()
    body = json.dumps([entry(minted.secret)]).encode()
    response = report(
        client, None, private_key, body=body, signature=sign(signed_body, private_key)
    )
    assert response.status_code == 400
    assert upload_token(minted.secret) == minted.token


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{not json", "not valid JSON"),
        (b'{"token": "x"}', "must be a JSON array"),
        (b'["pypi-x"]', "must be an object"),
        (b'[{"type": "pypi_api_token"}]', "needs a token"),
        (b'[{"token": "pypi-x", "type": 3}]', "needs a token"),
    ],
)
def test_garbage_is_refused(client, private_key, body, message):
    response = report(client, None, private_key, body=body)
    assert response.status_code == 400
    assert message in response.reason_phrase


def test_too_large_report_is_refused(client, private_key):
    body = b"[" + b" " * secret_scanning.MAX_REPORT_BYTES + b"]"
    response = report(client, None, private_key, body=body)
    assert response.status_code == 413


def test_too_large_report_without_a_length_is_refused(private_key, rf):
    body = b"[" + b" " * secret_scanning.MAX_REPORT_BYTES + b"]"
    request = rf.post(URL, body, content_type="application/json")
    # A chunked body declares no length: only what is read can be limited.
    del request.META["CONTENT_LENGTH"]
    request._stream = io.BytesIO(body)
    assert disclose_token(request).status_code == 413


def test_invalid_content_length_is_refused(private_key, rf):
    request = rf.post(URL, b"[]", content_type="application/json")
    request.META["CONTENT_LENGTH"] = "lots"
    assert disclose_token(request).status_code == 400


def test_only_post(client):
    assert client.get(URL).status_code == 405


def test_no_keys_configured_means_off(client, settings, owner, private_key):
    settings.SECRET_SCANNING_PUBLIC_KEYS = {}
    minted = api_token_create(user=owner)
    response = report(client, [entry(minted.secret)], private_key)
    assert response.status_code == 404
    assert upload_token(minted.secret) == minted.token


def test_csrf_is_not_required(owner, private_key):
    client = Client(enforce_csrf_checks=True)
    minted = api_token_create(user=owner)
    assert report(client, [entry(minted.secret)], private_key).status_code == 200


# --- The setting ---------------------------------------------------------------------


def test_setting_empty_is_off():
    assert secret_scanning_public_keys("  ") == {}


def test_setting_accepts_a_mapping_inline_and_from_a_file(private_key, tmp_path):
    mapping = {KEY_ID: pem_of(private_key.public_key())}
    assert secret_scanning_public_keys(json.dumps(mapping)) == mapping
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(mapping))
    assert secret_scanning_public_keys(str(path)) == mapping


def test_setting_accepts_githubs_published_document(private_key, tmp_path):
    pem = pem_of(private_key.public_key())
    document = {"public_keys": [{"key_identifier": KEY_ID, "key": pem, "is_current": True}]}
    path = tmp_path / "github.json"
    path.write_text(json.dumps(document))
    assert secret_scanning_public_keys(str(path)) == {KEY_ID: pem}


@pytest.mark.parametrize(
    "value, message",
    [
        ("/nonexistent/keys.json", "cannot read"),
        ("{nope", "not valid JSON"),
        ('{"public_keys": [{"key": "x"}]}', "needs key_identifier and key"),
        ('{"public_keys": ["x"]}', "needs key_identifier and key"),
        ('{"id": 1}', "must map key identifiers"),
        ('{"id": "not a pem"}', "is not a PEM public key"),
    ],
)
def test_setting_refuses_malformed_values(value, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        secret_scanning_public_keys(value)


def test_setting_refuses_a_json_array(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text("[]")
    with pytest.raises(ImproperlyConfigured, match="must map key identifiers"):
        secret_scanning_public_keys(str(path))


def test_setting_refuses_non_ecdsa_keys():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(ImproperlyConfigured, match="not an ECDSA key"):
        secret_scanning_public_keys(json.dumps({"id": pem_of(rsa_key.public_key())}))


def test_service_without_a_request_links_the_tokens_page_by_path(
    owner, mailoutbox, django_capture_on_commit_callbacks
):
    minted = api_token_create(user=owner)
    leak = secret_scanning.Leak(token=minted.secret, type="pypi_api_token")
    with django_capture_on_commit_callbacks(execute=True):
        answers = secret_scanning.report_leaks([leak])
    assert answers[0]["label"] == "true_positive"
    assert Event.objects.get(tag="account:token:leaked").ip_address is None
    assert "\n/manage/account/tokens/\n" in mailoutbox[0].body
