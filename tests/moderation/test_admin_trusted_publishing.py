"""The admin pages of trusted publishing: admins configure OIDC issuers;
publishers are listed, never edited there."""

import pytest
from django.urls import reverse

from packages.models import OIDCIssuer, TrustedPublisher

pytestmark = pytest.mark.django_db


def test_an_admin_adds_an_issuer(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:packages_oidcissuer_add"),
        {
            "name": "Our GitLab",
            "issuer_url": "https://gitlab.example.com",
            "jwks_url": "https://gitlab.example.com/oauth/discovery/keys",
        },
    )
    assert response.status_code == 302
    assert OIDCIssuer.objects.get().name == "Our GitLab"


def test_publishers_are_listed_read_only(client, admin_user, project):
    TrustedPublisher.objects.create(
        project=project, provider="github", repository="octo/sample", workflow="release.yml"
    )
    client.force_login(admin_user)
    page = client.get(reverse("admin:packages_trustedpublisher_changelist"), {"q": "octo"})
    assert b"GitHub Actions octo/sample release.yml for Sample.Project" in page.content
    assert client.get(reverse("admin:packages_trustedpublisher_add")).status_code == 403


def test_moderators_do_not_configure_issuers(mod_client):
    assert mod_client.get(reverse("admin:packages_oidcissuer_changelist")).status_code == 403
