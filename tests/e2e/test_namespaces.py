"""A restricted namespace (PEP 752) on the real server with real twine: the
grant made with ``manage.py moderate namespace-grant``; the organization's
Owner uploads a new project under the prefix (the organization owns it), a
stranger's upload is refused with 409 and twine prints why."""

import json
import secrets

import pytest

from tests.factories import make_wheel
from tests.liveserver import superuser_with_token

from .conftest import describe, twine_upload

pytestmark = pytest.mark.e2e

# Made in the server's database by a shell, as an organization's pages would.
ORGANIZATION = """
from accounts.models import Organization, OrganizationRole, User
organization = Organization.objects.create(name="E2E-Acme", normalized_name="e2e-acme")
OrganizationRole.objects.create(
    organization=organization, user=User.objects.get(username="{username}"), role_name="Owner"
)
"""


def test_only_the_organization_creates_projects_in_its_restricted_namespace(
    server, account, client_env, tmp_path
):
    server.manage("shell", "-c", ORGANIZATION.format(username=account.username))
    server.manage(
        "moderate", "namespace-grant", "e2e-acme", "--organization", "E2E-Acme", "--reason", "e2e"
    )
    stranger = superuser_with_token(server.env, "e2e-stranger", secrets.token_urlsafe(16))

    def upload(name: str, token: str):
        wheel = make_wheel(name, "1.0")
        (tmp_path / wheel.filename).write_bytes(wheel.content)
        return twine_upload(
            server,
            [tmp_path / wheel.filename],
            username="__token__",
            password=token,
            env=client_env,
        )

    refused = upload("e2e-acme-squat", stranger)
    shown = " ".join((refused.stdout + refused.stderr).split())
    assert refused.returncode != 0, describe(refused)
    assert "409 Conflict" in shown, describe(refused)
    message = (
        "The name 'e2e-acme-squat' is in the namespace 'e2e-acme' reserved for the "
        "organization 'E2E-Acme'; only its Owners and Managers can create projects under it."
    )
    assert message in shown, describe(refused)
    assert server.get("/simple/e2e-acme-squat/")[0] == 404

    accepted = upload("e2e-acme-tools", account.token)
    assert accepted.returncode == 0, describe(accepted)
    status, body = server.get(
        "/simple/e2e-acme-tools/", accept="application/vnd.pypi.simple.v1+json"
    )
    assert status == 200
    assert json.loads(body)["namespace"] == {
        "prefix": "e2e-acme",
        "authorized": True,
        "open": False,
    }
    status, body = server.get("/namespace/e2e-acme", accept="application/json")
    assert status == 200
    assert json.loads(body)["owner"] == "E2E-Acme"
