"""An organization's project on the real server with real twine: a member of a
team holding the Maintainer role uploads with their own token; someone outside
the organization is refused with 403, and twine prints why. The organization,
its team and the move are made through packages.organization_projects in a
shell on the server's database, as the management pages would."""

import json
import secrets

import pytest

from tests.factories import make_wheel
from tests.liveserver import superuser_with_token

from .conftest import describe, twine_upload

pytestmark = pytest.mark.e2e

PROJECT = "e2e-org-lib"

# Plain accounts (no superuser: the policy alone decides), each with a
# verified address, as a registration leaves them.
PEOPLE = """
from accounts.models import Email, User
for username in ("e2e-teammate", "e2e-outsider"):
    user = User.objects.create_user(username, f"{username}@example.com", "{password}")
    Email.objects.create(user=user, email=user.email, primary=True, verified=True)
"""

ORGANIZATION = """
from accounts.events import Actor
from accounts.models import Organization, OrganizationRole, Team, TeamMember, User
from packages import organization_projects
from packages.models import Project

owner = User.objects.get(username="{owner}")
teammate = User.objects.get(username="e2e-teammate")
organization = Organization.objects.create(name="E2E-Org", normalized_name="e2e-org")
OrganizationRole.objects.create(organization=organization, user=owner, role_name="Owner")
OrganizationRole.objects.create(organization=organization, user=teammate, role_name="Member")
team = Team.objects.create(organization=organization, name="Release", normalized_name="release")
TeamMember.objects.create(team=team, user=teammate)
project = Project.objects.get(normalized_name="{project}")
actor = Actor.shell(owner)
organization_projects.project_move_in(project=project, organization=organization, actor=actor)
organization_projects.team_role_set(
    project=project, team=team, role_name="Maintainer", actor=actor
)
"""


def test_a_teams_member_uploads_to_the_organizations_project(server, client_env, tmp_path):
    owner = "e2e-org-owner"
    owner_token = superuser_with_token(server.env, owner, secrets.token_urlsafe(16))
    server.manage("shell", "-c", PEOPLE.replace("{password}", secrets.token_urlsafe(16)))
    teammate_token = server.manage("create_api_token", "e2e-teammate").strip()
    outsider_token = server.manage("create_api_token", "e2e-outsider").strip()

    def upload(version: str, token: str):
        wheel = make_wheel(PROJECT, version)
        (tmp_path / wheel.filename).write_bytes(wheel.content)
        return twine_upload(
            server,
            [tmp_path / wheel.filename],
            username="__token__",
            password=token,
            env=client_env,
        )

    first = upload("1.0", owner_token)
    assert first.returncode == 0, describe(first)
    server.manage("shell", "-c", ORGANIZATION.format(owner=owner, project=PROJECT))

    # Before any upload by the team: the teammate holds no role in person.
    status, body = server.get(f"/pypi/{PROJECT}/json", accept="application/json")
    assert status == 200
    assert json.loads(body)["ownership"] == {
        "organization": "E2E-Org",
        "roles": [{"role": "Owner", "user": owner}],
    }

    accepted = upload("1.1", teammate_token)
    assert accepted.returncode == 0, describe(accepted)
    status, body = server.get(f"/pypi/{PROJECT}/1.1/json", accept="application/json")
    assert status == 200
    assert json.loads(body)["info"]["version"] == "1.1"

    refused = upload("1.2", outsider_token)
    shown = " ".join((refused.stdout + refused.stderr).split())
    assert refused.returncode != 0, describe(refused)
    assert "403 Forbidden" in shown, describe(refused)
    message = (
        f"The user 'e2e-outsider' isn't allowed to upload to project '{PROJECT}'. "
        "See /help/#project-name for more information."
    )
    assert message in shown, describe(refused)
    assert server.get(f"/pypi/{PROJECT}/1.2/json", accept="application/json")[0] == 404

    # The organization's page lists it, the project's page names its owner.
    status, body = server.get("/org/e2e-org/")
    assert status == 200
    assert f'href="/project/{PROJECT}/"' in body.decode()
    status, body = server.get(f"/project/{PROJECT}/")
    assert 'Owned by organization <a href="/org/e2e-org/">E2E-Org</a>' in body.decode()
