"""Trusted publishing in the admin: the OIDC issuers the index's admins trust
beyond GitHub, gitlab.com and Google (a self-hosted GitLab, a company's CI),
and a read-only list of every project's publishers."""

from django.contrib import admin
from django.db import models

from packages.models import OIDCIssuer, TrustedPublisher

from .support import ModeratorAdmin


@admin.register(OIDCIssuer)
class OIDCIssuerAdmin(admin.ModelAdmin):
    # Edited by hand, unlike the moderators' rows: an issuer is configuration.
    # Only accounts with the model's permissions (the superusers) see it.
    list_display = ("name", "issuer_url", "jwks_url", "created_at")
    search_fields = ("name", "issuer_url")
    # Issuers are HTTPS URLs; a bare host typed in means https://.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(TrustedPublisher)
class TrustedPublisherAdmin(ModeratorAdmin):
    list_display = ("__str__", "provider", "added_by", "created_at")
    list_filter = ("provider",)
    search_fields = ("project__normalized_name", "pending_normalized_name", "repository", "email")
    list_select_related = ("project", "added_by", "custom_issuer")
