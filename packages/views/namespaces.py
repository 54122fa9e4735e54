"""PEP 752's namespace endpoints: ``/namespaces`` (every visible grant) and
``/namespace/<prefix>`` (one), in JSON. Hidden grants are never shown: their
prefix answers 404 like one never granted. Cached like the other APIs' answers
under the ``namespaces`` key, which every change of a grant purges
(packages.namespaces.grant_changed)."""

from django.http import HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

from packages import namespaces
from packages.api_common import public_headers
from packages.names import normalize_project_name

NOT_FOUND = {"message": "Not Found"}


def _headers() -> dict[str, str]:
    return public_headers(namespaces.NAMESPACES_KEY)


@require_safe
def namespace_list(request) -> HttpResponse:
    return JsonResponse(namespaces.namespaces_json(), headers=_headers())


@require_safe
def namespace_detail(request, prefix: str) -> HttpResponse:
    normalized = normalize_project_name(prefix)
    grant = (
        namespaces.visible()
        .select_related("organization", "parent")
        .filter(normalized_prefix=normalized)
        .first()
    )
    if grant is None:
        return not_a_namespace(request)
    if prefix != normalized:
        # PEP 752: the URL names the normalized namespace.
        location = reverse("namespace", args=[normalized])
        return HttpResponsePermanentRedirect(location, headers=_headers())
    return JsonResponse(namespaces.namespace_json(grant), headers=_headers())


@require_safe
def not_a_namespace(request, **segments) -> HttpResponse:
    """No such visible grant, or a segment no namespace could be."""
    return JsonResponse(NOT_FOUND, status=404, headers=_headers())
