"""/packages/<python_version>/<letter>/<name>/<filename>: the public index's old
file URLs (/packages/source/r/requests/requests-1.0.tar.gz), still written in
requirement files and build scripts, redirected to where the file is now.

Rules as the public index's URL-translation service ("conveyor") applies them:
the letter is the name's first character (as written or lowercased), the
Python version must be the file's (sdists have "source"), the filename may be
given as uploaded or in its normalized form, and the answer is a 302 that
caches for a week. Signatures (".asc") were never kept here: they are 404s.
"""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_safe
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)

from common.http import error_response
from packages.models import File
from packages.names import normalize_project_name
from packages.storage import file_url

_CACHE_CONTROL = "max-age=604800, public"


def _normalized_filename(filename: str) -> str:
    """The filename with its name and version normalized; as it is if unparseable."""
    try:
        if filename.endswith(".whl"):
            name, version, build, tags = parse_wheel_filename(filename)
            parts = [canonicalize_name(name), canonicalize_version(version)]
            if build:
                parts.append("".join(str(part) for part in build))
            parts.append("-".join(str(tag) for tag in sorted(tags, key=str)))
            return "-".join(parts) + ".whl"
        for suffix in (".tar.gz", ".zip"):
            if filename.endswith(suffix):
                name, version = parse_sdist_filename(filename)
                return f"{canonicalize_name(name)}-{canonicalize_version(version)}{suffix}"
    except (InvalidWheelFilename, InvalidSdistFilename):
        pass
    return filename


def _not_found(reason: str) -> HttpResponse:
    return error_response(404, reason)


@require_safe
def redirect_legacy_file(
    request: HttpRequest, python_version: str, letter: str, name: str, filename: str
) -> HttpResponse:
    if letter not in (name[0], name[0].lower()):
        return _not_found("incorrect project bucket")
    candidates = (
        File.objects.visible()
        .filter(
            release__project__normalized_name=normalize_project_name(name),
            python_version=python_version,
        )
        .values_list("filename", "path")
    )
    for stored, path in candidates:
        if filename in (stored, _normalized_filename(stored)):
            response = HttpResponseRedirect(file_url(path))
            response["Cache-Control"] = _CACHE_CONTROL
            return response
    return _not_found("no file found")
