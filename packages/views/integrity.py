"""/integrity/<project>/<version>/<filename>/provenance: a file's PEP 740
provenance object (packages.attestations), as the public index serves it.

Immutable like the file it describes (written in the upload's commit, never
changed), so cached as long as the file; under the file's surrogate keys, so
a deletion or a quarantine takes it off an edge with the file.
"""

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.cache import get_conditional_response
from packaging.utils import canonicalize_version

from packages.api_common import CORS_HEADERS, public_headers
from packages.attestations import CONTENT_TYPE
from packages.models import Provenance, visible_q
from packages.names import normalize_project_name


def _not_found(message: str, normalized: str) -> HttpResponse:
    # Cached briefly, under the project's keys: an upload that adds the file
    # purges them.
    headers = public_headers(f"project-{normalized} files-{normalized}")
    return HttpResponse(
        json.dumps({"message": message}),
        status=404,
        content_type="application/json",
        headers=headers,
    )


def provenance(request: HttpRequest, name: str, version: str, filename: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    normalized = normalize_project_name(name)
    found = (
        Provenance.objects.filter(
            file__filename=filename,
            file__release__project__normalized_name=normalized,
            file__release__canonical_version=canonicalize_version(version),
        )
        .filter(visible_q("file__release__project__"))
        .values_list("provenance", "file__sha256_digest")
        .first()
    )
    if found is None:
        return _not_found(
            f"No provenance for {filename} of {name} {version}: the file does not exist here, "
            "or was uploaded without attestations.",
            normalized,
        )
    body, sha256 = found
    headers = {
        "Content-Type": CONTENT_TYPE,
        "Cache-Control": settings.FILES_CACHE_CONTROL,
        "ETag": f'"{sha256}-provenance"',
        "Surrogate-Key": f"files files-{normalized}",
        **CORS_HEADERS,
    }
    conditional = get_conditional_response(request, etag=headers["ETag"])
    if conditional is not None:
        for key, value in headers.items():
            if key != "Content-Type":
                conditional[key] = value
        return conditional
    data = json.dumps(body, separators=(",", ":")).encode()
    if request.method == "HEAD":
        response = HttpResponse(headers=headers)
        response["Content-Length"] = str(len(data))
        return response
    return HttpResponse(data, headers=headers)
