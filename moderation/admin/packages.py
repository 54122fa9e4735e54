"""The moderators' view of projects, releases and files (see docs/moderation.md).

Every row is read-only here: changes go through the admin actions, which call
moderation.services (journal, cache purge, the moderator's reason). Lists stay
fast on large tables: no full counts, searches that use an index, related rows
fetched in the same query.
"""

import re

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from accounts.models import Event
from moderation import services
from moderation.models import MalwareReport, ModerationAction
from packages.models import (
    Classifier,
    DownloadCount,
    EdgePurge,
    File,
    FileRegistry,
    JournalEntry,
    Project,
    Release,
    Role,
    RoleInvitation,
    SearchDocument,
    visible_q,
)
from packages.names import normalize_project_name

from .support import (
    ModeratorAdmin,
    ReadOnlyInline,
    ReasonForm,
    admin_link,
    changelist_link,
    moderation_action,
)

_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")
JOURNAL_PREVIEW = 10


def _name_prefix_search(queryset, term: str, field: str):
    # A prefix of the normalized name: the unique index serves it (LIKE 'x%').
    term = term.strip()
    if not term:
        return queryset
    return queryset.filter(**{f"{field}__startswith": normalize_project_name(term)})


class QuarantinedFilter(admin.SimpleListFilter):
    title = "quarantine"
    parameter_name = "quarantined"

    def lookups(self, request, model_admin):
        return [("yes", "Quarantined"), ("no", "Not quarantined")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.visible()
        if self.value() == "yes":
            return queryset.exclude(visible_q())
        return queryset


class LimitsForm(ReasonForm):
    upload_limit = forms.IntegerField(
        required=False, min_value=1, help_text="Bytes per file; empty: the site's default."
    )
    total_size_limit = forms.IntegerField(
        required=False, min_value=1, help_text="Bytes for all files; empty: the site's default."
    )


class RemoveForm(ReasonForm):
    prohibit_name = forms.BooleanField(
        required=False, help_text="Also prohibit the name, so nobody can register it again."
    )


class RoleInline(ReadOnlyInline):
    model = Role
    fields = ["user", "role_name", "created_at"]
    show_change_link = True


@admin.register(Project)
class ProjectAdmin(ModeratorAdmin):
    list_display = ["name", "normalized_name", "created_at", "quarantined_at", "size_mb"]
    list_filter = [QuarantinedFilter]
    search_fields = ["normalized_name"]
    search_help_text = "Start of the project name (normalized: requests, zope-interface)."
    ordering = ["normalized_name"]
    fields = [
        "name",
        "normalized_name",
        "created_at",
        "last_serial",
        "total_size",
        "upload_limit",
        "total_size_limit",
        "quarantined_at",
        "quarantine_reason",
        "related",
        "recent_journal",
    ]
    readonly_fields = fields
    inlines = [RoleInline]
    actions = [
        moderation_action(
            "quarantine", "Quarantine project", services.project_quarantine, "project"
        ),
        moderation_action(
            "release_quarantine",
            "Release project from quarantine",
            services.project_unquarantine,
            "project",
        ),
        moderation_action(
            "remove",
            "Remove project",
            services.project_remove,
            "project",
            form_class=RemoveForm,
            extra=lambda data: {"prohibit_name": data["prohibit_name"]},
        ),
        moderation_action(
            "set_limits",
            "Set size limits",
            services.project_limits_set,
            "project",
            form_class=LimitsForm,
            extra=lambda data: {
                "upload_limit": data["upload_limit"],
                "total_size_limit": data["total_size_limit"],
            },
        ),
    ]

    def get_search_results(self, request, queryset, search_term):
        return _name_prefix_search(queryset, search_term, "normalized_name"), False

    def view_on_site(self, obj):
        return reverse("project", args=[obj.normalized_name])

    @admin.display(description="size (MB)", ordering="total_size")
    def size_mb(self, obj):
        return f"{obj.total_size / 1_000_000:.1f}"

    @admin.display(description="related")
    def related(self, obj):
        links = [
            changelist_link(Release, "Releases", project__id__exact=obj.pk),
            changelist_link(File, "Files", release__project__id__exact=obj.pk),
            changelist_link(Role, "Roles", project__id__exact=obj.pk),
            changelist_link(MalwareReport, "Reports", project__id__exact=obj.pk),
            changelist_link(ModerationAction, "Moderation actions", project__id__exact=obj.pk),
            changelist_link(Event, "Events", project__id__exact=obj.pk),
            changelist_link(JournalEntry, "Journal", name__exact=obj.name),
        ]
        return format_html_join(" · ", "{}", ((link,) for link in links))

    @admin.display(description="latest journal entries")
    def recent_journal(self, obj):
        entries = JournalEntry.objects.filter(name=obj.name).order_by("-id")[:JOURNAL_PREVIEW]
        return format_html_join(
            mark_safe("<br>"),
            "#{} {:%Y-%m-%d %H:%M} {} {}",
            ((e.id, e.submitted_at, e.action, e.version) for e in entries),
        )


class ProjectIdFilterMixin:
    """Allows the "related" links' filters on a project id across a relation."""

    project_lookups: frozenset[str] = frozenset()

    def lookup_allowed(self, lookup, value, request=None):
        return lookup in self.project_lookups or super().lookup_allowed(lookup, value, request)


@admin.register(Release)
class ReleaseAdmin(ModeratorAdmin):
    list_display = ["__str__", "project_link", "created_at", "yanked", "uploader"]
    list_filter = ["yanked", "is_prerelease"]
    list_select_related = ["project", "uploader"]
    search_fields = ["project__normalized_name"]
    search_help_text = "Exact project name, optionally followed by a version: requests 2.31.0"
    raw_id_fields = ["project", "uploader"]
    ordering = ["-created_at"]
    exclude = ["description", "description_html"]
    actions = [
        moderation_action("yank", "Yank release", services.moderator_release_yank, "release"),
        moderation_action("unyank", "Unyank release", services.moderator_release_unyank, "release"),
        moderation_action("delete", "Delete release", services.moderator_release_delete, "release"),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Release._meta.fields if field.name not in self.exclude] + [
            "files"
        ]

    def get_search_results(self, request, queryset, search_term):
        name, _, version = search_term.strip().partition(" ")
        if not name:
            return queryset, False
        queryset = queryset.filter(project__normalized_name=normalize_project_name(name))
        if version.strip():
            queryset = queryset.filter(version=version.strip())
        return queryset, False

    def view_on_site(self, obj):
        return reverse("release", args=[obj.project.normalized_name, obj.version])

    @admin.display(description="project", ordering="project__normalized_name")
    def project_link(self, obj):
        return admin_link(obj.project)

    @admin.display(description="files")
    def files(self, obj):
        return format_html_join(
            mark_safe("<br>"), "{}", ((admin_link(file),) for file in obj.files.all())
        )


@admin.register(File)
class FileAdmin(ProjectIdFilterMixin, ModeratorAdmin):
    list_display = ["filename", "release_link", "packagetype", "size", "upload_time"]
    list_filter = ["packagetype"]
    list_select_related = ["release__project"]
    search_fields = ["filename"]
    search_help_text = "Start of a filename, or a whole sha256 / blake2b-256 hex digest."
    raw_id_fields = ["release", "uploader"]
    ordering = ["filename"]
    project_lookups = frozenset({"release__project__id__exact"})
    actions = [moderation_action("delete", "Delete file", services.moderator_file_delete, "file")]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in File._meta.fields]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        if _HEX_DIGEST.match(term.lower()):
            digest = term.lower()
            return queryset.filter(sha256_digest=digest) | queryset.filter(
                blake2_256_digest=digest
            ), False
        return queryset.filter(filename__startswith=term), False

    @admin.display(description="release", ordering="release__project__normalized_name")
    def release_link(self, obj):
        return admin_link(obj.release)


@admin.register(Role)
class RoleAdmin(ModeratorAdmin):
    list_display = ["project", "user", "role_name", "created_at"]
    list_filter = ["role_name"]
    list_select_related = ["project", "user"]
    search_fields = ["=project__normalized_name", "=user__username"]
    raw_id_fields = ["project", "user"]
    readonly_fields = ["project", "user", "role_name", "created_at"]


@admin.register(RoleInvitation)
class RoleInvitationAdmin(ModeratorAdmin):
    list_display = ["project", "user", "role_name", "invited_by", "created_at", "expires_at"]
    list_select_related = ["project", "user", "invited_by"]
    search_fields = ["=project__normalized_name", "=user__username"]
    readonly_fields = ["project", "user", "role_name", "invited_by", "created_at", "expires_at"]


@admin.register(FileRegistry)
class FileRegistryAdmin(ModeratorAdmin):
    list_display = ["filename", "created_at"]
    search_fields = ["^filename"]
    readonly_fields = ["filename", "created_at"]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        return (queryset.filter(filename__startswith=term) if term else queryset), False


@admin.register(JournalEntry)
class JournalEntryAdmin(ModeratorAdmin):
    list_display = ["id", "name", "version", "filename", "action", "submitted_at", "submitted_by"]
    list_select_related = ["submitted_by"]
    search_fields = ["=name"]
    search_help_text = "Exact project name, as displayed."
    ordering = ["-id"]
    readonly_fields = [
        "name",
        "version",
        "filename",
        "action",
        "submitted_at",
        "submitted_by",
        "ip_address",
    ]


@admin.register(Classifier)
class ClassifierAdmin(ModeratorAdmin):
    list_display = ["name"]
    search_fields = ["name"]
    readonly_fields = ["name"]


@admin.register(SearchDocument)
class SearchDocumentAdmin(ModeratorAdmin):
    list_display = ["name", "version", "released_at"]
    search_fields = ["^normalized_name"]
    exclude = ["classifiers"]
    readonly_fields = [
        "project",
        "name",
        "normalized_name",
        "version",
        "summary",
        "keywords",
        "people",
        "released_at",
        "created_at",
    ]

    def get_search_results(self, request, queryset, search_term):
        return _name_prefix_search(queryset, search_term, "normalized_name"), False


@admin.register(DownloadCount)
class DownloadCountAdmin(ModeratorAdmin):
    list_display = ["project", "file", "day", "count"]
    list_select_related = ["project", "file"]
    raw_id_fields = ["project", "file"]
    search_fields = ["=project__normalized_name"]
    ordering = ["-day"]
    readonly_fields = ["project", "file", "day", "count"]


@admin.register(EdgePurge)
class EdgePurgeAdmin(ModeratorAdmin):
    """The edge purges still waiting (packages.purges): a row that stays, with
    attempts and an error, is an edge that does not take purges."""

    list_display = ["keys", "created_at", "due_at", "attempts", "last_error"]
    ordering = ["due_at"]
    readonly_fields = ["keys", "created_at", "due_at", "attempts", "last_error", "claim"]
