"""``/_/oidc/...``: the trusted-publishing exchange, in the public index's
shapes, so uv, twine and the publishing action use it unchanged."""

import hashlib
import json

from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.events import Actor
from common.client_address import client_address
from common.ratelimit import client_network, limit, try_again

from ..trusted_publishing import TrustedPublishingError, audience, burn_token, mint_token


def _refused(code: str, description: str) -> JsonResponse:
    return JsonResponse(
        {"message": "Token request failed", "errors": [{"code": code, "description": description}]},
        status=422,
    )


def _token_from_body(request) -> str:
    try:
        body = json.loads(request.body)
    except ValueError:
        raise TrustedPublishingError("invalid-payload", "malformed JSON body") from None
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise TrustedPublishingError("invalid-payload", "the body has no 'token' string")
    return token


@require_GET
def oidc_audience(request):
    return JsonResponse({"audience": audience()})


@csrf_exempt
@require_POST
def oidc_mint_token(request):
    # Each refused exchange may cost a JWKS fetch and a signature check: an
    # address sending junk stops here for a while; working CI jobs don't fail.
    failures, ip = limit("oidc-mint-failure"), client_network(client_address(request))
    retry_after = failures.exceeded(ip)
    if retry_after is not None:
        response = _refused(
            "rate-limited",
            f"Too many refused token requests from this address. {try_again(retry_after)}",
        )
        response.status_code = 429
        response["Retry-After"] = str(retry_after)
        return response
    try:
        minted = mint_token(_token_from_body(request), actor=Actor.from_request(request))
    except TrustedPublishingError as exc:
        failures.hit(ip)
        return _refused(exc.code, exc.description)
    return JsonResponse(
        {
            "success": True,
            "token": minted.secret,
            "expires": int(minted.token.expires_at.timestamp()),
        }
    )


@csrf_exempt
@require_POST
def oidc_burn_token(request):
    try:
        burn_token(_token_from_body(request), actor=Actor.from_request(request))
    except TrustedPublishingError as exc:
        return _refused(exc.code, exc.description)
    return JsonResponse({"success": True})


PYTP_TYPE = "application/vnd.pypi.pytp.v1+json"


def _discovery_keys() -> set[str]:
    path = reverse("upload")
    # PEP 807 says the key is the SHA-256 of the upload URL's path, but its
    # worked example hashed it with the newline `shasum <<<` adds: both work.
    return {hashlib.sha256(text.encode()).hexdigest() for text in (path, path + "\n")}


@require_GET
def pytp_discovery(request, key: str):
    """PEP 807 (draft) discovery: where a client given this index's upload URL
    finds the audience and mint-token endpoints."""
    if not (request.accepts(PYTP_TYPE) or request.accepts("application/json")):
        return _refused_discovery()
    if key not in _discovery_keys():
        # The PEP: a key for an upload URL we don't serve is a bare 404.
        return HttpResponse(status=404)
    body = {
        "audience-endpoint": request.build_absolute_uri(reverse("oidc-audience")),
        "mint-token-endpoint": request.build_absolute_uri(reverse("oidc-mint-token")),
    }
    return JsonResponse(body, content_type=PYTP_TYPE)


def _refused_discovery() -> JsonResponse:
    error = {"code": "not-acceptable", "description": f"Only {PYTP_TYPE} is served here."}
    return JsonResponse({"message": "Not Acceptable", "errors": [error]}, status=406)
