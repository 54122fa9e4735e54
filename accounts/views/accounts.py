"""Account pages: register, verify, log in/out, passwords, e-mail addresses,
deletion. Django's auth views do the password work; the rules are in
accounts.services."""

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from .. import services
from ..events import record_event
from ..forms import (
    AddEmailForm,
    DeleteAccountForm,
    EmailActionForm,
    RegistrationForm,
    VerifiedAddressPasswordResetForm,
)


@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def register(request):
    if request.user.is_authenticated:
        return redirect("account-settings")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.register_user(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                request=request,
            )
        except services.AccountError as exc:
            form.add_error(exc.field, exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
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
        email, newly = services.verify_email(token=request.GET.get("token", ""), request=request)
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
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    form_class = VerifiedAddressPasswordResetForm
    subject_template_name = "accounts/email/password_reset_subject.txt"
    email_template_name = "accounts/email/password_reset_body.txt"
    success_url = reverse_lazy("password-reset-done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("password-reset-complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        record_event(
            "account:password:reset", request=self.request, user=form.user, actor=form.user
        )
        return response


@method_decorator(never_cache, name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    success_url = reverse_lazy("account-settings")

    def form_valid(self, form):
        response = super().form_valid(form)
        record_event("account:password:changed", request=self.request, user=self.request.user)
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
                    services.add_email(user=user, address=address, request=request)
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
                    services.set_primary_email(email=email, request=request)
                elif action == "remove":
                    services.remove_email(email=email, request=request)
                else:
                    services.send_verification(email=email, request=request)
            except services.AccountError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, EMAIL_ACTION_DONE[action].format(email.email))
            return redirect("account-settings")
    context = {
        "emails": user.emails.all(),
        "add_form": add_form,
        "verified": services.user_has_verified_email(user),
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
            services.delete_account(user=user)
        except services.AccountError as exc:
            form.add_error(None, exc.message)
        else:
            logout(request)
            messages.success(request, f"The account {user.username} is deleted.")
            return redirect("home")
    context = {"form": form, "sole_owner_of": services.sole_owner_projects(request.user)}
    return render(request, "accounts/delete.html", context)
