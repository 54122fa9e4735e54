"""/pypi/<name>/json, /pypi/<name>/<version>/json and their OpenAPI schema.

Parse, look up, answer: the bodies are built and cached by ``packages.json_api``,
whose TypedDicts describe them; the OpenAPI schema (drf-spectacular) is
generated from those types, and the tests check every answer against it, so
the description can't drift from what is served.
"""

import threading

from django.http import HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_safe
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularJSONAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.views import APIView

from packages import json_api, mirrored, project_status
from packages.api_common import JSON_CORS_HEADERS, public_headers
from packages.models import Project
from packages.names import normalize_project_name

_CONTENT_TYPE = "application/json"


# --- Response descriptions (OpenAPI) --------------------------------------------------


class _TypedDictSchema(OpenApiSerializerExtension):
    """Lets ``extend_schema`` take a TypedDict of ``packages.json_api`` as a
    response: pydantic writes its JSON Schema (which OpenAPI 3.1 schemas
    are), and the TypedDicts and enums inside it become components."""

    def get_name(self, auto_schema, direction) -> str:
        return self.target.__name__

    def map_serializer(self, auto_schema, direction) -> dict:
        # Only the schema needs pydantic, and it is asked for rarely: the
        # workers that never serve it don't load it.
        from pydantic import TypeAdapter

        # The docstring under a key becomes its description. pydantic takes
        # that setting for a TypedDict from the class (where type checkers
        # refuse it) or from a type around it: hence the list.
        adapter = TypeAdapter(list[self.target], config={"use_attribute_docstrings": True})
        definitions = adapter.json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization"
        )["$defs"]
        for definition in definitions.values():
            for key in definition.get("properties", {}).values():
                # pydantic titles each key after its name ("Md5"): noise here.
                key.pop("title", None)
        schema = definitions.pop(self.target.__name__)
        for name, definition in definitions.items():
            auto_schema.registry.register_on_missing(
                ResolvedComponent(
                    name=name, type=ResolvedComponent.SCHEMA, object=name, schema=definition
                )
            )
        return schema


# An extension matches one class: one for each type a response names.
class _ProjectJsonSchema(_TypedDictSchema):
    target_class = json_api.ProjectJson


class _ReleaseJsonSchema(_TypedDictSchema):
    target_class = json_api.ReleaseJson


class _NotFoundSchema(_TypedDictSchema):
    target_class = json_api.NotFound


_ERRORS = {
    301: OpenApiResponse(description="The normalized name (or stored version) is elsewhere."),
    304: OpenApiResponse(description="If-None-Match matched the ETag."),
    404: OpenApiResponse(json_api.NotFound, description="No such project or version."),
}


# --- Answers ----------------------------------------------------------------------------


class _IgnoreAccept(DefaultContentNegotiation):
    """JSON whatever the Accept header says, as the public index answers."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _cache_headers(surrogate_key: str) -> dict[str, str]:
    return public_headers(surrogate_key, JSON_CORS_HEADERS)


def _surrogate_key(normalized_name: str) -> str:
    return f"json json-{normalized_name}"


def _not_found(surrogate_key: str) -> HttpResponse:
    # Cacheable under the project's key, like the simple API's 404.
    return JsonResponse(json_api.NOT_FOUND, status=404, headers=_cache_headers(surrogate_key))


def _redirect(location: str, normalized_name: str) -> HttpResponse:
    return HttpResponsePermanentRedirect(
        location, headers=_cache_headers(_surrogate_key(normalized_name))
    )


def _page_response(request, page: json_api.JsonPage, normalized_name: str) -> HttpResponse:
    headers = _cache_headers(_surrogate_key(normalized_name))
    headers["ETag"] = f'"{page.etag}"'
    # A mirrored project whose upstream gives no serial has none to send.
    if page.serial is not None:
        headers["X-PyPI-Last-Serial"] = str(page.serial)
    not_modified = get_conditional_response(request, etag=headers["ETag"])
    if not_modified is not None:
        for key, value in headers.items():
            not_modified[key] = value
        return not_modified
    return HttpResponse(page.body, content_type=_CONTENT_TYPE, headers=headers)


def _mirrored_response(request, page: json_api.JsonPage, normalized_name: str) -> HttpResponse:
    response = _page_response(request, page, normalized_name)
    mirrored.cap_edge_lifetime(response)
    return response


class _JsonView(APIView):
    http_method_names = ["get", "head"]
    content_negotiation_class = _IgnoreAccept

    def lookup(self, name: str) -> tuple[str, Project | None]:
        """The surrogate key of a 404, and the project ``name`` stands for
        (a PEP 508 name: the route's converter let no other through)."""
        normalized = normalize_project_name(name)
        return _surrogate_key(normalized), Project.objects.visible().by_name(normalized)

    def base_url(self, request) -> str:
        return request.build_absolute_uri("/").rstrip("/")

    def not_found(self, name: str, surrogate_key: str) -> HttpResponse:
        """The 404 of a name with no project to show; a quarantined project's
        says so (PEP 792)."""
        quarantined = project_status.quarantined_project(name)
        if quarantined is None:
            return _not_found(surrogate_key)
        body = json_api.quarantined_not_found(quarantined)
        return JsonResponse(body, status=404, headers=_cache_headers(surrogate_key))

    def mirrored(self, name: str) -> mirrored.Mirrored | None:
        """The project mirrored from the upstream under ``name`` (a name with
        no local project), fetched first when never asked for."""
        return mirrored.lookup(name, fetch=True)


class ProjectJsonView(_JsonView):
    @extend_schema(
        operation_id="project_json",
        summary="A project: its latest release, and every release's files",
        responses={200: json_api.ProjectJson, **_ERRORS},
        tags=["JSON API"],
    )
    def get(self, request, name: str):
        surrogate_key, project = self.lookup(name)
        if project is None:
            return self.mirrored_project(request, name, surrogate_key)
        if name != project.normalized_name:
            location = reverse("json-project", args=[project.normalized_name])
            return _redirect(location, project.normalized_name)
        page = json_api.project_page(project, self.base_url(request))
        if page is None:
            return _not_found(_surrogate_key(project.normalized_name))
        return _page_response(request, page, project.normalized_name)

    def mirrored_project(self, request, name: str, surrogate_key: str) -> HttpResponse:
        found = self.mirrored(name)
        if found is None:
            return self.not_found(name, surrogate_key)
        if name != found.name:
            return _redirect(reverse("json-project", args=[found.name]), found.name)
        page = json_api.mirrored_project_page(found, self.base_url(request))
        return _mirrored_response(request, page, found.name)


class ReleaseJsonView(_JsonView):
    @extend_schema(
        operation_id="release_json",
        summary="One release and its files",
        responses={200: json_api.ReleaseJson, **_ERRORS},
        tags=["JSON API"],
    )
    def get(self, request, name: str, version: str):
        surrogate_key, project = self.lookup(name)
        if project is None:
            return self.mirrored_release(request, name, version, surrogate_key)
        page = json_api.release_page(project, version, self.base_url(request))
        if page is None:
            return _not_found(_surrogate_key(project.normalized_name))
        if name != project.normalized_name or version != page.version:
            location = reverse("json-release", args=[project.normalized_name, page.version])
            return _redirect(location, project.normalized_name)
        return _page_response(request, page, project.normalized_name)

    def mirrored_release(self, request, name: str, version: str, surrogate_key: str):
        found = self.mirrored(name)
        base_url = self.base_url(request)
        page = None if found is None else json_api.mirrored_release_page(found, version, base_url)
        if page is None:
            return self.not_found(name, surrogate_key)
        if name != found.name or version != page.version:
            location = reverse("json-release", args=[found.name, page.version])
            return _redirect(location, found.name)
        return _mirrored_response(request, page, found.name)


@require_safe
def not_a_name(request, **segments) -> HttpResponse:
    """A URL in the API's shape whose name or version no row could hold (the
    routes' converters refused it): the API's own 404, without a lookup, under
    no project's key."""
    return _not_found("json")


def _csrf_checked(view):
    # DRF exempts its views from Django's CSRF check (it runs its own, for
    # session logins). These only answer GET and HEAD, so nothing needs the
    # exemption, and the rule that only known views skip CSRF still holds.
    view.csrf_exempt = False
    return view


project_json = _csrf_checked(ProjectJsonView.as_view())
release_json = _csrf_checked(ReleaseJsonView.as_view())


class _SchemaView(SpectacularJSONAPIView):
    # drf-spectacular resolves its extension classes lazily, on a process's
    # first schema, and threads doing that at once see each other's half-done
    # work: 15 of 16 simultaneous first requests to a fresh worker answered 500.
    # The schema is asked for rarely: one at a time.
    def get(self, request, *args, **kwargs):
        with _SCHEMA_LOCK:
            return super().get(request, *args, **kwargs)


_SCHEMA_LOCK = threading.Lock()
openapi_schema = _csrf_checked(_SchemaView.as_view())
