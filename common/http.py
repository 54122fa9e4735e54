"""The one way plain views answer a client error, and the one check of the
query string that every view relies on."""

from http import HTTPStatus

from django.http import HttpResponse

_MAX_REASON = 400


def reason_phrase(message: str) -> str:
    """The message as an HTTP reason phrase: one line of Latin-1.

    twine shows the reason phrase of a refused upload, so it carries the whole
    message; characters Latin-1 can't hold become '?', line breaks spaces.
    """
    line = " ".join(message.split())
    line = line.encode("latin-1", "replace").decode("latin-1")
    return line[:_MAX_REASON]


def error_response(status: int, message: str, *, headers: dict | None = None) -> HttpResponse:
    body = f"{status} {HTTPStatus(status).phrase}\n\n{message}\n"
    return HttpResponse(
        body,
        status=status,
        reason=reason_phrase(message),
        content_type="text/plain; charset=utf-8",
        headers=headers,
    )


NUL_IN_QUERY = (
    "A query parameter holds a NUL character (%00): no parameter of this site takes one. "
    "Remove it and try again."
)


def refuse_nul_in_query(get_response):
    """Middleware: a NUL in a query parameter's name or value is a 400 before any view.

    PostgreSQL refuses a NUL in any string, and parameters reach queries in
    views this project does not write (every field lookup of the admin's lists,
    ``?name=``, ``?tag__exact=``); no parameter of any page has a use for one.
    Form bodies are left to the forms (a CharField refuses a NUL): reading them
    here would parse every upload before its view could stream it.
    """

    def middleware(request):
        for key, values in request.GET.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return error_response(400, NUL_IN_QUERY)
        return get_response(request)

    return middleware
