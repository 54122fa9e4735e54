"""/manage/project/<name>/publishing/: its Owners add and remove the trusted
publishers (CI identities) that may mint upload tokens for the project, through
packages.trusted_publishing."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from .. import trusted_publishing
from ..models import OIDCIssuer, Project, TrustedPublisher
from ..policy import Action
from ._manage_common import change, posted_form
from .manage import _project_context, project_page, signed_in_page

Provider = TrustedPublisher.Provider


class PublisherForm(forms.Form):
    provider = forms.ChoiceField(choices=Provider.choices)
    repository = forms.CharField(required=False, max_length=300, label="Repository")
    workflow = forms.CharField(required=False, max_length=300, label="Workflow")
    environment = forms.CharField(required=False, max_length=300, label="Environment")
    repository_owner_id = forms.CharField(required=False, max_length=40, label="Owner id")
    issuer_url = forms.URLField(
        required=False, max_length=400, label="GitLab instance", assume_scheme="https"
    )
    email = forms.CharField(required=False, max_length=254, label="E-mail")
    subject = forms.CharField(required=False, max_length=300, label="Subject")
    # A custom issuer (an admin's OIDCIssuer) and the claims its tokens must carry.
    custom_issuer = forms.ModelChoiceField(
        OIDCIssuer.objects.all(), required=False, label="Custom issuer"
    )
    claims = forms.CharField(required=False, max_length=4000, label="Claims")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The custom choice only where the index's admins configured an issuer.
        self.issuers = list(OIDCIssuer.objects.order_by("name"))
        if not self.issuers:
            self.fields["provider"].choices = [
                choice for choice in Provider.choices if choice[0] != Provider.CUSTOM
            ]


def _publisher_add(*, provider, claims="", custom_issuer=None, **fields):
    """publisher_add with the form's fields: a custom issuer's claims come as
    NAME=VALUE lines (PublisherError, said on the page, when they are not)."""
    if provider == Provider.CUSTOM:
        fields.update(
            custom_issuer=custom_issuer,
            claims=trusted_publishing.parse_claims(claims.splitlines()),
        )
    return trusted_publishing.publisher_add(provider=provider, **fields)


class PendingPublisherForm(PublisherForm):
    project_name = forms.CharField(max_length=200, label="Project name")


class RemoveForm(forms.Form):
    publisher = forms.IntegerField()


@project_page(Action.SETTINGS)
@require_http_methods(["GET", "HEAD", "POST"])
def project_publishing(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    status = 200
    if request.method == "POST":
        data = posted_form(request, PublisherForm)
        if data is not None and change(
            request,
            _publisher_add,
            lambda added: f"{added.identity} may now publish {project.name}.",
            refused=trusted_publishing.PublisherError,
            project=project,
            **data,
        ):
            return redirect("manage-project-publishing", name=project.normalized_name)
        status = 400
    context = _project_context(project, role, "settings")
    context["publishers"] = project.trusted_publishers.all()
    context["form"] = PublisherForm(request.POST or None)
    return render(request, "manage/project_publishing.html", context, status=status)


@project_page(Action.SETTINGS)
@require_POST
def project_publisher_remove(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    data = posted_form(request, RemoveForm)
    publisher = project.trusted_publishers.filter(pk=data["publisher"]).first() if data else None
    if publisher is None:
        messages.error(request, f"{project.name} has no such publisher.")
    else:
        change(
            request,
            trusted_publishing.publisher_remove,
            f"{publisher.identity} may no longer publish {project.name}.",
            refused=trusted_publishing.PublisherError,
            publisher=publisher,
        )
    return redirect("manage-project-publishing", name=project.normalized_name)


def _pending_of(user):
    return TrustedPublisher.objects.filter(project__isnull=True, added_by=user)


@signed_in_page
@require_http_methods(["GET", "HEAD", "POST"])
def pending_publishing(request: HttpRequest) -> HttpResponse:
    """/manage/account/publishing/: the signed-in account's pending publishers,
    each creating its project (owned by the account) on its first exchange."""
    status = 200
    if request.method == "POST":
        data = posted_form(request, PendingPublisherForm) or {}
        name = data.pop("project_name", "")
        if data and change(
            request,
            _publisher_add,
            lambda added: f"{added.identity} may now create {added.pending_name}.",
            refused=trusted_publishing.PublisherError,
            pending_name=name,
            **data,
        ):
            return redirect("manage-pending-publishing")
        status = 400
    context = {
        "publishers": _pending_of(request.user),
        "form": PendingPublisherForm(request.POST or None),
    }
    return render(request, "manage/pending_publishing.html", context, status=status)


@signed_in_page
@require_POST
def pending_publisher_remove(request: HttpRequest) -> HttpResponse:
    data = posted_form(request, RemoveForm)
    publisher = _pending_of(request.user).filter(pk=data["publisher"]).first() if data else None
    if publisher is None:
        messages.error(request, "You have no such pending publisher.")
    else:
        change(
            request,
            trusted_publishing.publisher_remove,
            f"{publisher.identity} may no longer create {publisher.pending_name}.",
            refused=trusted_publishing.PublisherError,
            publisher=publisher,
        )
    return redirect("manage-pending-publishing")
