"""/manage/project/<name>/status/: its Owners archive, unarchive, deprecate and
undeprecate the project (PEP 792), through packages.project_status."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .. import project_status
from ..models import Project, ProjectStatus
from ..names import MAX_NAME_LENGTH
from ..policy import Action
from ._manage_common import change
from .manage import _project_context, project_page

_DONE = {
    ProjectStatus.ACTIVE: "{name} is active again.",
    ProjectStatus.ARCHIVED: "{name} is archived: it accepts no new uploads.",
    ProjectStatus.DEPRECATED: "{name} is deprecated.",
}


class StatusForm(forms.Form):
    # What an Owner may set; "quarantined" is the moderators' alone.
    status = forms.ChoiceField(
        choices=[
            (ProjectStatus.ACTIVE, "Active"),
            (ProjectStatus.ARCHIVED, "Archived"),
            (ProjectStatus.DEPRECATED, "Deprecated"),
        ]
    )
    # CharFields refuse a NUL; the length is the service's rule (it says so).
    reason = forms.CharField(required=False)
    successor = forms.CharField(required=False, max_length=MAX_NAME_LENGTH)


@project_page(Action.SETTINGS)
@require_http_methods(["GET", "HEAD", "POST"])
def project_status_page(request: HttpRequest, project: Project, role: str) -> HttpResponse:
    if request.method == "POST":
        form = StatusForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            if change(
                request,
                project_status.project_status_set,
                lambda changed: _DONE[ProjectStatus(changed.status)].format(name=changed.name),
                refused=project_status.ProjectStatusError,
                project=project,
                status=data["status"],
                reason=data["reason"],
                successor=data["successor"].strip(),
            ):
                return redirect("manage-project-status", name=project.normalized_name)
        else:
            for field, errors in form.errors.items():
                messages.error(request, f"The {field}: {' '.join(errors)}")
        status = 400
    else:
        initial = {
            "status": project.status,
            "reason": project.status_reason,
            "successor": project.successor.name if project.successor_id else "",
        }
        form = StatusForm(initial=initial)
        status = 200
    context = _project_context(project, role, "settings")
    context["form"] = form
    context["reason_max_length"] = project_status.STATUS_REASON_MAX_LENGTH
    return render(request, "manage/project_status.html", context, status=status)
