"""The "Report project" page for signed-in visitors."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from packages.models import Project
from packages.names import normalize_project_name

from .forms import ReportForm
from .services import ModerationError, file_report


def _reportable_project(name: str) -> Project:
    # A quarantined project is already out of sight, for reports as for the rest.
    project = Project.objects.filter(
        normalized_name=normalize_project_name(name), quarantined_at__isnull=True
    ).first()
    if project is None:
        raise Http404("No such project.")
    return project


@never_cache
@login_required
def report_project(request, name):
    project = _reportable_project(name)
    form = ReportForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            file_report(
                project=project,
                reporter=request.user,
                reason=form.cleaned_data["reason"],
                details=form.cleaned_data["details"],
            )
        except ModerationError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("report-project-thanks", name=project.normalized_name)
    return render(request, "moderation/report.html", {"project": project, "form": form})


@never_cache
@login_required
def report_thanks(request, name):
    project = _reportable_project(name)
    return render(request, "moderation/report_thanks.html", {"project": project})
