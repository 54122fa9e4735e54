"""Who may act on a project. The one place that reads roles for that purpose:
the upload pipeline, the management pages and the API all ask here."""

from .models import Project, Role


def _acts(user) -> bool:
    # Anonymous users, deactivated accounts and a missing user (None) never act,
    # whatever roles are still recorded for them.
    return user is not None and user.is_authenticated and user.is_active


def user_role(user, project: Project) -> str | None:
    """The role ``user`` holds on ``project`` (Owner, Maintainer), or None."""
    if not _acts(user):
        return None
    return (
        Role.objects.filter(project=project, user=user).values_list("role_name", flat=True).first()
    )


def user_can_upload(user, project: Project) -> bool:
    """Owners and Maintainers may upload new releases and files."""
    return user_role(user, project) is not None


def user_is_owner(user, project: Project) -> bool:
    """Only Owners may manage roles, delete or yank (as on the public index)."""
    return user_role(user, project) == Role.Name.OWNER
