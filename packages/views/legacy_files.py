"""Placeholder: legacy file URLs (replaced wholesale by its owner)."""

from django.http import Http404


def redirect_legacy_file(request, **kwargs):
    raise Http404
