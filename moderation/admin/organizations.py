"""The moderators' view of organizations: their people, teams and pending
invitations, read-only; deactivating and reactivating one is an action that
asks for the reason (moderation.organizations)."""

from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html_join

from accounts.models import (
    Event,
    Organization,
    OrganizationInvitation,
    OrganizationRole,
    Team,
)
from accounts.organizations import normalize_organization_name
from packages.models import Project

from .. import organizations
from .support import ModeratorAdmin, ReadOnlyInline, changelist_link, moderation_action


class RoleInline(ReadOnlyInline):
    model = OrganizationRole
    fields = ["user", "role_name", "created_at"]
    verbose_name = "member"


class TeamInline(ReadOnlyInline):
    model = Team
    fields = ["name", "members_list", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("members")

    @admin.display(description="members")
    def members_list(self, obj):
        return ", ".join(sorted(user.username for user in obj.members.all())) or "-"


class InvitationInline(ReadOnlyInline):
    model = OrganizationInvitation
    fields = ["user", "role_name", "invited_by", "created_at", "expires_at"]
    verbose_name = "pending invitation"


@admin.register(Organization)
class OrganizationAdmin(ModeratorAdmin):
    list_display = ["name", "display_name", "is_active", "member_count", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["normalized_name"]
    search_help_text = "Start of the organization's name (any spelling)."
    readonly_fields = [
        "name",
        "normalized_name",
        "display_name",
        "link_url",
        "description",
        "is_active",
        "created_at",
        "related",
    ]
    inlines = [RoleInline, TeamInline, InvitationInline]
    actions = [
        moderation_action(
            "deactivate",
            "Deactivate organization",
            organizations.organization_deactivate,
            "organization",
        ),
        moderation_action(
            "reactivate",
            "Reactivate organization",
            organizations.organization_reactivate,
            "organization",
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(members=Count("roles"))

    def get_search_results(self, request, queryset, search_term):
        # A prefix of the normalized name: the unique index serves it (LIKE 'x%').
        term = search_term.strip()
        if term:
            queryset = queryset.filter(
                normalized_name__startswith=normalize_organization_name(term)
            )
        return queryset, False

    @admin.display(description="members", ordering="members")
    def member_count(self, obj):
        return obj.members

    @admin.display(description="related")
    def related(self, obj):
        links = [
            changelist_link(Project, "Projects", organization__id__exact=obj.pk),
            changelist_link(Event, "Events", organization__id__exact=obj.pk),
        ]
        return format_html_join(" · ", "{}", ((link,) for link in links))
