"""Who holds a role on which project, as accounts asks it (accounts.projects;
this module is the directory PackagesConfig.ready() registers there)."""

from django.db.models import QuerySet

from .models import Project, Role
from .policy import sole_owner_projects as sole_owner_projects  # the rule is the policy's


def projects_with_role(user) -> QuerySet[Project]:
    return Project.objects.filter(pk__in=Role.objects.filter(user=user).values("project"))
