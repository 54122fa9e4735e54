"""Account pages, under /account/."""

from django.contrib.auth import views as auth_views
from django.urls import path

from .views import accounts, two_factor

urlpatterns = [
    path("register/", accounts.register, name="register"),
    path("login/", accounts.LoginView.as_view(), name="login"),
    # Django's LogoutView answers POST only: a link or a prefetch cannot sign anyone out.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("verify-email/", accounts.verify_email, name="verify-email"),
    path("password/reset/", accounts.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password-reset-done",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("password/change/", accounts.PasswordChangeView.as_view(), name="password-change"),
    path("settings/", accounts.account_settings, name="account-settings"),
    path("delete/", accounts.account_delete, name="account-delete"),
    path("security/", accounts.account_security, name="account-security"),
    path("login/two-factor/", two_factor.login_two_factor, name="login-two-factor"),
    path(
        "login/two-factor/webauthn/options/",
        two_factor.login_webauthn_options,
        name="login-two-factor-webauthn-options",
    ),
    path(
        "login/two-factor/webauthn/verify/",
        two_factor.login_webauthn_verify,
        name="login-two-factor-webauthn-verify",
    ),
    path("two-factor/", two_factor.two_factor, name="two-factor"),
    path("two-factor/totp/add/", two_factor.totp_add, name="two-factor-totp-add"),
    path("two-factor/totp/remove/", two_factor.totp_remove, name="two-factor-totp-remove"),
    path("two-factor/webauthn/add/", two_factor.webauthn_add, name="two-factor-webauthn-add"),
    path(
        "two-factor/webauthn/add/options/",
        two_factor.webauthn_add_options,
        name="two-factor-webauthn-add-options",
    ),
    path(
        "two-factor/webauthn/add/verify/",
        two_factor.webauthn_add_verify,
        name="two-factor-webauthn-add-verify",
    ),
    path(
        "two-factor/webauthn/<int:pk>/remove/",
        two_factor.webauthn_remove,
        name="two-factor-webauthn-remove",
    ),
    path(
        "two-factor/recovery-codes/",
        two_factor.recovery_codes,
        name="two-factor-recovery-codes",
    ),
]
