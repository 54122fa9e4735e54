"""Namespace grants (PEP 752; docs/moderation.md, "Namespaces"): granted,
revoked, made open or restricted, hidden or shown through moderation.namespaces,
each with a reason. A grant the rules refuse (an overlap above all) is shown
on the form with the rule's message."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from accounts.events import Actor
from packages.models import Namespace

from .. import namespaces
from ..services import ModerationError
from .support import ModeratorAdmin, ReasonForm, confirm_page, moderation_action


class GrantForm(ReasonForm):
    prefix = forms.CharField(max_length=200, help_text="A project name, e.g. acme or acme-cloud.")
    organization = forms.CharField(max_length=100, help_text="The organization's name.")
    parent = forms.CharField(
        max_length=200, required=False, help_text="A child grant inside this root namespace."
    )
    is_open = forms.BooleanField(
        required=False, label="Open", help_text="Anyone may still create projects under it."
    )
    is_hidden = forms.BooleanField(
        required=False, label="Hidden", help_text="Enforced on uploads, never shown."
    )

    field_order = ["prefix", "organization", "parent", "is_open", "is_hidden", "reason"]


def _change(**flags):
    def call(*, grant: Namespace, actor: Actor, reason: str):
        return namespaces.namespace_change(grant=grant, actor=actor, reason=reason, **flags)

    return call


@admin.register(Namespace)
class NamespaceAdmin(ModeratorAdmin):
    list_display = [
        "normalized_prefix",
        "organization",
        "parent",
        "is_open",
        "is_hidden",
        "created_by",
        "created_at",
    ]
    list_select_related = ["organization", "parent", "created_by"]
    list_filter = ["is_open", "is_hidden"]
    search_fields = ["^normalized_prefix"]
    fields = [*list_display[:5], "prefix", "reason", "created_by", "created_at"]
    readonly_fields = fields
    actions = [
        moderation_action(
            "revoke", "Revoke (with its children)", namespaces.namespace_revoke, "grant"
        ),
        moderation_action("make_open", "Make open", _change(is_open=True), "grant"),
        moderation_action("make_restricted", "Make restricted", _change(is_open=False), "grant"),
        moderation_action("hide", "Hide", _change(is_hidden=True), "grant"),
        moderation_action("show", "Show", _change(is_hidden=False), "grant"),
    ]

    def has_add_permission(self, request, obj=None):
        return admin.ModelAdmin.has_add_permission(self, request)

    def add_view(self, request, form_url="", extra_context=None):
        # Through the service (the rules, the moderator's record), not a ModelForm.
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = GrantForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            try:
                grant = namespaces.namespace_grant(
                    prefix=data["prefix"],
                    organization=namespaces.organization_named(data["organization"]),
                    parent=namespaces.grant_named(data["parent"]) if data["parent"] else None,
                    is_open=data["is_open"],
                    is_hidden=data["is_hidden"],
                    actor=Actor.from_request(request),
                    reason=data["reason"],
                )
            except ModerationError as exc:
                form.add_error("prefix", str(exc))
            else:
                self.message_user(
                    request,
                    f"Granted {grant.normalized_prefix} to {grant.organization.name}.",
                    messages.SUCCESS,
                )
                return redirect("admin:packages_namespace_changelist")
        return confirm_page(
            request, self, title="Grant a namespace", objects=[], form=form, hidden=[]
        )
