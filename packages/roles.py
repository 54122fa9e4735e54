"""Who holds a role on which project, as accounts asks it (accounts.projects;
this module is the directory PackagesConfig.ready() registers there)."""

from django.db.models import QuerySet

from .models import Project, Role


def projects_with_role(user) -> QuerySet[Project]:
    return Project.objects.filter(pk__in=Role.objects.filter(user=user).values("project"))


def sole_owner_projects(user, *, lock: bool = False) -> list[str]:
    """Names of the projects that would be left without an Owner if ``user`` went."""
    if lock:
        # So a co-Owner cannot leave at the same time and orphan a project
        # between the caller's check and its action.
        list(
            Project.objects.select_for_update().filter(
                roles__user=user, roles__role_name=Role.Name.OWNER
            )
        )
    co_owned = Role.objects.filter(role_name=Role.Name.OWNER).exclude(user=user)
    return list(
        Project.objects.filter(roles__user=user, roles__role_name=Role.Name.OWNER)
        .exclude(pk__in=co_owned.values("project"))
        .order_by("name")
        .values_list("name", flat=True)
    )
