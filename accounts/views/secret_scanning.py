"""Where code hosts report leaked tokens (see accounts.secret_scanning)."""

from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from common.http import error_response

from ..events import Actor
from ..secret_scanning import (
    MAX_REPORT_BYTES,
    ReportError,
    parse_report,
    report_leaks,
    scanning_enabled,
    verify_report_signature,
)


def _read_body(request) -> bytes:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ReportError("Invalid Content-Length.") from None
    if declared > MAX_REPORT_BYTES:
        raise ReportError("The report is too large.", status=413)
    # Read one byte more than allowed, so a body longer than it claimed is caught.
    body = request.read(MAX_REPORT_BYTES + 1)
    if len(body) > MAX_REPORT_BYTES:
        raise ReportError("The report is too large.", status=413)
    return body


# Machine to machine: the signature, not a cookie, authenticates the caller.
@csrf_exempt
@require_POST
def disclose_token(request):
    # Off unless keys are configured: no keys means nobody can be believed,
    # and 404 (not 503) tells a code host there is nothing here to retry.
    if not scanning_enabled():
        raise Http404("Secret scanning is not configured.")
    try:
        body = _read_body(request)
        verify_report_signature(
            body=body,
            key_id=request.headers.get("Github-Public-Key-Identifier", ""),
            signature=request.headers.get("Github-Public-Key-Signature", ""),
        )
        leaks = parse_report(body)
    except ReportError as exc:
        return error_response(exc.status, exc.message)
    actor = Actor.from_request(request)
    return JsonResponse(report_leaks(leaks, actor=actor, request=request), safe=False)
