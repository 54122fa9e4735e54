"""API tokens in the web UI: list, create (the secret shown once), revoke."""

from datetime import UTC, datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from ..events import Actor
from ..models import ApiToken
from ..projects import project_directory
from ..tokens import TOKEN_USERNAME, api_token_create, api_token_revoke, token_display_prefix

SCOPE_USER = "user"
SCOPE_PROJECTS = "projects"
EXPIRY_NEVER = "never"
EXPIRY_DATE = "date"


class TokenCreateForm(forms.Form):
    description = forms.CharField(max_length=200)
    scope = forms.ChoiceField(
        choices=[(SCOPE_USER, "All my projects"), (SCOPE_PROJECTS, "Only the projects I choose")],
        initial=SCOPE_USER,
    )
    # The user's own projects, set in __init__.
    projects = forms.ModelMultipleChoiceField(queryset=None, required=False)
    expiry = forms.ChoiceField(
        choices=[
            (EXPIRY_NEVER, "Never"),
            ("30", "In 30 days"),
            ("90", "In 90 days"),
            ("365", "In a year"),
            (EXPIRY_DATE, "At the end of a date I choose"),
        ],
        initial=EXPIRY_NEVER,
    )
    expires_on = forms.DateField(required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Only projects the user has a role on; a stale or forged id is refused.
        self.fields["projects"].queryset = (
            project_directory().projects_with_role(user).order_by("normalized_name")
        )

    def clean(self):
        data = super().clean()
        if data.get("scope") == SCOPE_PROJECTS and not data.get("projects"):
            self.add_error("projects", "Choose at least one project, or make the token user-wide.")
        if data.get("expiry") == EXPIRY_DATE and "expires_on" not in self.errors:
            day = data.get("expires_on")
            if day is None:
                self.add_error("expires_on", "Choose the date the token expires.")
            elif day <= timezone.now().date():
                self.add_error("expires_on", "The date must be in the future.")
        return data

    def selected_project_ids(self) -> set[str]:
        return {str(pk) for pk in (self["projects"].value() or ())}

    def scoped_projects(self) -> list:
        if self.cleaned_data["scope"] == SCOPE_USER:
            return []
        return list(self.cleaned_data["projects"])

    def expires_at(self) -> datetime | None:
        expiry = self.cleaned_data["expiry"]
        if expiry == EXPIRY_NEVER:
            return None
        if expiry == EXPIRY_DATE:
            # Usable through the whole chosen day (UTC), as the label says.
            day = self.cleaned_data["expires_on"] + timedelta(days=1)
            return datetime.combine(day, time.min, tzinfo=UTC)
        return timezone.now() + timedelta(days=int(expiry))


@never_cache
@login_required
def token_list(request):
    tokens = ApiToken.objects.filter(user=request.user).prefetch_related("projects")
    return render(request, "accounts/tokens.html", {"tokens": tokens, "now": timezone.now()})


@never_cache
@login_required
def token_create(request):
    form = TokenCreateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        minted = api_token_create(
            user=request.user,
            description=form.cleaned_data["description"],
            projects=form.scoped_projects(),
            expires_at=form.expires_at(),
            actor=Actor.from_request(request),
        )
        # Rendered, not redirected: the secret must never sit in a session
        # or a URL, so this response is the only place it ever appears.
        return render(
            request,
            "accounts/tokens_created.html",
            {
                "token": minted.token,
                "secret": minted.secret,
                "token_username": TOKEN_USERNAME,
                "upload_url": request.build_absolute_uri(reverse("upload")),
            },
        )
    return render(
        request,
        "accounts/tokens_create.html",
        {"form": form, "selected_projects": form.selected_project_ids()},
    )


@never_cache
@login_required
@require_POST
def token_revoke(request, pk: int):
    # Someone else's token is "not found", never "forbidden": ids tell nothing.
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    name = token.description or token_display_prefix(token)
    if api_token_revoke(token, actor=Actor.from_request(request)):
        messages.success(request, f"The token “{name}” is revoked.")
    else:
        messages.info(request, f"The token “{name}” was already revoked.")
    return redirect("tokens")
