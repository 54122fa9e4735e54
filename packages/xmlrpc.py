"""The XML-RPC API at /pypi: the public index's methods, for mirrors (bandersnatch
follows ``list_packages_with_serial`` and ``changelog_since_serial``) and older tools.

Method signatures, result shapes and fault codes follow the public index (its
XML-RPC reference and the fault-code interoperability convention it uses):
-32700 unparseable request, -32600 not an XML-RPC call, -32601 unknown method,
-32602 wrong arguments, -32500 an error of the method itself. Every method gets
the request first, then the call's parameters; their annotations are checked
strictly (an int is not a bool, a bool is not an int), as the public index does.
An int argument of any size is taken; an int in an answer beyond XML-RPC's 32
bits (the size of a file of 2 GiB or more) is sent as ``<i8>``, which
xmlrpc.client reads.

Requests are parsed with defusedxml's expat parser: no DTD, no entity
declarations, no external references, so entity expansion ("billion laughs")
and external-entity reads are refused before they happen.
"""

import inspect
import logging
import xmlrpc.client
from collections.abc import Callable
from datetime import UTC, datetime
from xml.parsers.expat import ExpatError

from defusedxml.xmlrpc import DefusedExpatParser
from django.conf import settings
from django.db.models import Max
from django.http import HttpRequest
from django.urls import reverse
from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version

from . import mirror, mirrored
from .downloads import download_summary
from .models import File, JournalEntry, Project, Release, Role
from .names import normalize_project_name
from .storage import file_url
from .xmltext import xml_text

logger = logging.getLogger(__name__)

# A call to any method here is a few hundred bytes; the limit keeps a request
# from making the parser hold megabytes.
MAX_REQUEST_BYTES = 64 * 1024
# As the public index: one answer never carries more than this many entries.
CHANGELOG_LIMIT = 50_000
_MAX_VERSION_LENGTH = Release._meta.get_field("version").max_length

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
APPLICATION_ERROR = -32500

_DEPRECATION_URL = "https://warehouse.pypa.io/api-reference/xml-rpc.html#deprecated-methods"


class Fault(xmlrpc.client.Fault):
    """An XML-RPC fault to send back as the answer."""


def too_large_answer() -> bytes:
    return dumps_fault(
        Fault(INVALID_REQUEST, f"server error; request larger than {MAX_REQUEST_BYTES} bytes")
    )


def method_not_allowed() -> Fault:
    return Fault(INVALID_REQUEST, "server error; XML-RPC calls are POST requests")


# --- Helpers ----------------------------------------------------------------------------


def _release(name: str, version: str) -> Release | None:
    if len(version) > _MAX_VERSION_LENGTH:
        # No release has it; and packaging would turn thousands of digits into
        # an int, which Python refuses (ValueError).
        return None
    # canonicalize_version leaves a string that is no version as it is: no match.
    return (
        Release.objects.visible()
        .select_related("project")
        .filter(
            project__normalized_name=normalize_project_name(name),
            canonical_version=canonicalize_version(version),
        )
        .first()
    )


def _version_key(version: str):
    try:
        return (1, Version(version))
    except InvalidVersion:
        # Rows made outside the upload could hold anything; they sort first.
        return (0, version)


def _timestamp(value: datetime) -> int:
    return int(value.timestamp())


def _iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def _since(timestamp: int) -> datetime:
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        raise Fault(
            INVALID_PARAMS, f"client error; since: {timestamp} is not a timestamp"
        ) from None


def _changelog_rows(entries) -> list[list]:
    return [
        [name, version, _timestamp(submitted_at), action, serial]
        for name, version, submitted_at, action, serial in entries.values_list(
            "name", "version", "submitted_at", "action", "id"
        )[:CHANGELOG_LIMIT]
    ]


# --- Mirroring --------------------------------------------------------------------------


def changelog_last_serial(request: HttpRequest) -> int:
    """The newest journal entry's serial (0 while the journal is empty)."""
    return JournalEntry.objects.aggregate(serial=Max("id"))["serial"] or 0


def changelog_since_serial(request: HttpRequest, since_serial: int) -> list[list]:
    """[name, version, timestamp, action, serial] of every entry after ``since_serial``."""
    return _changelog_rows(JournalEntry.objects.filter(id__gt=since_serial).order_by("id"))


def changelog(request: HttpRequest, since: int, with_ids: bool = False) -> list[list]:
    """Entries submitted after the UTC timestamp ``since``; the serial only if asked."""
    rows = _changelog_rows(
        JournalEntry.objects.filter(submitted_at__gt=_since(since)).order_by("id")
    )
    return rows if with_ids else [row[:4] for row in rows]


def list_packages_with_serial(request: HttpRequest) -> dict[str, int]:
    # Quarantined projects are left out; the changelog keeps their entries, so
    # a mirror learns of the quarantine and drops the project (its JSON is 404).
    return dict(
        Project.objects.visible().order_by("normalized_name").values_list("name", "last_serial")
    )


def list_packages(request: HttpRequest) -> list[str]:
    return list(
        Project.objects.visible().order_by("normalized_name").values_list("name", flat=True)
    )


def updated_releases(request: HttpRequest, since: int) -> list[list[str]]:
    """[name, version] of releases made since the UTC timestamp ``since``, newest first."""
    rows = (
        Release.objects.visible()
        .filter(created_at__gte=_since(since))
        .order_by("-created_at", "-id")
        .values_list("project__name", "version")
    )
    return [[name, version] for name, version in rows]


# --- Projects and releases ------------------------------------------------------------


def package_releases(
    request: HttpRequest, package_name: str, show_hidden: bool = False
) -> list[str]:
    """The latest version, or with ``show_hidden`` every version (yanked ones
    too), newest first.

    The latest is the newest release that is not yanked, a final release
    before any pre-release, as installers choose it.
    """
    project = Project.objects.visible().by_name(package_name)
    if project is None:
        return _mirrored_releases(package_name, show_hidden)
    releases = list(project.releases.values_list("version", "yanked", "is_prerelease"))
    releases.sort(key=lambda row: _version_key(row[0]), reverse=True)
    if show_hidden:
        return [version for version, _yanked, _pre in releases]
    offered = [row for row in releases if not row[1]]
    finals = [row for row in offered if not row[2]]
    latest = (finals or offered)[:1]
    return [version for version, _yanked, _pre in latest]


def release_urls(request: HttpRequest, package_name: str, version: str) -> list[dict]:
    release = _release(package_name, version)
    if release is None:
        return _mirrored_urls(request, package_name, version)
    return [
        {
            "filename": file.filename,
            "packagetype": file.packagetype,
            "python_version": file.python_version,
            "size": file.size,
            "md5_digest": file.md5_digest,
            "sha256_digest": file.sha256_digest,
            "digests": {
                "md5": file.md5_digest,
                "sha256": file.sha256_digest,
                "blake2b_256": file.blake2_256_digest,
            },
            "has_sig": False,
            "upload_time": _iso_utc(file.upload_time),
            "upload_time_iso_8601": _iso_utc(file.upload_time),
            "comment_text": "",
            "downloads": -1,
            "path": file.path,
            "url": request.build_absolute_uri(file_url(file.path)),
            "requires_python": release.requires_python or None,
            "yanked": release.yanked,
            "yanked_reason": release.yanked_reason or None,
        }
        for file in File.objects.filter(release=release).order_by("filename")
    ]


# A project mirrored from the upstream (packages.mirrored) answers these two
# from the rows held here, as the JSON API does; no call sends a request
# upstream. It is never in list_packages or the changelog: a mirror of this
# index copies this index's own projects, not the upstream through it.


def _mirrored_releases(package_name: str, show_hidden: bool) -> list[str]:
    found = mirrored.lookup(package_name, fetch=False)
    if found is None:
        return []
    if show_hidden:
        return [version.version for version in found.versions]
    # The rule of a local project's, above.
    offered = [version for version in found.versions if not version.yanked]
    finals = [version for version in offered if not version.is_prerelease]
    return [version.version for version in (finals or offered)[:1]]


def _mirrored_urls(request: HttpRequest, package_name: str, version: str) -> list[dict]:
    found = mirrored.lookup(package_name, fetch=False)
    shown = found.find(version) if found is not None else None
    if shown is None:
        return []
    rows = []
    for file in shown.files:
        uploaded = _iso_utc(file.published_at)
        rows.append(
            {
                "filename": file.filename,
                "packagetype": mirrored.packagetype(file.filename),
                "python_version": mirrored.python_version(file.filename),
                # None (nil) when the upstream's page gave no size.
                "size": file.size,
                # The upstream gives the sha256 only.
                "md5_digest": "",
                "sha256_digest": file.sha256_digest,
                "digests": {"md5": "", "sha256": file.sha256_digest, "blake2b_256": ""},
                "has_sig": False,
                "upload_time": uploaded,
                "upload_time_iso_8601": uploaded,
                "comment_text": "",
                "downloads": -1,
                "path": "",
                "url": request.build_absolute_uri(mirror.mirror_file_url(file)),
                "requires_python": file.requires_python or None,
                "yanked": file.yanked,
                "yanked_reason": file.yanked_reason or None,
            }
        )
    return rows


def release_data(request: HttpRequest, package_name: str, version: str) -> dict:
    """The release's core metadata in the public index's legacy shape; {} if unknown."""
    release = _release(package_name, version)
    if release is None:
        return {}
    project = release.project
    ordered = sorted(project.releases.values_list("version", flat=True), key=_version_key)
    return {
        "name": project.name,
        "version": release.version,
        "stable_version": None,
        "bugtrack_url": None,
        "package_url": request.build_absolute_uri(reverse("project", args=[project.name])),
        "release_url": request.build_absolute_uri(
            reverse("release", args=[project.name, release.version])
        ),
        "docs_url": None,
        "home_page": release.home_page or None,
        "download_url": release.download_url or None,
        # Legacy "Label, URL" strings, as Project-URL headers were written.
        "project_url": [f"{label}, {url}" for label, url in release.project_urls],
        "author": release.author or None,
        "author_email": release.author_email or None,
        "maintainer": release.maintainer or None,
        "maintainer_email": release.maintainer_email or None,
        "summary": release.summary or None,
        "description": release.description or None,
        "description_content_type": release.description_content_type or None,
        "license": release.license or None,
        "license_expression": release.license_expression or None,
        "keywords": release.keywords or None,
        "platform": ", ".join(release.platform) or None,
        "classifiers": list(release.classifiers),
        "requires": [],
        "requires_dist": list(release.requires_dist),
        "provides": [],
        "provides_dist": list(release.provides_dist),
        "obsoletes": [],
        "obsoletes_dist": list(release.obsoletes_dist),
        "requires_python": release.requires_python or None,
        "requires_external": list(release.requires_external),
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason or None,
        "_pypi_ordering": ordered.index(release.version),
        "downloads": download_summary(project),
    }


def package_roles(request: HttpRequest, package_name: str) -> list[list[str]]:
    """[role, username] of everyone with a role, Owners first."""
    rows = (
        Role.objects.visible()
        .filter(project__normalized_name=normalize_project_name(package_name))
        .order_by("-role_name", "user__username")
        .values_list("role_name", "user__username")
    )
    return [[role, username] for role, username in rows]


def user_packages(request: HttpRequest, user: str) -> list[list[str]]:
    """[role, project name] of every project ``user`` has a role on, Owner roles first."""
    rows = (
        Role.objects.visible()
        .filter(user__username=user)
        .order_by("-role_name", "project__normalized_name")
        .values_list("role_name", "project__name")
    )
    return [[role, name] for role, name in rows]


def search(request: HttpRequest, spec: dict, operator: str = "and"):
    # The public index turned search off for good (automated load); this answers
    # with the same fault, pointing at the search page instead.
    raise Fault(
        APPLICATION_ERROR,
        f"RuntimeError: {settings.SITE_NAME} no longer supports 'pip search' (or XML-RPC "
        f"search). Please use {request.build_absolute_uri(reverse('search'))} (via a "
        f"browser) instead. See {_DEPRECATION_URL} for more information.",
    )


METHODS: dict[str, Callable] = {
    function.__name__: function
    for function in (
        changelog,
        changelog_last_serial,
        changelog_since_serial,
        list_packages,
        list_packages_with_serial,
        package_releases,
        package_roles,
        release_data,
        release_urls,
        search,
        updated_releases,
        user_packages,
    )
}


# --- The protocol ------------------------------------------------------------------------


def parse_call(body: bytes) -> tuple[str, tuple]:
    """(method name, parameters) of a methodCall document, or a Fault."""
    unmarshaller = xmlrpc.client.Unmarshaller()
    parser = DefusedExpatParser(unmarshaller, forbid_dtd=True)
    try:
        parser.feed(body)
        parser.close()
        params = unmarshaller.close()
    # ValueError covers defusedxml's refusals and malformed values (<int>x</int>);
    # ResponseError, a document that ends before its structure does.
    except (ExpatError, ValueError, TypeError, xmlrpc.client.ResponseError):
        raise Fault(PARSE_ERROR, "parse error; not well formed") from None
    method = unmarshaller.getmethodname()
    if not method:
        raise Fault(INVALID_REQUEST, "server error; invalid xml-rpc; not a methodCall")
    return method, params


def _check_arguments(function: Callable, request: HttpRequest, params: tuple) -> None:
    signature = inspect.signature(function)
    try:
        bound = signature.bind(request, *params)
    except TypeError as error:
        raise Fault(INVALID_PARAMS, f"client error; {error}") from None
    for name, value in list(bound.arguments.items())[1:]:
        expected = signature.parameters[name].annotation
        # type() is: the public index refuses True for an int and 1 for a bool.
        if type(value) is not expected:
            raise Fault(
                INVALID_PARAMS,
                f"client error; {name}: expected {expected.__name__}, got {type(value).__name__}",
            )


def _xml_safe(value):
    # Every answer goes through here once (packages.xmltext says why).
    if isinstance(value, str):
        return xml_text(value)
    if isinstance(value, list | tuple):
        return [_xml_safe(item) for item in value]
    if isinstance(value, dict):
        return {_xml_safe(key): _xml_safe(item) for key, item in value.items()}
    return value


# <i8>: an int of up to 64 bits, the extension xmlrpc.client (mirrors, pip and
# other Python tools) reads, as Apache's XML-RPC and others do.
_I8_MIN, _I8_MAX = -(2**63), 2**63 - 1


class _Marshaller(xmlrpc.client.Marshaller):
    """xmlrpc.client's, but an int beyond XML-RPC's 32 bits goes out as <i8>
    instead of failing the answer: a file of 2 GiB or more has such a size."""

    dispatch = dict(xmlrpc.client.Marshaller.dispatch)

    def dump_long(self, value: int, write) -> None:
        if xmlrpc.client.MININT <= value <= xmlrpc.client.MAXINT:
            tag = "int"
        elif _I8_MIN <= value <= _I8_MAX:
            tag = "i8"
        else:
            raise Fault(APPLICATION_ERROR, f"server error; {value} is too large for XML-RPC")
        write(f"<value><{tag}>{value}</{tag}></value>\n")

    dispatch[int] = dump_long


def dumps_result(result) -> bytes:
    """The methodResponse document carrying ``result``."""
    body = _Marshaller("utf-8", allow_none=True).dumps((_xml_safe(result),))
    return f"<?xml version='1.0'?>\n<methodResponse>\n{body}</methodResponse>\n".encode()


def dumps_fault(fault: xmlrpc.client.Fault) -> bytes:
    return xmlrpc.client.dumps(fault, methodresponse=True, encoding="utf-8").encode()


def handle(request: HttpRequest, body: bytes) -> bytes:
    """The methodResponse document answering the call in ``body``."""
    try:
        method, params = parse_call(body)
        function = METHODS.get(method)
        if function is None:
            raise Fault(METHOD_NOT_FOUND, "server error; requested method not found")
        _check_arguments(function, request, params)
        return dumps_result(function(request, *params))
    except xmlrpc.client.Fault as fault:
        return dumps_fault(fault)
    except Exception:
        # A client must get a fault, not an HTML error page it cannot parse.
        logger.exception("XML-RPC call failed")
        return dumps_fault(Fault(APPLICATION_ERROR, "application error"))
