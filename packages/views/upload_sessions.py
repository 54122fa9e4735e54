"""``/upload/2.0/``: the Upload 2.0 API (PEP 694): publishing sessions, their
file-upload sessions with the ``http-post-bytes`` mechanism, and the stage (an
unguessable PEP 503/691 index of the session's files, for installers).

Thin views: parse and check the request, authenticate as ``/legacy/`` does
(the same API tokens, trusted publishing's included, and the same policy),
call one service of packages.upload_sessions, answer. Every refusal is an RFC
9457 problem (``application/problem+json``) with the message in the reason
phrase too, as the legacy API's.
"""

import functools
import json
from datetime import UTC, datetime
from http import HTTPStatus

from django.db.models import Q
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.csrf import csrf_exempt

from accounts.events import Actor
from accounts.models import ApiToken
from accounts.tokens import TokenError, api_token_record_use
from common.client_address import client_address
from common.http import reason_phrase
from common.ratelimit import client_network, limit, try_again

from .. import simple
from .. import upload_sessions as sessions
from ..models import StagedFile, UploadSession
from ..policy import UploadError, upload_token
from ..storage import METADATA_SUFFIX, files_storage, metadata_path
from ..upload_handler import CHUNK_SIZE, HashingUploadHandler
from .upload import _authenticate as legacy_authenticate
from .upload import _drain

MEDIA_TYPE = "application/vnd.pypi.upload.v2+json"
PROBLEM_TYPE = "application/problem+json"
API_VERSION = "2.0"
MECHANISM = "http-post-bytes"
# A JSON request of this API is a few hundred bytes; anything past this is refused unread.
MAX_JSON_BYTES = 64 * 1024
# Seconds a client waits before it polls a file-upload session again (PEP 694's Retry-After).
POLL_SECONDS = 1
# Nothing of a session may be kept by a browser or an edge: the stage is
# reachable by its secret only, and every answer changes with the session.
PRIVATE = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}
# As packages.views.files serves uploaded bytes: no scripts, no requests, an opaque origin.
SANDBOX = "default-src 'none'; sandbox"


# --- answers -----------------------------------------------------------------------


def problem(status: int, detail: str, *, headers: dict | None = None) -> HttpResponse:
    """RFC 9457 problem details; the detail is the reason phrase too (what
    clients that print only the status line show)."""
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    body["detail"] = detail
    return HttpResponse(
        json.dumps(body),
        status=status,
        reason=reason_phrase(detail),
        content_type=PROBLEM_TYPE,
        headers={**PRIVATE, **(headers or {})},
    )


def _refused(request: HttpRequest, exc: UploadError) -> HttpResponse:
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="Upload", Basic realm="Upload"'
    if isinstance(exc, sessions.SessionExists):
        headers["Location"] = _absolute(request, _session_url(exc.session))
    return problem(exc.status, exc.message, headers=headers)


def _answer(data: dict, *, status: int = 200, headers: dict | None = None) -> HttpResponse:
    return HttpResponse(
        json.dumps(data),
        status=status,
        content_type=MEDIA_TYPE,
        headers={**PRIVATE, **(headers or {})},
    )


def _absolute(request: HttpRequest, path: str) -> str:
    return request.build_absolute_uri(path)


def _rfc3339(moment: datetime) -> str:
    # PEP 694: UTC, with the "Z" marker, in whole seconds.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _session_url(session: UploadSession) -> str:
    return reverse("upload-session", args=[session.uuid])


def _file_url(staged: StagedFile) -> str:
    return reverse("upload-file-session", args=[staged.session.uuid, staged.uuid])


_STATUS = {
    UploadSession.Status.PENDING: "pending",
    UploadSession.Status.PUBLISHED: "published",
    UploadSession.Status.CANCELED: "canceled",
    # PEP 694 names no "expired": the session is gone, as if canceled, and says why.
    UploadSession.Status.EXPIRED: "canceled",
}


def _session_body(request: HttpRequest, session: UploadSession) -> dict:
    links = {"session": _absolute(request, _session_url(session))}
    body: dict = {"meta": {"api-version": API_VERSION}, "links": links}
    if session.is_open:
        uuid = session.uuid
        links["stage"] = _absolute(request, sessions.preview_url(session))
        links["upload"] = _absolute(request, reverse("upload-session-files", args=[uuid]))
        links["publish"] = _absolute(request, reverse("upload-session-publish", args=[uuid]))
        links["extend"] = _absolute(request, reverse("upload-session-extend", args=[uuid]))
        body["mechanisms"] = [MECHANISM]
        body["session-token"] = session.preview_secret
    body["expires-at"] = _rfc3339(session.expires_at)
    body["status"] = _STATUS[session.status]
    body["files"] = {
        staged.filename: {
            "status": staged.status,
            "link": _absolute(request, _file_url(staged)),
            "notices": [],
        }
        for staged in session.files.order_by("filename")
    }
    notices = []
    if session.status == UploadSession.Status.EXPIRED:
        notices.append(f"The session expired at {body['expires-at']}; its files were removed.")
    body["notices"] = notices
    return body


def _file_body(request: HttpRequest, staged: StagedFile) -> dict:
    session_uuid, uuid = staged.session.uuid, staged.uuid
    return {
        "meta": {"api-version": API_VERSION},
        "links": {
            "publishing-session": _absolute(request, _session_url(staged.session)),
            "file-upload-session": _absolute(request, _file_url(staged)),
            "complete": _absolute(
                request, reverse("upload-file-complete", args=[session_uuid, uuid])
            ),
        },
        "status": staged.status,
        "expires-at": _rfc3339(staged.expires_at),
        "mechanism": {
            "identifier": MECHANISM,
            "file_url": _absolute(
                request, reverse("upload-file-content", args=[session_uuid, uuid])
            ),
        },
        "notices": [],
    }


# --- the request ------------------------------------------------------------------------


class _Refusal(Exception):
    def __init__(self, response: HttpResponse):
        self.response = response


def _authenticate(request: HttpRequest) -> ApiToken:
    """The request's API token: ``Authorization: Bearer <token>``, or Basic
    ``__token__`` and the token as twine sends it to /legacy/."""
    failures, network = limit("upload-auth-failure"), client_network(client_address(request))
    retry_after = failures.exceeded(network)
    if retry_after is not None:
        _drain(request)
        raise _Refusal(
            problem(
                429,
                f"Too many failed upload authentications from this address. "
                f"{try_again(retry_after)}",
                headers={"Retry-After": str(retry_after)},
            )
        )
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    try:
        if scheme.lower() == "bearer" and value.strip():
            try:
                return upload_token(value.strip())
            except TokenError as exc:
                raise UploadError(
                    f"{exc} See /help/#invalid-auth for more information.", 403
                ) from None
        return legacy_authenticate(request)
    except UploadError as exc:
        if exc.status == 403:  # credentials given and refused
            failures.hit(network)
        _drain(request)
        raise _Refusal(_refused(request, exc)) from None


def _json_request(request: HttpRequest) -> dict:
    """The request's JSON object, of this API's media type and major version."""
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type != MEDIA_TYPE:
        _drain(request)
        raise UploadError(f"Send the request as {MEDIA_TYPE}.", status=415)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if not 0 <= length <= MAX_JSON_BYTES:
        _drain(request)
        raise UploadError(f"The request body must be at most {MAX_JSON_BYTES} bytes of JSON.", 413)
    try:
        data = json.loads(request.read(length) or b"null")
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested too deep
        raise UploadError("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise UploadError("The request body must be a JSON object.")
    meta = data.get("meta")
    version = meta.get("api-version") if isinstance(meta, dict) else None
    if not isinstance(version, str) or version.split(".")[0] != "2":
        raise UploadError('Give "meta": {"api-version": "2.0"}: this is the 2.0 upload API.')
    return data


def _api(methods: tuple[str, ...]):
    """Authenticate, check the method, map UploadError to its problem answer,
    and count the token's use."""

    def decorate(view):
        # Exempt from CSRF: clients send a token, never a cookie; the token is the credential.
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, **kwargs) -> HttpResponse:
            if request.method not in methods:
                _drain(request)
                return problem(
                    405,
                    f"Use {' or '.join(methods)} here.",
                    headers={"Allow": ", ".join(methods)},
                )
            try:
                token = _authenticate(request)
                actor = Actor.from_request(request, user=token.user)
                response = view(request, token=token, actor=actor, **kwargs)
            except _Refusal as refusal:
                return refusal.response
            except UploadError as exc:
                _drain(request)
                return _refused(request, exc)
            api_token_record_use(token)
            return response

        return wrapper

    return decorate


def _session(uuid, token: ApiToken) -> UploadSession:
    session = sessions.session_by_uuid(uuid)
    if session is None:
        raise UploadError("No such publishing session.", status=404)
    sessions.check_same_credentials(session, token=token)
    return session


def _open(session: UploadSession) -> UploadSession:
    if not session.is_open:
        raise UploadError(f"This publishing session is {_STATUS[session.status]}.", status=409)
    return session


def _staged(session: UploadSession, uuid) -> StagedFile:
    staged = session.files.filter(uuid=uuid).first()
    if staged is None:
        raise UploadError("No such file in this publishing session.", status=404)
    return staged


# --- publishing sessions ----------------------------------------------------------------


@_api(("POST",))
def create_session(request: HttpRequest, *, token: ApiToken, actor: Actor) -> HttpResponse:
    data = _json_request(request)
    # "nonce" (earlier drafts' input to the stage token) is accepted and not
    # needed: the stage's token is random, unguessable whatever the client sends.
    session = sessions.open_session(
        user=token.user,
        token=token,
        actor=actor,
        name=data.get("name"),
        version=data.get("version"),
    )
    location = _absolute(request, _session_url(session))
    return _answer(_session_body(request, session), status=201, headers={"Location": location})


@_api(("GET", "DELETE"))
def session_detail(request: HttpRequest, uuid, *, token: ApiToken, actor: Actor) -> HttpResponse:
    session = _session(uuid, token)
    if request.method == "DELETE":
        sessions.cancel_session(session, actor=actor)
        session.refresh_from_db()
    return _answer(_session_body(request, session))


@_api(("POST",))
def publish(request: HttpRequest, uuid, *, token: ApiToken, actor: Actor) -> HttpResponse:
    _json_request(request)
    session = _open(_session(uuid, token))
    sessions.publish_session(session, actor=actor, token=token)
    session.refresh_from_db()
    # Published before this answer (one transaction): polling the status
    # already says so.
    location = _absolute(request, _session_url(session))
    return _answer(_session_body(request, session), status=202, headers={"Location": location})


@_api(("POST",))
def extend(request: HttpRequest, uuid, *, token: ApiToken, actor: Actor) -> HttpResponse:
    data = _json_request(request)
    seconds = data.get("extend-for")
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
        raise UploadError('Give "extend-for": the seconds, a positive integer.')
    session = sessions.extend_session(_open(_session(uuid, token)), seconds=seconds, actor=actor)
    return _answer(_session_body(request, session))


# --- file-upload sessions ------------------------------------------------------------------


@_api(("POST",))
def create_file_session(
    request: HttpRequest, uuid, *, token: ApiToken, actor: Actor
) -> HttpResponse:
    data = _json_request(request)
    session = _open(_session(uuid, token))
    mechanism = data.get("mechanism", MECHANISM)
    if mechanism != MECHANISM:
        raise UploadError(f"Unsupported mechanism {mechanism!r}: use {MECHANISM!r}.", status=422)
    staged = sessions.declare_file(
        session,
        filename=data.get("filename"),
        size=data.get("size"),
        hashes=data.get("hashes"),
        token=token,
        actor=actor,
    )
    headers = {"Location": _absolute(request, _file_url(staged)), "Retry-After": str(POLL_SECONDS)}
    return _answer(_file_body(request, staged), status=202, headers=headers)


@_api(("GET", "DELETE"))
def file_session(
    request: HttpRequest, uuid, file_uuid, *, token: ApiToken, actor: Actor
) -> HttpResponse:
    session = _session(uuid, token)
    staged = _staged(session, file_uuid)
    if request.method == "DELETE":
        # Cancels an upload under way, or removes (to replace) a file received.
        sessions.delete_staged_file(staged, actor=actor)
        return HttpResponse(status=204, headers=PRIVATE)
    return _answer(_file_body(request, staged), headers={"Retry-After": str(POLL_SECONDS)})


@_api(("POST",))
def complete_file(
    request: HttpRequest, uuid, file_uuid, *, token: ApiToken, actor: Actor
) -> HttpResponse:
    _json_request(request)
    staged = _staged(_open(_session(uuid, token)), file_uuid)
    if staged.status != StagedFile.Status.COMPLETE:
        raise UploadError(
            f"The bytes of {staged.filename!r} have not been received: POST them to the "
            "mechanism's file_url first.",
            status=409,
        )
    return _answer(_file_body(request, staged))


@_api(("POST",))
def file_content(
    request: HttpRequest, uuid, file_uuid, *, token: ApiToken, actor: Actor
) -> HttpResponse:
    """The http-post-bytes mechanism: the file's bytes as the request body,
    streamed to a temporary file (flat memory) while they are hashed."""
    session = _open(_session(uuid, token))
    staged = _staged(session, file_uuid)
    if staged.status != StagedFile.Status.PENDING:
        raise UploadError(
            f"The bytes of {staged.filename!r} were received already: delete the file to "
            "replace it.",
            status=409,
        )
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type != "application/octet-stream":
        raise UploadError("Send the file's bytes as application/octet-stream.", status=415)
    content = _receive(request, staged)
    try:
        staged = sessions.stage_file(
            session, content=content, token=token, actor=actor, staged=staged
        )
    finally:
        content.close()
    return _answer(_file_body(request, staged), status=201)


def _receive(request: HttpRequest, staged: StagedFile):
    declared = staged.declared_size
    if request.META.get("CONTENT_LENGTH") != str(declared):
        raise UploadError(
            f"Send the file's {declared} bytes, as declared, with Content-Length: {declared}."
        )
    handler = HashingUploadHandler()
    handler.new_file("content", staged.filename, "application/octet-stream", None)
    size = 0
    # Django reads at most Content-Length bytes (checked above): the file can't
    # grow past what was declared, and a shorter body fails the size check.
    while chunk := request.read(CHUNK_SIZE):
        handler.receive_data_chunk(chunk, size)
        size += len(chunk)
    return handler.file_complete(size)


# --- the stage --------------------------------------------------------------------------


def _stage(secret: str) -> UploadSession:
    session = sessions.session_by_preview_secret(secret)
    if session is None:
        raise UploadError("No such stage: the session ended, or the URL is wrong.", status=404)
    return session


def _stage_view(view):
    @functools.wraps(view)
    def wrapper(request: HttpRequest, secret: str, **kwargs) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return problem(405, "Use GET here.", headers={"Allow": "GET, HEAD"})
        try:
            return view(request, _stage(secret), **kwargs)
        except UploadError as exc:
            return problem(exc.status, exc.message)

    return wrapper


_CONTENT_TYPES = {
    simple.TEXT_HTML: "text/html; charset=utf-8",
    simple.V1_HTML: "application/vnd.pypi.simple.v1+html; charset=utf-8",
    simple.V1_JSON: simple.V1_JSON,
}


def _page(request: HttpRequest, body: bytes, content_type: str) -> HttpResponse:
    headers = {**PRIVATE, "Content-Type": _CONTENT_TYPES[content_type], "Vary": "Accept"}
    return HttpResponse(b"" if request.method == "HEAD" else body, headers=headers)


@_stage_view
def stage_index(request: HttpRequest, session: UploadSession) -> HttpResponse:
    """The stage's root: an index of the one project the session publishes."""
    content_type = simple.select_content_type(request)
    name, normalized = session.name, session.normalized_name
    if content_type == simple.V1_JSON:
        body = json.dumps(
            {"meta": {"api-version": simple.API_VERSION}, "projects": [{"name": name}]}
        ).encode()
    else:
        body = (
            "<!DOCTYPE html>\n<html>\n  <head>\n"
            f'    <meta name="pypi:repository-version" content="{simple.API_VERSION}">\n'
            "    <title>Simple index</title>\n  </head>\n  <body>\n"
            f'    <a href="{normalized}/">{escape(name)}</a>\n  </body>\n</html>\n'
        ).encode()
    return _page(request, body, content_type)


@_stage_view
def stage_project(request: HttpRequest, session: UploadSession, name: str) -> HttpResponse:
    """The project's page with its published files and the session's staged ones."""
    if name != session.normalized_name:
        raise UploadError("This stage holds only the project of its session.", status=404)
    content_type = simple.select_content_type(request)
    listing = sessions.preview_listing(
        session,
        file_url=lambda filename: reverse(
            "upload-stage-file", args=[session.preview_secret, filename]
        ),
    )
    if content_type == simple.V1_JSON:
        body = simple.render_detail_json(listing)
    else:
        body = simple.render_detail_html(listing)
    return _page(request, body, content_type)


@_stage_view
def stage_file(request: HttpRequest, session: UploadSession, filename: str) -> HttpResponse:
    """A staged file, or its PEP 658 metadata, from the file store."""
    base = filename.removesuffix(METADATA_SUFFIX)
    staged = session.files.filter(Q(filename=base), status=StagedFile.Status.COMPLETE).first()
    if staged is None or (base != filename and not staged.metadata_sha256_digest):
        raise UploadError("No such file on this stage.", status=404)
    path = staged.path if base == filename else metadata_path(staged.path)
    response = FileResponse(
        files_storage().open(path, "rb"),
        as_attachment=base == filename,
        filename=filename,
        content_type="application/octet-stream" if base == filename else "text/plain",
        # User content on the index's own origin: never run as a document.
        headers={
            **PRIVATE,
            "Content-Security-Policy": SANDBOX,
            "X-Content-Type-Options": "nosniff",
        },
    )
    return response
