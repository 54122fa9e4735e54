"""``/legacy/``: the upload endpoint twine and uv publish talk to."""

import base64
import binascii

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from accounts.events import Actor
from accounts.tokens import TOKEN_USERNAME, TokenError, api_token_record_use
from common.client_address import client_address
from common.http import error_response
from common.ratelimit import client_network, limit, too_many_requests

from ..names import normalize_project_name
from ..policy import upload_token
from ..upload import Outcome, UploadError, release_file_upload
from ..upload_handler import UnsafeFileName, UploadFormParser

_DRAIN_CHUNK = 1024 * 1024


def _drain(request) -> None:
    # Read what the client is still sending before answering: a server that
    # closes with unread bytes makes the kernel reset the connection, and the
    # client then shows "connection reset" instead of our message.
    while request.read(_DRAIN_CHUNK):
        pass


def _credentials(request) -> tuple[str, str]:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise UploadError(
            "Invalid or non-existent authentication information. "
            "See /help/#invalid-auth for more information.",
            status=401,
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise UploadError("Malformed Authorization header.", status=401) from None
    username, _, password = decoded.partition(":")
    return username, password


def _authenticate(request):
    username, password = _credentials(request)
    if username != TOKEN_USERNAME:
        raise UploadError(
            "Username/Password authentication is not supported. Upload with an API token: "
            "username '__token__' and the token (pypi-...) as the password. "
            "See /help/#apitoken for more information.",
            status=403,
        )
    try:
        return upload_token(password)
    except TokenError as exc:
        raise UploadError(f"{exc} See /help/#invalid-auth for more information.", 403) from None


def _refuse(request, exc: UploadError) -> HttpResponse:
    _drain(request)
    headers = {"WWW-Authenticate": 'Basic realm="Upload"'} if exc.status == 401 else None
    return error_response(exc.status, exc.message, headers=headers)


@csrf_exempt
def file_upload(request):
    if request.method != "POST":
        return error_response(
            405, "Upload with a multipart POST (':action=file_upload').", headers={"Allow": "POST"}
        )
    # Refused before the token is even looked at: guessing tokens from one
    # address stops here for a while.
    auth_failures, ip = limit("upload-auth-failure"), client_network(client_address(request))
    retry_after = auth_failures.exceeded(ip)
    if retry_after is not None:
        _drain(request)
        return too_many_requests(
            retry_after, "Too many failed upload authentications from this address."
        )
    try:
        token = _authenticate(request)
    except UploadError as exc:
        if exc.status == 403:  # credentials were given and refused
            auth_failures.hit(ip)
        return _refuse(request, exc)
    try:
        form, files = _form_and_files(request)
    except RequestDataTooBig:
        return _refuse(request, UploadError("The upload's form fields are too large."))
    except UnsafeFileName as exc:
        return _refuse(request, UploadError(str(exc)))
    except (MultiPartParserError, TooManyFieldsSent, SuspiciousOperation):
        return _refuse(request, UploadError("Invalid multipart form data."))
    try:
        return _publish(request, token, form, files)
    finally:
        # Django closes the files of the forms it parses itself; these are ours.
        for _field, uploads in files.lists():
            for upload in uploads:
                upload.close()


def _form_and_files(request):
    """The form fields and files, from a parser that reads the file name as sent
    (Django's own keeps only the last part of a path). Anything but a multipart
    body is refused by it: an upload is one."""
    parser = UploadFormParser(request.META, request, request.upload_handlers, request.encoding)
    return parser.parse()


def _staged(request, form) -> HttpResponse:
    # Success for twine and uv (200), but the person reading a verbose log or
    # the body learns that nothing is public yet, and where it waits.
    sessions = request.build_absolute_uri(
        reverse("manage-project-sessions", args=[normalize_project_name(form.get("name"))])
    )
    return HttpResponse(
        f"OK: staged, not public yet. The project requires publishing sessions: its Owners "
        f"publish this release at {sessions}\n",
        content_type="text/plain",
        reason="OK (staged until an Owner publishes it)",
    )


def _publish(request, token, form, files) -> HttpResponse:
    content = files.get("content")
    if content is None:
        return error_response(400, "Upload payload does not have a file.")
    try:
        outcome = release_file_upload(
            form=form,
            content=content,
            token=token,
            actor=Actor.from_request(request, user=token.user),
        )
    except UploadError as exc:
        retry = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return error_response(exc.status, exc.message, headers=retry)
    api_token_record_use(token)
    if outcome is Outcome.ALREADY_STORED:
        return HttpResponse("OK: this file was already uploaded.\n", content_type="text/plain")
    if outcome is Outcome.STAGED:
        return _staged(request, form)
    return HttpResponse("OK\n", content_type="text/plain")
