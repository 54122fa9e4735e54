"""Security advisories (packages.Advisory) in the moderators' console: every
advisory, whoever entered it; an OSV record pasted in to add or update one;
withdraw and delete as actions asking for a reason (moderation.advisories)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from accounts.events import Actor
from packages.advisories import MAX_RECORD_BYTES
from packages.models import Advisory

from .. import advisories
from ..services import ModerationError
from .support import ModeratorAdmin, ReasonForm, confirm_page, moderation_action


class ImportForm(ReasonForm):
    record = forms.CharField(
        label="OSV record",
        widget=forms.Textarea(attrs={"rows": 16, "cols": 80}),
        max_length=MAX_RECORD_BYTES,
        help_text=(
            "One OSV JSON record (as osv.dev serves it): it is stored on each project of "
            "this index its PyPI packages name. The same id again updates it."
        ),
    )

    field_order = ["record", "reason"]


class WithdrawnFilter(admin.SimpleListFilter):
    title = "withdrawn"
    parameter_name = "withdrawn"

    def lookups(self, request, model_admin):
        return [("no", "In force"), ("yes", "Withdrawn")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(withdrawn_at__isnull=self.value() == "no")
        return queryset


@admin.register(Advisory)
class AdvisoryAdmin(ModeratorAdmin):
    list_display = ["osv_id", "project", "summary", "source", "fixed_in", "withdrawn_at"]
    list_select_related = ["project"]
    list_filter = [WithdrawnFilter, "source"]
    search_fields = ["osv_id", "project__normalized_name"]
    search_help_text = "The advisory id, or the project's normalized name."
    fields = [
        "osv_id",
        "project",
        "summary",
        "details",
        "aliases",
        "link",
        "source",
        "affected_versions",
        "ranges",
        "fixed_in",
        "published_at",
        "modified_at",
        "withdrawn_at",
        "created_by",
        "created_at",
    ]
    readonly_fields = fields
    actions = [
        moderation_action(
            "withdraw", "Withdraw advisory", advisories.moderator_advisory_withdraw, "advisory"
        ),
        moderation_action(
            "delete_advisory",
            "Delete advisory",
            advisories.moderator_advisory_delete,
            "advisory",
        ),
    ]

    def has_add_permission(self, request, obj=None):
        return admin.ModelAdmin.has_add_permission(self, request)

    def add_view(self, request, form_url="", extra_context=None):
        # Through the service (the record's validation, the moderator's
        # record), not a ModelForm.
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                outcomes = advisories.moderator_advisory_import(
                    text=form.cleaned_data["record"],
                    actor=Actor.from_request(request),
                    reason=form.cleaned_data["reason"],
                )
            except ModerationError as exc:
                form.add_error("record", str(exc))
            else:
                for outcome in outcomes:
                    level = messages.WARNING if outcome.result == "skipped" else messages.SUCCESS
                    why = f" ({outcome.reason})" if outcome.reason else ""
                    self.message_user(request, f"{outcome.project}: {outcome.result}{why}.", level)
                return redirect("admin:packages_advisory_changelist")
        return confirm_page(
            request, self, title="Add or update an advisory", objects=[], form=form, hidden=[]
        )
