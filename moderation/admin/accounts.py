"""The moderators' view of accounts and the kill switches (see docs/moderation.md).

Moderators (the "Moderators" group) see accounts read-only and freeze or
unfreeze them through the actions; they can't add users or edit tokens.
Superusers, the administrators, edit accounts with Django's usual forms.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Q
from django.utils.html import format_html_join

from accounts.models import (
    AdminFlag,
    ApiToken,
    Email,
    Event,
    RecoveryCode,
    User,
    WebAuthnCredential,
)
from accounts.tokens import token_display_prefix
from moderation import services
from moderation.models import ModerationAction
from packages.models import Role

from .support import (
    EstimatedCountPaginator,
    ModeratorAdmin,
    ReadOnlyInline,
    changelist_link,
    moderation_action,
)


class EmailInline(ReadOnlyInline):
    model = Email
    fields = ["email", "primary", "verified", "verified_at"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "is_staff", "is_frozen", "date_joined", "last_login"]
    list_filter = ["is_frozen", "is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["^username", "^email", "=emails__email"]
    search_help_text = "Start of a username or e-mail address, or a whole address."
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    inlines = [EmailInline]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        ("Moderation", {"fields": ["is_frozen", "related"]}),
    ]
    actions = [
        moderation_action("freeze", "Freeze account", services.user_freeze, "user"),
        moderation_action("unfreeze", "Unfreeze account", services.user_unfreeze, "user"),
    ]

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return ["is_frozen", "related", "last_login", "date_joined"]
        # Moderators only look (the view page shows every field read-only).
        return []

    def get_fieldsets(self, request, obj=None):
        if obj is None or request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        # Not the password hash, even read-only.
        return [
            (None, {"fields": ["username", "first_name", "last_name", "email"]}),
            ("Status", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
            ("Dates", {"fields": ["last_login", "date_joined"]}),
            ("Moderation", {"fields": ["is_frozen", "related"]}),
        ]

    def has_change_permission(self, request, obj=None):
        # A moderator's "change" permission unlocks the actions only: editing
        # an account by hand (is_staff, groups ...) is for administrators.
        if obj is not None and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description="related")
    def related(self, obj):
        links = [
            changelist_link(Role, "Roles", user__id__exact=obj.pk),
            changelist_link(ApiToken, "API tokens", user__id__exact=obj.pk),
            changelist_link(Event, "Events", user__id__exact=obj.pk),
            changelist_link(ModerationAction, "Moderation actions", target_user__id__exact=obj.pk),
        ]
        return format_html_join(" · ", "{}", ((link,) for link in links))


@admin.register(Email)
class EmailAdmin(ModeratorAdmin):
    list_display = ["email", "user", "primary", "verified", "created_at"]
    list_filter = ["verified", "primary"]
    list_select_related = ["user"]
    search_fields = ["^email", "=user__username"]
    raw_id_fields = ["user"]
    readonly_fields = ["user", "email", "primary", "verified", "created_at", "verified_at"]


class TagFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"
    # kind -> (label, the tag prefixes it covers)
    KINDS = {
        "account:login": ("Logins", ("account:login:",)),
        "account:token": ("API tokens", ("account:token:",)),
        "account:two-factor": ("Two-factor", ("account:two-factor:",)),
        "account:email": ("E-mail addresses", ("account:email:",)),
        "account:frozen": ("Frozen and unfrozen", ("account:frozen", "account:unfrozen")),
        "project:": ("Projects", ("project:",)),
        "organization:": ("Organizations", ("organization:",)),
    }

    def lookups(self, request, model_admin):
        return [(kind, label) for kind, (label, _prefixes) in self.KINDS.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.KINDS:
            return queryset
        _label, prefixes = self.KINDS[self.value()]
        matches = Q()
        for prefix in prefixes:
            matches |= Q(tag__startswith=prefix)
        return queryset.filter(matches)


@admin.register(Event)
class EventAdmin(ModeratorAdmin):
    list_display = ["created_at", "tag", "user", "project_name", "actor", "ip_address"]
    list_filter = [TagFilter]
    list_select_related = ["user", "actor"]
    search_fields = ["=user__username", "=project_name", "=ip_address"]
    search_help_text = "Exact username, project name or IP address."
    raw_id_fields = ["user", "project", "actor"]
    readonly_fields = [
        "tag",
        "user",
        "project",
        "project_name",
        "actor",
        "ip_address",
        "user_agent",
        "details",
        "created_at",
    ]


@admin.register(ApiToken)
class ApiTokenAdmin(ModeratorAdmin):
    list_display = ["prefix", "user", "description", "scoped", "created_at", "last_used_at"]
    list_filter = ["scoped"]
    list_select_related = ["user"]
    search_fields = ["=user__username", "=lookup_id"]
    raw_id_fields = ["user", "projects"]
    readonly_fields = [
        "prefix",
        "user",
        "description",
        "scoped",
        "projects",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    exclude = ["lookup_id", "secret_digest"]

    @admin.display(description="token")
    def prefix(self, obj):
        return token_display_prefix(obj)


@admin.register(WebAuthnCredential)
class WebAuthnCredentialAdmin(ModeratorAdmin):
    list_display = ["label", "user", "created_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["=user__username"]
    fields = ["user", "label", "created_at", "last_used_at"]
    readonly_fields = fields


@admin.register(RecoveryCode)
class RecoveryCodeAdmin(ModeratorAdmin):
    list_display = ["user", "created_at", "used_at"]
    list_select_related = ["user"]
    search_fields = ["=user__username"]
    fields = ["user", "created_at", "used_at"]
    readonly_fields = fields


@admin.register(AdminFlag)
class KillSwitchAdmin(ModeratorAdmin):
    """The kill switches (accounts.flags), switched by an action that asks for
    the reason; each change is a ModerationAction. Needs accounts'
    change_adminflag permission (the Moderators group has it)."""

    list_display = ["id", "enabled", "description", "changed_by", "changed_at", "reason"]
    list_select_related = ["changed_by"]
    fields = list_display
    readonly_fields = list_display
    paginator = admin.ModelAdmin.paginator  # four rows: no estimate needed
    actions = [
        moderation_action(
            "switch_on",
            "Switch on",
            services.kill_switch_set,
            "flag",
            extra=lambda data: {"enabled": True},
        ),
        moderation_action(
            "switch_off",
            "Switch off",
            services.kill_switch_set,
            "flag",
            extra=lambda data: {"enabled": False},
        ),
    ]
