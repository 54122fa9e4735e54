"""Placeholder: the 2FA pages (replaced wholesale by their owner)."""

from django.http import Http404


def two_factor(request):
    raise Http404
