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
    path("two-factor/", two_factor.two_factor, name="two-factor"),
]
