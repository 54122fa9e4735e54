"""Project management pages, under /manage/ (see packages.views.manage)."""

from django.urls import path

from .converters import PROJECT, VERSION
from .views import manage, manage_publishing, manage_sessions, manage_status
from .views import manage_advisories as advisory_views
from .views import manage_namespaces as namespace_views
from .views import manage_organizations as organization_views

project = f"project/<{PROJECT}:name>/"
release = project + f"release/<{VERSION}:version>/"
# An organization's projects; before accounts.organization_urls, which has the
# rest of /manage/organization/<name>/.
organization_projects = f"organization/<{PROJECT}:organization>/projects/"

# An organization's namespaces (PEP 752; packages.views.manage_namespaces).
organization_namespaces = f"organization/<{PROJECT}:organization>/namespaces/"

urlpatterns = [
    path(
        organization_namespaces,
        namespace_views.organization_namespaces,
        name="manage-organization-namespaces",
    ),
    path(
        organization_namespaces + "add/",
        namespace_views.namespace_child_add,
        name="manage-organization-namespace-add",
    ),
    path(
        organization_namespaces + "remove/",
        namespace_views.namespace_child_remove,
        name="manage-organization-namespace-remove",
    ),
    path("projects/", manage.manage_projects, name="manage-projects"),
    path(
        "account/publishing/",
        manage_publishing.pending_publishing,
        name="manage-pending-publishing",
    ),
    path(
        "account/publishing/remove/",
        manage_publishing.pending_publisher_remove,
        name="manage-pending-publisher-remove",
    ),
    path("invitation/", manage.invitation_link, name="manage-invitation"),
    path("invitation/<int:pk>/", manage.invitation_answer, name="manage-invitation-answer"),
    path(project, manage.project_releases, name="manage-project"),
    path(release, manage.release_files, name="manage-release"),
    path(release + "yank/", manage.release_yank, name="manage-release-yank"),
    path(release + "unyank/", manage.release_unyank, name="manage-release-unyank"),
    path(release + "delete/", manage.release_delete, name="manage-release-delete"),
    path(release + "delete-file/", manage.file_delete, name="manage-file-delete"),
    path(
        release + "deprecate/",
        advisory_views.release_deprecate,
        name="manage-release-deprecate",
    ),
    path(
        release + "undeprecate/",
        advisory_views.release_undeprecate,
        name="manage-release-undeprecate",
    ),
    path(
        release + "advisories/attach/",
        advisory_views.advisory_attach,
        name="manage-advisory-attach",
    ),
    path(
        release + "advisories/withdraw/",
        advisory_views.advisory_withdraw,
        name="manage-advisory-withdraw",
    ),
    path(
        release + "advisories/delete/",
        advisory_views.advisory_delete,
        name="manage-advisory-delete",
    ),
    path(project + "collaborators/", manage.project_collaborators, name="manage-collaborators"),
    path(
        project + "collaborators/invite/",
        manage.collaborator_invite,
        name="manage-collaborator-invite",
    ),
    path(
        project + "collaborators/change/",
        manage.collaborator_change,
        name="manage-collaborator-change",
    ),
    path(
        project + "collaborators/remove/",
        manage.collaborator_remove,
        name="manage-collaborator-remove",
    ),
    path(
        project + "collaborators/revoke/",
        manage.invitation_revoke,
        name="manage-invitation-revoke",
    ),
    path(project + "history/", manage.project_history, name="manage-project-history"),
    path(project + "settings/", manage.project_settings, name="manage-project-settings"),
    path(project + "settings/delete/", manage.project_delete, name="manage-project-delete"),
    path(project + "status/", manage_status.project_status_page, name="manage-project-status"),
    path(
        project + "publishing/",
        manage_publishing.project_publishing,
        name="manage-project-publishing",
    ),
    path(
        project + "publishing/remove/",
        manage_publishing.project_publisher_remove,
        name="manage-project-publisher-remove",
    ),
    # Staged releases (PEP 694 sessions) and the require-sessions option.
    path(project + "sessions/", manage_sessions.project_sessions, name="manage-project-sessions"),
    path(
        project + "sessions/publish/",
        manage_sessions.session_publish,
        name="manage-project-session-publish",
    ),
    path(
        project + "sessions/cancel/",
        manage_sessions.session_cancel,
        name="manage-project-session-cancel",
    ),
    path(
        project + "sessions/require/",
        manage_sessions.sessions_require,
        name="manage-project-sessions-require",
    ),
    path(
        project + "organization/",
        organization_views.project_organization,
        name="manage-project-organization",
    ),
    path(
        project + "organization/move-in/",
        organization_views.project_move_in,
        name="manage-project-move-in",
    ),
    path(
        organization_projects,
        organization_views.organization_projects,
        name="manage-organization-projects",
    ),
    path(
        organization_projects + "add/",
        organization_views.organization_project_add,
        name="manage-organization-project-add",
    ),
    path(
        organization_projects + "remove/",
        organization_views.organization_project_remove,
        name="manage-organization-project-remove",
    ),
    path(
        organization_projects + "team-role/",
        organization_views.team_role_set,
        name="manage-organization-team-role",
    ),
    path(
        organization_projects + "team-role/remove/",
        organization_views.team_role_remove,
        name="manage-organization-team-role-remove",
    ),
]
