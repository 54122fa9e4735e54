"""Organization management pages, mounted under /manage/ (see
accounts.views.organizations): /manage/organizations/ (yours, new ones,
invitations) and /manage/organization/<name>/... (one organization)."""

from django.urls import path, register_converter

from .organizations import ORGANIZATION_NAME_PATTERN, TEAM_NAME_PATTERN
from .views import organizations as views


class OrganizationNameConverter:
    """Any spelling of an organization name (pages redirect to the normalized
    one); what no name could be is a 404 before any view."""

    regex = ORGANIZATION_NAME_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class TeamNameConverter(OrganizationNameConverter):
    regex = TEAM_NAME_PATTERN


register_converter(OrganizationNameConverter, "orgname")
register_converter(TeamNameConverter, "teamname")

organization = "organization/<orgname:name>/"
team = organization + "team/<teamname:team>/"

urlpatterns = [
    path("organizations/", views.organization_list, name="manage-organizations"),
    path(
        "organizations/invitation/",
        views.invitation_link,
        name="manage-organization-invitation",
    ),
    path(
        "organizations/invitation/<int:pk>/",
        views.invitation_answer,
        name="manage-organization-invitation-answer",
    ),
    path(organization, views.organization_people, name="manage-organization"),
    path(organization + "invite/", views.member_invite, name="manage-organization-invite"),
    path(organization + "role/", views.member_change, name="manage-organization-role"),
    path(organization + "remove/", views.member_remove, name="manage-organization-remove"),
    path(organization + "revoke/", views.invitation_revoke, name="manage-organization-revoke"),
    path(organization + "teams/", views.organization_teams, name="manage-organization-teams"),
    path(team, views.team_detail, name="manage-organization-team"),
    path(team + "rename/", views.team_rename, name="manage-organization-team-rename"),
    path(team + "delete/", views.team_delete, name="manage-organization-team-delete"),
    path(team + "add/", views.team_member_add, name="manage-organization-team-add"),
    path(team + "remove/", views.team_member_remove, name="manage-organization-team-remove"),
    path(
        organization + "settings/",
        views.organization_settings,
        name="manage-organization-settings",
    ),
    path(
        organization + "history/",
        views.organization_history,
        name="manage-organization-history",
    ),
]
