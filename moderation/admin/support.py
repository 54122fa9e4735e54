"""Pieces the moderators' admin shares across apps: a paginator that never
counts a large table, read-only model admins, and admin actions that ask for a
reason on a confirmation page and then call a moderation service."""

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.paginator import Paginator
from django.db import connections
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from accounts.events import Actor

from ..services import ModerationError

# Up to this many rows a changelist is counted exactly (bounded COUNT);
# beyond, PostgreSQL's planner estimate is shown instead.
EXACT_COUNT_LIMIT = 10_000
# Objects listed on a confirmation page (all of them are acted on).
CONFIRM_LIST_LIMIT = 100


def planner_estimate(queryset) -> int:
    """The number of rows PostgreSQL's planner expects the query to return."""
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]  # psycopg parses the json
    return int(plan[0]["Plan"]["Plan Rows"])


def _no_estimate(queryset) -> int:
    return 0


# Databases whose planner can estimate a result's size.
ESTIMATORS = {"postgresql": planner_estimate}


class EstimatedCountPaginator(Paginator):
    """A COUNT(*) of millions of rows takes seconds on PostgreSQL (it reads them
    all). Small results are counted exactly, with a bounded count; large ones
    show the planner's estimate, so page links are approximate."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        vendor = connections[queryset.db].vendor
        estimate = ESTIMATORS.get(vendor, _no_estimate)(queryset)
        if estimate > EXACT_COUNT_LIMIT:
            return estimate
        # SELECT COUNT(*) FROM (... LIMIT n): reads at most n rows.
        return queryset[: EXACT_COUNT_LIMIT + 1].count()


class ReadOnlyInline(admin.TabularInline):
    """Related rows shown on a moderator's page as they are: no add, no edit,
    no delete (changes go through the actions, as for ModeratorAdmin).
    Subclasses name the ``fields``; all of them are read-only."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ModeratorAdmin(admin.ModelAdmin):
    """Rows a moderator looks at but never edits by hand: no add, no edit form
    (the change view is read-only), no delete. The model's "change" permission
    only unlocks the admin actions, which go through moderation.services so
    each change is journaled and recorded with a reason."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False


def admin_link(obj, label: str | None = None) -> str:
    """A link to ``obj``'s admin page ("-" without one)."""
    if obj is None:
        return "-"
    meta = obj._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


def changelist_link(model, label: str, **filters) -> str:
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return format_html('<a href="{}?{}">{}</a>', url, query, label)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded with the action, with your name and the time.",
    )


def confirm_page(request, modeladmin, *, title, objects, form, hidden, post_url=""):
    return TemplateResponse(
        request,
        "admin/moderation/confirm_action.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "objects": objects,
            "form": form,
            "hidden": hidden,
            "post_url": post_url,
            "opts": modeladmin.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        },
    )


def moderation_action(
    name: str,
    description: str,
    service: Callable,
    object_kwarg: str,
    *,
    form_class: type[ReasonForm] = ReasonForm,
    extra: Callable[[dict], dict] = lambda data: {},
):
    """An admin action that shows a confirmation page asking for the reason
    (and the form's other fields), then calls ``service`` for each selected
    object with the moderator (their address and user agent too) and ``reason``."""

    def action(modeladmin, request, queryset):
        form = form_class(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            actor = Actor.from_request(request)
            done = 0
            for obj in queryset:
                try:
                    service(
                        **{object_kwarg: obj},
                        actor=actor,
                        reason=form.cleaned_data["reason"],
                        **extra(form.cleaned_data),
                    )
                except ModerationError as exc:
                    modeladmin.message_user(request, f"{obj}: {exc}", messages.ERROR)
                else:
                    done += 1
            if done:
                modeladmin.message_user(
                    request, f"{description}: done for {done}.", messages.SUCCESS
                )
            return None
        objects = list(queryset[:CONFIRM_LIST_LIMIT])
        hidden = [("action", name), ("select_across", request.POST.get("select_across", "0"))]
        hidden += [(helpers.ACTION_CHECKBOX_NAME, obj.pk) for obj in objects]
        return confirm_page(
            request, modeladmin, title=description, objects=objects, form=form, hidden=hidden
        )

    action.__name__ = name
    return admin.action(description=description, permissions=["change"])(action)
