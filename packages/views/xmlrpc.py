"""POST /pypi: the XML-RPC endpoint (methods and protocol in ``packages.xmlrpc``)."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from packages import xmlrpc as rpc

_CONTENT_TYPE = "text/xml; charset=utf-8"


def _read_body(request: HttpRequest) -> bytes | None:
    """The request body, or None when it is larger than the limit."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    # Django reads no more than the declared length (none declared: nothing),
    # so checking the declaration bounds what is read.
    return None if declared > rpc.MAX_REQUEST_BYTES else request.read()


# Clients (xmlrpc.client, bandersnatch) call without cookies or CSRF tokens,
# and nothing here acts on a session.
@csrf_exempt
def xmlrpc(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = HttpResponse(
            rpc.dumps_fault(rpc.method_not_allowed()), status=405, content_type=_CONTENT_TYPE
        )
        response["Allow"] = "POST"
        return response
    body = _read_body(request)
    answer = rpc.handle(request, body) if body is not None else rpc.too_large_answer()
    # As XML-RPC servers do, faults travel in a 200 answer.
    return HttpResponse(answer, content_type=_CONTENT_TYPE)
