"""Placeholder: the JSON API (replaced wholesale by its owner)."""

from django.http import Http404


def project_json(request, name):
    raise Http404


def release_json(request, name, version):
    raise Http404


def openapi_schema(request):
    raise Http404
