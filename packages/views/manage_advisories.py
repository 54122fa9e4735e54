"""On a release's management page: its Owners deprecate it (and undo that),
and attach, withdraw and delete the security advisories entered here.

The rules are packages.advisories' and packages.policy's; these views parse the
form, call one service and go back to the release's page with a message.
"""

from functools import wraps

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from .. import advisories
from ..models import Project, Release
from ..policy import Action
from ._manage_common import change, posted_form
from .manage import _posted_id, _release_or_404, project_page


def release_change(action: Action):
    """A POST on a release's page by a role the policy allows ``action``: the
    view gets the release (404 when there is none) and says what it did; the
    answer is the release's page again."""

    def decorator(view):
        @project_page(action)
        @require_POST
        @wraps(view)
        def wrapped(
            request: HttpRequest, project: Project, role: str, version: str
        ) -> HttpResponse:
            release = _release_or_404(project, version)
            view(request, release)
            return redirect("manage-release", name=project.normalized_name, version=release.version)

        return wrapped

    return decorator


def _said(release: Release, what: str) -> str:
    return f"{release.project.name} {release.version} {what}"


class DeprecateForm(forms.Form):
    # A CharField refuses a NUL; the service bounds and requires the reason.
    reason = forms.CharField(required=False)


@release_change(Action.DEPRECATE)
def release_deprecate(request: HttpRequest, release: Release) -> None:
    data = posted_form(request, DeprecateForm)
    if data is None:
        return
    change(
        request,
        advisories.release_deprecate,
        _said(release, "is marked deprecated."),
        refused=advisories.AdvisoryError,
        release=release,
        reason=data["reason"],
    )


@release_change(Action.DEPRECATE)
def release_undeprecate(request: HttpRequest, release: Release) -> None:
    change(
        request,
        advisories.release_undeprecate,
        _said(release, "is no longer deprecated."),
        refused=advisories.AdvisoryError,
        release=release,
    )


def _list(value: str) -> list[str]:
    """Entries separated by commas or spaces."""
    return [item for item in value.replace(",", " ").split() if item]


class AttachForm(forms.Form):
    osv_id = forms.CharField(label="Advisory id", max_length=advisories.ID_MAX_LENGTH)
    summary = forms.CharField(max_length=advisories.SUMMARY_MAX_LENGTH)
    link = forms.CharField(required=False, max_length=advisories.LINK_MAX_LENGTH)
    fixed_in = forms.CharField(label="Fixed in", required=False, max_length=1000)
    aliases = forms.CharField(required=False, max_length=1000)


@release_change(Action.ADVISORIES)
def advisory_attach(request: HttpRequest, release: Release) -> None:
    data = posted_form(request, AttachForm)
    if data is None:
        return
    change(
        request,
        advisories.advisory_attach,
        lambda outcome: f"{outcome.advisory.osv_id} marks {_said(release, 'insecure.')}",
        refused=advisories.AdvisoryError,
        release=release,
        osv_id=data["osv_id"],
        summary=data["summary"],
        link=data["link"],
        fixed_in=_list(data["fixed_in"]),
        aliases=_list(data["aliases"]),
    )


def _change_entered_advisory(request: HttpRequest, release: Release, service, done: str) -> None:
    """``service`` on the posted advisory of the release's project, refused
    (a message) for one a database published: only those entered here are the
    Owners' to change."""
    advisory = get_object_or_404(release.project.advisories, pk=_posted_id(request, "advisory"))

    def owners_change(*, actor) -> None:
        advisories.require_owner_may_change(advisory)
        service(advisory=advisory, actor=actor)

    change(request, owners_change, f"{advisory.osv_id} {done}", refused=advisories.AdvisoryError)


@release_change(Action.ADVISORIES)
def advisory_withdraw(request: HttpRequest, release: Release) -> None:
    _change_entered_advisory(request, release, advisories.advisory_withdraw, "is withdrawn.")


@release_change(Action.ADVISORIES)
def advisory_delete(request: HttpRequest, release: Release) -> None:
    _change_entered_advisory(request, release, advisories.advisory_delete, "is deleted.")
