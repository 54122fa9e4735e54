"""The admin site: the moderators' console.

It signs people in through the site's own login, so the second factor and the
login rate limits apply there too (Django's admin login form asks for a
password only), and with REQUIRE_2FA_TO_MANAGE it admits only accounts with
two-factor authentication, as the project-management pages do.
"""

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.two_factor import lacks_required_two_factor, send_to_add_two_factor


class IndexAdminSite(admin.AdminSite):
    site_header = "Package index administration"
    site_title = "Package index admin"
    index_title = "Moderation"

    def has_permission(self, request) -> bool:
        return super().has_permission(request) and not lacks_required_two_factor(request.user)

    def login(self, request, extra_context=None):
        next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = reverse("admin:index", current_app=self.name)
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(next_url, reverse("login"))
        if user.is_active and user.is_staff and lacks_required_two_factor(user):
            return send_to_add_two_factor(request, "The admin")
        if not self.has_permission(request):
            raise PermissionDenied("This account has no access to the admin.")
        return redirect(next_url)
