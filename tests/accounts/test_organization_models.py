"""How organizations' rows read where a person sees them (the admin, logs)."""

import pytest

from accounts.models import (
    Organization,
    OrganizationInvitation,
    OrganizationRole,
    Team,
    TeamMember,
    User,
)
from packages.models import Project, TeamRole


@pytest.mark.django_db
def test_organization_rows_read_well():
    acme = Organization(name="Acme")
    alice = User(username="alice")
    core = Team(organization=acme, name="core")
    assert str(acme) == "Acme"
    assert str(core) == "Acme/core"
    assert str(OrganizationRole(organization=acme, user=alice, role_name="Owner")) == (
        "alice is Owner of Acme"
    )
    assert str(OrganizationInvitation(organization=acme, user=alice, role_name="Member")) == (
        "alice invited as Member of Acme"
    )
    assert str(TeamMember(team=core, user=alice)) == "alice in Acme/core"
    role = TeamRole(team=core, project=Project(name="acme-tool"), role_name="Maintainer")
    assert str(role) == "Acme/core is Maintainer of acme-tool"
