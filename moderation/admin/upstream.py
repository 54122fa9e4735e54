"""The moderators' curation of the mirrored upstream index (see docs/moderation.md,
"The upstream index"): blocks, mirrored projects and the names both here and
upstream. Every change goes through moderation.upstream, with a reason."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.shortcuts import redirect
from django.urls import reverse

from accounts.events import Actor
from packages.models import Project, UpstreamBlock, UpstreamProject
from packages.names import normalize_project_name

from .. import upstream
from ..services import ModerationError
from .support import ModeratorAdmin, ReasonForm, confirm_page, moderation_action


class BlockForm(ReasonForm):
    name = forms.CharField(max_length=200, help_text="The upstream project's name.")
    version = forms.CharField(
        max_length=100, required=False, help_text="One version (PEP 440); empty: every version."
    )

    field_order = ["name", "version", "reason"]


def _name_prefix_search(queryset, term: str):
    # A prefix of the normalized name: the unique index serves it (LIKE 'x%').
    term = term.strip()
    if not term:
        return queryset
    return queryset.filter(normalized_name__startswith=normalize_project_name(term))


def _unblock_action():
    action = moderation_action(
        "unblock", "Unblock (offer again)", upstream.upstream_block_delete, "block"
    )
    # Allowed by the "delete" permission: it removes the row (with a reason).
    action.allowed_permissions = ("delete",)
    return action


def _local_project():
    return Exists(Project.objects.filter(normalized_name=OuterRef("normalized_name")))


@admin.register(UpstreamBlock)
class UpstreamBlockAdmin(ModeratorAdmin):
    list_display = ["normalized_name", "version", "reason", "created_by", "created_at"]
    list_select_related = ["created_by"]
    search_fields = ["normalized_name"]
    search_help_text = "Start of the project name (normalized)."
    readonly_fields = ["normalized_name", "version", "reason", "created_by", "created_at"]
    actions = [_unblock_action()]

    def get_search_results(self, request, queryset, search_term):
        return _name_prefix_search(queryset, search_term), False

    def has_add_permission(self, request, obj=None):
        return admin.ModelAdmin.has_add_permission(self, request)

    def has_delete_permission(self, request, obj=None):
        # A block is lifted through the "Unblock" action, which asks for the
        # reason; the stock delete page would record none.
        return obj is None and admin.ModelAdmin.has_delete_permission(self, request)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def add_view(self, request, form_url="", extra_context=None):
        # Through the service (validation, the moderator's record), not a ModelForm.
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = BlockForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                block = upstream.upstream_block(
                    name=form.cleaned_data["name"],
                    version=form.cleaned_data["version"],
                    actor=Actor.from_request(request),
                    reason=form.cleaned_data["reason"],
                )
            except ModerationError as exc:
                # The message names the value it refuses (name or version).
                form.add_error("name", str(exc))
            else:
                self.message_user(request, f"Blocked: {block}.", messages.SUCCESS)
                return redirect("admin:packages_upstreamblock_changelist")
        return confirm_page(
            request, self, title="Block from the upstream", objects=[], form=form, hidden=[]
        )


class QuarantinedFilter(admin.SimpleListFilter):
    title = "quarantine"
    parameter_name = "quarantined"

    def lookups(self, request, model_admin):
        return [("yes", "Quarantined"), ("no", "Not quarantined")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(quarantined_at__isnull=self.value() == "no")
        return queryset


class BothFilter(admin.SimpleListFilter):
    """The names a local project and the upstream both have: the local one is
    served, the upstream's never (moderation.upstream.upstream_check refreshes
    what the upstream was last known to have)."""

    title = "name"
    parameter_name = "both"

    def lookups(self, request, model_admin):
        return [
            ("yes", "Exists both here and upstream"),
            ("no", "Only upstream (mirrored)"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(_local_project(), exists=True)
        if self.value() == "no":
            return queryset.exclude(_local_project())
        return queryset


def _by_name(service):
    """A moderation.upstream service (by name) as an action on a row."""

    def call(*, row: UpstreamProject, actor: Actor, reason: str):
        return service(name=row.normalized_name, actor=actor, reason=reason)

    return call


@admin.register(UpstreamProject)
class UpstreamProjectAdmin(ModeratorAdmin):
    list_display = [
        "normalized_name",
        "exists",
        "local",
        "checked_at",
        "quarantined_at",
        "claim_allowed_at",
    ]
    list_filter = [BothFilter, "exists", QuarantinedFilter]
    search_fields = ["normalized_name"]
    search_help_text = "Start of the project name (normalized)."
    fields = [
        "normalized_name",
        "exists",
        "local",
        "created_at",
        "checked_at",
        "upstream_serial",
        "quarantined_at",
        "quarantine_reason",
        "claim_allowed_at",
        "claim_allowed_by",
        "claim_reason",
    ]
    readonly_fields = fields
    actions = [
        moderation_action(
            "quarantine",
            "Quarantine mirrored project",
            _by_name(upstream.upstream_quarantine),
            "row",
        ),
        moderation_action(
            "release_quarantine",
            "Release mirrored project from quarantine",
            _by_name(upstream.upstream_unquarantine),
            "row",
        ),
        moderation_action(
            "allow_claim",
            "Allow a local project to take the name",
            _by_name(upstream.upstream_claim_allow),
            "row",
        ),
        moderation_action("block", "Block (never offer)", _by_name(upstream.upstream_block), "row"),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(has_local=_local_project())

    def get_search_results(self, request, queryset, search_term):
        return _name_prefix_search(queryset, search_term), False

    def view_on_site(self, obj):
        return reverse("project", args=[obj.normalized_name])

    @admin.display(description="local project", boolean=True, ordering="has_local")
    def local(self, obj):
        return obj.has_local
