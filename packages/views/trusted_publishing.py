"""``/_/oidc/...``: the trusted-publishing exchange, in the public index's
shapes, so uv, twine and the publishing action use it unchanged."""

import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.events import Actor

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
    try:
        minted = mint_token(_token_from_body(request), actor=Actor.from_request(request))
    except TrustedPublishingError as exc:
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
