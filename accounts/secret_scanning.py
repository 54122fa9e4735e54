"""Secret-scanning revocation: code hosts that find one of our tokens in
public (a pushed commit, a gist) report it here, and the token dies at once.

The report is the one GitHub's secret scanning partner program sends: a JSON
array of ``{"token", "type", "url", "source"}``, signed with ECDSA (P-256,
SHA-256) over the raw body; the headers name the key and carry the base64
signature. Keys are configured (SECRET_SCANNING_PUBLIC_KEYS), never fetched.
"""

import base64
import binascii
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse

from .events import SYSTEM, Actor
from .models import ApiToken, Email
from .services import send_templated_mail
from .tokens import api_token_find, api_token_revoke, token_display_prefix

# Reports list a handful of tokens; a megabyte is far beyond any real one.
MAX_REPORT_BYTES = 1024 * 1024


class ReportError(Exception):
    """The report is refused; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Leak:
    token: str
    type: str
    url: str = ""
    source: str = ""


def scanning_enabled() -> bool:
    return bool(settings.SECRET_SCANNING_PUBLIC_KEYS)


def verify_report_signature(*, body: bytes, key_id: str, signature: str) -> None:
    """ReportError unless ``signature`` (base64 DER ECDSA) signs ``body``
    with the configured key ``key_id``."""
    if not key_id or not signature:
        raise ReportError("Missing Github-Public-Key-Identifier or Github-Public-Key-Signature.")
    pem = settings.SECRET_SCANNING_PUBLIC_KEYS.get(key_id)
    if pem is None:
        raise ReportError("Unknown public key identifier.")
    try:
        raw_signature = base64.b64decode(signature, validate=True)
    except binascii.Error:
        raise ReportError("The signature is not base64.") from None
    key = load_pem_public_key(pem.encode())
    try:
        key.verify(raw_signature, body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ReportError("The signature does not match the report.") from None


def parse_report(body: bytes) -> list[Leak]:
    try:
        data = json.loads(body)
    except ValueError:
        raise ReportError("The report is not valid JSON.") from None
    if not isinstance(data, list):
        raise ReportError("The report must be a JSON array.")
    leaks = []
    for item in data:
        if not isinstance(item, dict):
            raise ReportError("Every report entry must be an object.")
        fields = {name: item.get(name, "") for name in ("token", "type", "url", "source")}
        if not all(isinstance(value, str) for value in fields.values()) or not fields["token"]:
            raise ReportError("Every report entry needs a token and string type, url, source.")
        leaks.append(Leak(**fields))
    return leaks


def owner_address(token: ApiToken) -> str:
    """Where mail about the token goes: the primary address, else the account's."""
    primary = Email.objects.filter(user=token.user, primary=True).first()
    return primary.email if primary is not None else token.user.email


def _notify(token: ApiToken, leak: Leak, tokens_url: str) -> None:
    address = owner_address(token)
    if not address:
        return
    context = {
        "user": token.user,
        "description": token.description,
        "prefix": token_display_prefix(token),
        "url": leak.url,
        "source": leak.source,
        "tokens_url": tokens_url,
    }
    # The token is already dead, which is what matters.
    send_templated_mail(
        subject_template="accounts/email/token_leaked_subject.txt",
        body_template="accounts/email/token_leaked.txt",
        context=context,
        to=address,
        failure=f"Could not mail {address} about leaked token {token.pk}",
    )


def report_leaks(
    leaks: list[Leak], *, actor: Actor = SYSTEM, request: HttpRequest | None = None
) -> list[dict]:
    """Revoke every reported token that is ours and mail its owner (links made
    absolute from ``request``); answer each entry as the partner API expects.
    A token already revoked (a retried report, a duplicate entry) is still a
    true positive but mails nobody."""
    tokens_url = reverse("tokens")
    if request is not None:
        tokens_url = request.build_absolute_uri(tokens_url)
    answers = []
    for leak in leaks:
        token = api_token_find(leak.token)
        if token is not None:
            with transaction.atomic():
                revoked = api_token_revoke(
                    token,
                    actor=actor,
                    leak={"url": leak.url, "source": leak.source},
                )
                if revoked:
                    transaction.on_commit(
                        lambda token=token, leak=leak: _notify(token, leak, tokens_url)
                    )
        answers.append(
            {
                "token_raw": leak.token,
                "token_type": leak.type,
                "label": "true_positive" if token is not None else "false_positive",
            }
        )
    return answers
