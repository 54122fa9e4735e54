"""POST /pypi: the XML-RPC endpoint (methods and protocol in ``packages.xmlrpc``)."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from packages import xmlrpc as rpc

_CONTENT_TYPE = "text/xml; charset=utf-8"
# The largest refused body still read to its end (its own bound: an XML-RPC
# call is no upload, and a site with small uploads still answers a mirror's
# oversized call with its fault).
DRAIN_MAX_BYTES = 100 * 1024 * 1024
_DRAIN_CHUNK = 64 * 1024


def _drain(request: HttpRequest, declared: int) -> None:
    """Read and discard a refused body.

    xmlrpc.client (and every client built on it, bandersnatch among them) sends
    the whole body before it reads the answer. A server that answers with most
    of the body unread closes the connection on it (gunicorn drains only 64 KiB
    itself), and the client then sees a reset or a broken pipe instead of the
    fault. A body larger than DRAIN_MAX_BYTES is not worth reading: that client
    sees the reset.
    """
    if declared > DRAIN_MAX_BYTES:
        return
    while request.read(_DRAIN_CHUNK):
        pass


def _read_body(request: HttpRequest) -> bytes | None:
    """The request body, or None when it is larger than the limit."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    # Django reads no more than the declared length (none declared: nothing),
    # so checking the declaration bounds what is read.
    if declared > rpc.MAX_REQUEST_BYTES:
        _drain(request, declared)
        return None
    return request.read()


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
