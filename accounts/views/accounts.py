"""Account pages: register, verify, log in/out, passwords, e-mail addresses,
deletion. Django's auth views do the password work; the rules are in
accounts.services."""

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from common.client_address import client_address
from common.ratelimit import (
    Rules,
    client_network,
    limit_hit,
    limit_take,
    limit_wait,
    try_again,
)

from .. import flags, services, two_factor
from ..events import Actor, record_event
from ..forms import (
    AddEmailForm,
    DeleteAccountForm,
    EmailActionForm,
    LoginForm,
    RegistrationForm,
    VerifiedAddressPasswordResetForm,
    normalize_email,
    normalize_username,
)

# --- Rate limits (common.ratelimit; names and sizes in settings.RATELIMITS) ---


def login_limits(request: HttpRequest, username: str) -> Rules:
    """Sign-in attempts count per account name, as the login form reads it
    (any case), and per client IP."""
    return [
        ("login", [normalize_username(username).lower()]),
        ("login-ip", [client_network(client_address(request))]),
    ]


def too_many_attempts(request: HttpRequest, retry_after: int) -> HttpResponse:
    """The 429 page: what happened, when to try again, and what else to do."""
    response = render(
        request, "accounts/ratelimited.html", {"try_again": try_again(retry_after)}, status=429
    )
    response["Retry-After"] = str(retry_after)
    return response


def refuse_when_limited(request: HttpRequest, rules: Rules) -> HttpResponse | None:
    """Count the attempt against ``rules``; a 429 page if it is over a limit."""
    wait = limit_take(rules)
    if wait is not None:
        return too_many_attempts(request, wait)
    return None


@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def register(request):
    if request.user.is_authenticated:
        return redirect("account-settings")
    if flags.registration_closed():
        context = {"message": flags.REGISTRATION_DISABLED}
        return render(request, "accounts/registration_closed.html", context, status=403)
    form = RegistrationForm(request.POST or None)
    # Only accounts made count: someone fixing typos in the form is no flood.
    rules = [("register", [client_network(client_address(request))])]
    if request.method == "POST" and (wait := limit_wait(rules)) is not None:
        return too_many_attempts(request, wait)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_register(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                actor=Actor.from_request(request),
                request=request,
            )
        except services.AccountError as exc:
            form.add_error(exc.field, exc.message)
        else:
            limit_hit(rules)
            login(request, user, backend="accounts.backends.AccountBackend")
            messages.success(
                request,
                f"Welcome, {user.username}! We sent a verification link to {user.email}; "
                "follow it to be able to publish packages.",
            )
            return redirect("account-settings")
    return render(request, "accounts/register.html", {"form": form})


@never_cache
@require_GET
def verify_email(request):
    try:
        email, newly = services.email_verify(
            token=request.GET.get("token", ""), actor=Actor.from_request(request)
        )
    except services.VerificationLinkError as exc:
        # Only the account's owner, signed in, is offered a new link.
        resend = exc.email if exc.email and exc.email.user_id == request.user.pk else None
        return render(
            request,
            "accounts/verify_email.html",
            {"error": exc.message, "resend": resend},
            status=400,
        )
    if newly:
        messages.success(request, f"{email.email} is verified.")
    else:
        messages.info(request, f"{email.email} is already verified.")
    if request.user.is_authenticated:
        return redirect("account-settings")
    return redirect("login")


class LoginView(auth_views.LoginView):
    """The password step. For an account with 2FA it signs nobody in: it
    hands over to the second step (accounts.views.two_factor.login_two_factor)."""

    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        refused = refuse_when_limited(
            request, login_limits(request, request.POST.get("username", ""))
        )
        return refused or super().post(request, *args, **kwargs)

    def form_valid(self, form):
        user = form.get_user()
        if not two_factor.user_has_two_factor(user):
            return super().form_valid(form)
        two_factor.login_pending_start(
            request=self.request, user=user, next_url=self.get_success_url()
        )
        return redirect("login-two-factor")


class PasswordResetView(auth_views.PasswordResetView):
    form_class = VerifiedAddressPasswordResetForm
    subject_template_name = "accounts/email/password_reset_subject.txt"
    email_template_name = "accounts/email/password_reset_body.txt"
    html_email_template_name = "accounts/email/password_reset_body.html"
    success_url = reverse_lazy("password-reset-done")

    def post(self, request, *args, **kwargs):
        rules = [
            ("password-reset", [normalize_email(request.POST.get("email", ""))]),
            ("password-reset-ip", [client_network(client_address(request))]),
        ]
        refused = refuse_when_limited(request, rules)
        return refused or super().post(request, *args, **kwargs)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("password-reset-complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        actor = Actor.from_request(self.request, user=form.user)
        record_event("account:password:reset", actor=actor, user=form.user)
        return response


@method_decorator(never_cache, name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    success_url = reverse_lazy("account-settings")

    def form_valid(self, form):
        response = super().form_valid(form)
        actor = Actor.from_request(self.request)
        record_event("account:password:changed", actor=actor, user=self.request.user)
        messages.success(self.request, "Your password is changed.")
        return response


EMAIL_ACTION_DONE = {
    "primary": "{} is now your primary address.",
    "remove": "{} is removed from your account.",
    "resend": "We sent a new verification link to {}.",
}


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request):
    user = request.user
    add_form = AddEmailForm()
    if request.method == "POST":
        if request.POST.get("action") == "add":
            add_form = AddEmailForm(request.POST)
            if add_form.is_valid():
                address = add_form.cleaned_data["email"]
                try:
                    services.email_add(
                        user=user,
                        address=address,
                        actor=Actor.from_request(request),
                        request=request,
                    )
                except services.AccountError as exc:
                    add_form.add_error("email", exc.message)
                else:
                    messages.success(
                        request, f"{address} is added; we sent it a verification link."
                    )
                    return redirect("account-settings")
        else:
            form = EmailActionForm(request.POST, user=user)
            if not form.is_valid():
                return HttpResponseBadRequest("Unknown action or e-mail address.")
            action, email = form.cleaned_data["action"], form.cleaned_data["email"]
            try:
                if action == "primary":
                    services.email_primary_set(email=email, actor=Actor.from_request(request))
                elif action == "remove":
                    services.email_remove(email=email, actor=Actor.from_request(request))
                else:
                    services.email_verification_send(email=email, request=request)
            except services.AccountError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, EMAIL_ACTION_DONE[action].format(email.email))
            return redirect("account-settings")
    context = {
        "emails": user.emails.all(),
        "add_form": add_form,
        "verified": services.user_has_verified_email(user),
        "has_two_factor": two_factor.user_has_two_factor(user),
    }
    return render(request, "accounts/settings.html", context)


@sensitive_post_parameters("password")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account_delete(request):
    form = DeleteAccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        user = request.user
        try:
            services.user_delete(user=user)
        except services.AccountError as exc:
            form.add_error(None, exc.message)
        else:
            logout(request)
            messages.success(request, f"The account {user.username} is deleted.")
            return redirect("home")
    context = {"form": form, "sole_owner_of": services.sole_owner_projects(request.user)}
    return render(request, "accounts/delete.html", context)


EVENTS_PER_PAGE = 25


@never_cache
@login_required
@require_GET
def account_security(request):
    """The account's own security history, newest first."""
    page = Paginator(request.user.events.select_related("actor"), EVENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "accounts/security.html", {"page": page})
