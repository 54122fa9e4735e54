"""The moderation queues: reports, name reviews, prohibited names, and the log
of what moderators did. See docs/moderation.md."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse

from accounts.events import Actor

from .. import services
from ..models import MalwareReport, ModerationAction, NameReview, ProhibitedName
from .support import (
    ModeratorAdmin,
    ReasonForm,
    admin_link,
    confirm_page,
    moderation_action,
)


class ProhibitedNameForm(ReasonForm):
    name = forms.CharField(max_length=200)

    field_order = ["name", "reason"]


@admin.register(ProhibitedName)
class ProhibitedNameAdmin(admin.ModelAdmin):
    list_display = ["name", "normalized_name", "created_by", "created_at"]
    list_select_related = ["created_by"]
    search_fields = ["^normalized_name"]
    readonly_fields = ["name", "normalized_name", "reason", "created_by", "created_at"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        # Through the service (validation, the moderator's record), not a ModelForm.
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ProhibitedNameForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                services.name_prohibit(
                    name=form.cleaned_data["name"],
                    actor=Actor.from_request(request),
                    reason=form.cleaned_data["reason"],
                )
            except services.ModerationError as exc:
                form.add_error("name", str(exc))
            else:
                self.message_user(
                    request, f"Prohibited: {form.cleaned_data['name']}.", messages.SUCCESS
                )
                return redirect("admin:moderation_prohibitedname_changelist")
        return confirm_page(request, self, title="Prohibit name", objects=[], form=form, hidden=[])


@admin.register(MalwareReport)
class MalwareReportAdmin(ModeratorAdmin):
    list_display = ["created_at", "project_name", "reason", "status", "reporter", "project_link"]
    list_filter = ["status", "reason"]
    list_select_related = ["project", "reporter"]
    search_fields = ["=project_name", "=reporter__username"]
    search_help_text = "Exact project name or reporter's username."
    raw_id_fields = ["project", "reporter"]
    readonly_fields = [
        "project_link",
        "project_name",
        "reporter",
        "reason",
        "details",
        "status",
        "created_at",
        "resolved_by",
        "resolved_at",
        "resolution_note",
    ]
    fields = readonly_fields
    actions = [
        moderation_action(
            "quarantine",
            "Confirm and quarantine project",
            services.report_quarantine,
            "report",
        ),
        moderation_action("confirm", "Confirm report", services.report_confirm, "report"),
        moderation_action("dismiss", "Dismiss report", services.report_dismiss, "report"),
    ]

    @admin.display(description="project")
    def project_link(self, obj):
        return admin_link(obj.project)

    def get_urls(self):
        urls = [
            path(
                "<int:object_id>/quarantine/",
                self.admin_site.admin_view(self.quarantine_view),
                name="moderation_malwarereport_quarantine",
            )
        ]
        return urls + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_moderate": self.has_change_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def quarantine_view(self, request, object_id):
        """The report page's one-click "Quarantine project": asks for the reason."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        report = get_object_or_404(MalwareReport, pk=object_id)
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                services.report_quarantine(
                    report=report,
                    actor=Actor.from_request(request),
                    reason=form.cleaned_data["reason"],
                )
            except services.ModerationError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"Quarantined: {report.project_name}.", messages.SUCCESS)
            return redirect(reverse("admin:moderation_malwarereport_change", args=[report.pk]))
        return confirm_page(
            request,
            self,
            title="Confirm and quarantine project",
            objects=[report],
            form=form,
            hidden=[],
        )


@admin.register(NameReview)
class NameReviewAdmin(ModeratorAdmin):
    list_display = ["created_at", "project_name", "similar_to", "status", "project_link"]
    list_filter = ["status"]
    list_select_related = ["project"]
    search_fields = ["=project_name", "=similar_to"]
    fields = [
        "project_link",
        "project_name",
        "similar_to",
        "status",
        "created_at",
        "reviewed_by",
        "reviewed_at",
    ]
    readonly_fields = fields
    actions = [
        moderation_action("approve", "Approve name", services.name_review_approve, "review"),
    ]

    @admin.display(description="project")
    def project_link(self, obj):
        return admin_link(obj.project)


@admin.register(ModerationAction)
class ModerationActionAdmin(ModeratorAdmin):
    list_display = ["created_at", "action", "project_name", "target_user", "moderator"]
    list_filter = ["action"]
    list_select_related = ["target_user", "moderator"]
    search_fields = ["=project_name", "=moderator__username", "=target_user__username"]
    raw_id_fields = ["project", "target_user", "moderator"]
    readonly_fields = [
        "action",
        "project",
        "project_name",
        "target_user",
        "moderator",
        "reason",
        "details",
        "created_at",
    ]
