"""Placeholder: the XML-RPC endpoint (replaced wholesale by its owner)."""

from django.http import Http404


def xmlrpc(request):
    raise Http404
