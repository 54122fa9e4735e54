"""The one way plain views answer a client error."""

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
