"""On a release's management page: its Owners deprecate it (and undo that),
and attach, withdraw and delete the security advisories entered here.

The rules are packages.advisories' and packages.policy's; these views parse the
form, call one service and go back to the release's page with a message.
"""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from accounts.events import Actor

from .. import advisories
from ..models import Project, Release
from ..policy import Action
from .manage import _posted_id, _release_or_404, project_page


def _back(release: Release) -> HttpResponse:
    return redirect("manage-release", name=release.project.normalized_name, version=release.version)


def _form_errors(form: forms.Form) -> str:
    return " ".join(
        f"{form.fields[name].label or name}: {' '.join(errors)}"
        for name, errors in form.errors.items()
    )


class DeprecateForm(forms.Form):
    # A CharField refuses a NUL; the service bounds and requires the reason.
    reason = forms.CharField(required=False)


@project_page(Action.DEPRECATE)
@require_POST
def release_deprecate(
    request: HttpRequest, project: Project, role: str, version: str
) -> HttpResponse:
    release = _release_or_404(project, version)
    form = DeprecateForm(request.POST)
    try:
        if not form.is_valid():
            raise advisories.AdvisoryError(_form_errors(form))
        advisories.release_deprecate(
            release=release, reason=form.cleaned_data["reason"], actor=Actor.from_request(request)
        )
    except advisories.AdvisoryError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{project.name} {release.version} is marked deprecated.")
    return _back(release)


@project_page(Action.DEPRECATE)
@require_POST
def release_undeprecate(
    request: HttpRequest, project: Project, role: str, version: str
) -> HttpResponse:
    release = _release_or_404(project, version)
    try:
        advisories.release_undeprecate(release=release, actor=Actor.from_request(request))
    except advisories.AdvisoryError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{project.name} {release.version} is no longer deprecated.")
    return _back(release)


def _list(value: str) -> list[str]:
    """Entries separated by commas or spaces."""
    return [item for item in value.replace(",", " ").split() if item]


class AttachForm(forms.Form):
    osv_id = forms.CharField(label="Advisory id", max_length=advisories.ID_MAX_LENGTH)
    summary = forms.CharField(max_length=advisories.SUMMARY_MAX_LENGTH)
    link = forms.CharField(required=False, max_length=advisories.LINK_MAX_LENGTH)
    fixed_in = forms.CharField(label="Fixed in", required=False, max_length=1000)
    aliases = forms.CharField(required=False, max_length=1000)


@project_page(Action.ADVISORIES)
@require_POST
def advisory_attach(
    request: HttpRequest, project: Project, role: str, version: str
) -> HttpResponse:
    release = _release_or_404(project, version)
    form = AttachForm(request.POST)
    try:
        if not form.is_valid():
            raise advisories.AdvisoryError(_form_errors(form))
        data = form.cleaned_data
        outcome = advisories.advisory_attach(
            release=release,
            osv_id=data["osv_id"],
            summary=data["summary"],
            link=data["link"],
            fixed_in=_list(data["fixed_in"]),
            aliases=_list(data["aliases"]),
            actor=Actor.from_request(request),
        )
    except advisories.AdvisoryError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"{outcome.advisory.osv_id} marks {project.name} {release.version} insecure."
        )
    return _back(release)


def _advisory(request: HttpRequest, project: Project):
    return get_object_or_404(project.advisories, pk=_posted_id(request, "advisory"))


@project_page(Action.ADVISORIES)
@require_POST
def advisory_withdraw(
    request: HttpRequest, project: Project, role: str, version: str
) -> HttpResponse:
    release = _release_or_404(project, version)
    advisory = _advisory(request, project)
    try:
        advisories.require_owner_may_change(advisory)
        advisories.advisory_withdraw(advisory=advisory, actor=Actor.from_request(request))
    except advisories.AdvisoryError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{advisory.osv_id} is withdrawn.")
    return _back(release)


@project_page(Action.ADVISORIES)
@require_POST
def advisory_delete(
    request: HttpRequest, project: Project, role: str, version: str
) -> HttpResponse:
    release = _release_or_404(project, version)
    advisory = _advisory(request, project)
    try:
        advisories.require_owner_may_change(advisory)
        advisories.advisory_delete(advisory=advisory, actor=Actor.from_request(request))
    except advisories.AdvisoryError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{advisory.osv_id} is deleted.")
    return _back(release)
