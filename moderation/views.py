"""The "Report project" page for signed-in visitors."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from accounts.events import Actor
from packages.pages import project_or_404

from .forms import ReportForm
from .services import ModerationError, report_file


@never_cache
@login_required
def report_project(request, name):
    project = project_or_404(name)
    form = ReportForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            report_file(
                project=project,
                actor=Actor.from_request(request),
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
    project = project_or_404(name)
    return render(request, "moderation/report_thanks.html", {"project": project})
