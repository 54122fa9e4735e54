"""/pypi/<name>/json, /pypi/<name>/<version>/json and their OpenAPI schema.

Parse, look up, answer: the bodies are built and cached by ``packages.json_api``.
The serializers below describe those bodies for the OpenAPI schema
(drf-spectacular); the tests check every answer against that schema, so the
description can't drift from what is served.
"""

import threading

from django.conf import settings
from django.http import HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_safe
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularJSONAPIView
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from packages import json_api
from packages.models import File, Project, Role
from packages.names import normalize_project_name
from packages.pages import find_project
from packages.surrogate import surrogate_headers

# Browser code reads the API from other origins, as on the public index.
_CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": (
        "Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since"
    ),
    "Access-Control-Allow-Methods": "GET",
    "Access-Control-Max-Age": "86400",
    "Access-Control-Expose-Headers": "X-PyPI-Last-Serial",
}
_CONTENT_TYPE = "application/json"


# --- Response descriptions (OpenAPI) --------------------------------------------------


class DigestsSerializer(serializers.Serializer):
    md5 = serializers.CharField()
    sha256 = serializers.CharField()
    blake2b_256 = serializers.CharField()


class FileSerializer(serializers.Serializer):
    comment_text = serializers.CharField(allow_blank=True, help_text='Always "".')
    digests = DigestsSerializer()
    downloads = serializers.IntegerField(help_text="Always -1 (deprecated).")
    filename = serializers.CharField()
    has_sig = serializers.BooleanField(help_text="Always false (deprecated).")
    md5_digest = serializers.CharField()
    packagetype = serializers.ChoiceField(choices=File.PackageType.choices)
    python_version = serializers.CharField(help_text='"source" for an sdist, else a tag.')
    requires_python = serializers.CharField(allow_null=True)
    size = serializers.IntegerField()
    upload_time = serializers.CharField(help_text="UTC, %Y-%m-%dT%H:%M:%S.")
    upload_time_iso_8601 = serializers.DateTimeField(help_text="UTC, with microseconds and Z.")
    url = serializers.URLField()
    yanked = serializers.BooleanField()
    yanked_reason = serializers.CharField(allow_null=True)


class DownloadsSerializer(serializers.Serializer):
    last_day = serializers.IntegerField()
    last_week = serializers.IntegerField()
    last_month = serializers.IntegerField()


def _strings(**kwargs) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(), **kwargs)


class InfoSerializer(serializers.Serializer):
    author = serializers.CharField(allow_blank=True)
    author_email = serializers.CharField(allow_blank=True)
    bugtrack_url = serializers.CharField(allow_null=True, help_text="Always null.")
    classifiers = _strings()
    description = serializers.CharField(allow_blank=True)
    description_content_type = serializers.CharField(allow_null=True)
    docs_url = serializers.CharField(allow_null=True, help_text="Always null.")
    download_url = serializers.CharField(allow_blank=True)
    downloads = DownloadsSerializer()
    dynamic = _strings(allow_null=True)
    home_page = serializers.CharField(allow_blank=True)
    keywords = serializers.CharField(allow_blank=True)
    license = serializers.CharField(allow_blank=True)
    license_expression = serializers.CharField(allow_null=True)
    license_files = _strings(allow_null=True)
    maintainer = serializers.CharField(allow_blank=True)
    maintainer_email = serializers.CharField(allow_blank=True)
    name = serializers.CharField()
    package_url = serializers.URLField()
    platform = serializers.CharField(allow_null=True)
    project_url = serializers.URLField()
    project_urls = serializers.DictField(child=serializers.CharField(), allow_null=True)
    provides_extra = _strings(allow_null=True)
    release_url = serializers.URLField()
    requires_dist = _strings(allow_null=True)
    requires_python = serializers.CharField(allow_blank=True)
    summary = serializers.CharField(allow_blank=True)
    version = serializers.CharField()
    yanked = serializers.BooleanField()
    yanked_reason = serializers.CharField(allow_null=True)


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.Name.choices)
    user = serializers.CharField()


class OwnershipSerializer(serializers.Serializer):
    roles = RoleSerializer(many=True)
    organization = serializers.CharField(allow_null=True, help_text="Always null.")


class ReleaseJsonSerializer(serializers.Serializer):
    info = InfoSerializer()
    last_serial = serializers.IntegerField()
    ownership = OwnershipSerializer()
    urls = FileSerializer(many=True)
    vulnerabilities = serializers.ListField(
        child=serializers.DictField(), help_text="Always empty: no advisories are imported."
    )


class ProjectJsonSerializer(ReleaseJsonSerializer):
    releases = serializers.DictField(
        child=FileSerializer(many=True), help_text="Every version, files or not."
    )


class NotFoundSerializer(serializers.Serializer):
    message = serializers.CharField()


_ERRORS = {
    301: OpenApiResponse(description="The normalized name (or stored version) is elsewhere."),
    304: OpenApiResponse(description="If-None-Match matched the ETag."),
    404: OpenApiResponse(NotFoundSerializer, description="No such project or version."),
}


# --- Answers ----------------------------------------------------------------------------


class _IgnoreAccept(DefaultContentNegotiation):
    """JSON whatever the Accept header says, as the public index answers."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _cache_headers(surrogate_key: str) -> dict[str, str]:
    return {
        "Cache-Control": f"max-age={settings.SIMPLE_CACHE_SECONDS}, public",
        **surrogate_headers(surrogate_key),
        **_CORS_HEADERS,
    }


def _surrogate_key(normalized_name: str) -> str:
    return f"json json-{normalized_name}"


def _not_found(surrogate_key: str) -> Response:
    # Cacheable under the project's key, like the simple API's 404.
    return Response({"message": "Not Found"}, status=404, headers=_cache_headers(surrogate_key))


def _redirect(location: str, normalized_name: str) -> HttpResponse:
    return HttpResponsePermanentRedirect(
        location, headers=_cache_headers(_surrogate_key(normalized_name))
    )


def _page_response(request, page: json_api.JsonPage, normalized_name: str) -> HttpResponse:
    headers = _cache_headers(_surrogate_key(normalized_name))
    headers["ETag"] = f'"{page.etag}"'
    headers["X-PyPI-Last-Serial"] = str(page.serial)
    not_modified = get_conditional_response(request, etag=headers["ETag"])
    if not_modified is not None:
        for key, value in headers.items():
            not_modified[key] = value
        return not_modified
    return HttpResponse(page.body, content_type=_CONTENT_TYPE, headers=headers)


class _JsonView(APIView):
    http_method_names = ["get", "head"]
    content_negotiation_class = _IgnoreAccept

    def lookup(self, name: str) -> tuple[str, Project | None]:
        """The surrogate key of a 404, and the project ``name`` stands for
        (a PEP 508 name: the route's converter let no other through)."""
        normalized = normalize_project_name(name)
        return _surrogate_key(normalized), find_project(normalized)

    def base_url(self, request) -> str:
        return request.build_absolute_uri("/").rstrip("/")


class ProjectJsonView(_JsonView):
    @extend_schema(
        operation_id="project_json",
        summary="A project: its latest release, and every release's files",
        responses={200: ProjectJsonSerializer, **_ERRORS},
        tags=["JSON API"],
    )
    def get(self, request, name: str):
        surrogate_key, project = self.lookup(name)
        if project is None:
            return _not_found(surrogate_key)
        if name != project.normalized_name:
            location = reverse("json-project", args=[project.normalized_name])
            return _redirect(location, project.normalized_name)
        page = json_api.project_page(project, self.base_url(request))
        if page is None:
            return _not_found(_surrogate_key(project.normalized_name))
        return _page_response(request, page, project.normalized_name)


class ReleaseJsonView(_JsonView):
    @extend_schema(
        operation_id="release_json",
        summary="One release and its files",
        responses={200: ReleaseJsonSerializer, **_ERRORS},
        tags=["JSON API"],
    )
    def get(self, request, name: str, version: str):
        surrogate_key, project = self.lookup(name)
        if project is None:
            return _not_found(surrogate_key)
        page = json_api.release_page(project, version, self.base_url(request))
        if page is None:
            return _not_found(_surrogate_key(project.normalized_name))
        if name != project.normalized_name or version != page.version:
            location = reverse("json-release", args=[project.normalized_name, page.version])
            return _redirect(location, project.normalized_name)
        return _page_response(request, page, project.normalized_name)


@require_safe
def not_a_name(request, **segments) -> HttpResponse:
    """A URL in the API's shape whose name or version no row could hold (the
    routes' converters refused it): the API's own 404, without a lookup, under
    no project's key."""
    return JsonResponse({"message": "Not Found"}, status=404, headers=_cache_headers("json"))


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
