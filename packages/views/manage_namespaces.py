"""An organization's namespaces (PEP 752), /manage/organization/<name>/namespaces/:
its grants for every member to see, and for its Owners a form to make a child
grant inside a root grant (``acme-contrib`` open while ``acme`` stays
restricted) and to remove one. Root grants are the moderators'. The rules are
packages.namespaces'; a refusal they explain is the page's message."""

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts.models import Organization

from .. import namespaces
from ..models import Namespace
from ._manage_common import change
from .manage_organizations import organization_context, organization_member_page

PREFIX_LENGTH = Namespace._meta.get_field("prefix").max_length


class ChildForm(forms.Form):
    parent = forms.CharField(max_length=PREFIX_LENGTH)
    prefix = forms.CharField(max_length=PREFIX_LENGTH)
    is_open = forms.BooleanField(required=False)


class RemoveForm(forms.Form):
    prefix = forms.CharField(max_length=PREFIX_LENGTH)


def _grant(organization: Organization, prefix: str) -> Namespace:
    """The organization's grant of ``prefix`` (as posted): 404 otherwise."""
    try:
        normalized = namespaces.normalize_prefix(prefix)
    except namespaces.NamespaceError:
        raise Http404("No such namespace.") from None
    grant = Namespace.objects.filter(
        organization=organization, normalized_prefix=normalized
    ).first()
    if grant is None:
        raise Http404("No such namespace.")
    return grant


def _back(organization: Organization) -> HttpResponse:
    return redirect("manage-organization-namespaces", organization=organization.normalized_name)


@organization_member_page
@require_safe
def organization_namespaces(
    request: HttpRequest, organization: Organization, role: str
) -> HttpResponse:
    grants = namespaces.organization_grants(organization)
    context = organization_context(organization, role, "namespaces")
    context.update(grants=grants, roots=[grant for grant in grants if grant.parent_id is None])
    return render(request, "manage/organization_namespaces.html", context)


@organization_member_page
@require_POST
def namespace_child_add(
    request: HttpRequest, organization: Organization, role: str
) -> HttpResponse:
    form = ChildForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Name the root namespace and the child's prefix.")
        return _back(organization)
    parent = _grant(organization, form.cleaned_data["parent"])
    change(
        request,
        namespaces.child_namespace_create,
        lambda grant: f"The namespace {grant.normalized_prefix} is granted.",
        refused=namespaces.NamespaceError,
        parent=parent,
        prefix=form.cleaned_data["prefix"],
        is_open=form.cleaned_data["is_open"],
    )
    return _back(organization)


@organization_member_page
@require_POST
def namespace_child_remove(
    request: HttpRequest, organization: Organization, role: str
) -> HttpResponse:
    form = RemoveForm(request.POST)
    if not form.is_valid():
        raise Http404("No such namespace.")
    grant = _grant(organization, form.cleaned_data["prefix"])
    change(
        request,
        namespaces.child_namespace_delete,
        f"The namespace {grant.normalized_prefix} is removed.",
        refused=namespaces.NamespaceError,
        grant=grant,
    )
    return _back(organization)
