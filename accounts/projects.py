"""What accounts asks about a user's projects, which packages (a layer above)
owns: accounts never imports packages, so packages registers its answers here
in its AppConfig.ready().

accounts' models already name packages.Project (token scopes, events), so the
two apps are always installed together; asking before packages has registered
is a mistake in the settings, and says so.
"""

from typing import Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet

from .models import User


class ProjectDirectory(Protocol):
    def projects_with_role(self, user: User) -> QuerySet:
        """The projects ``user`` is an Owner or Maintainer of."""

    def sole_owner_projects(self, user: User, *, lock: bool = False) -> list[str]:
        """Names, in order, of the projects ``user`` is the only Owner of. With
        ``lock`` (inside the caller's transaction) the user's projects are
        locked first, so a co-Owner cannot leave before the caller acts."""


_directory: ProjectDirectory | None = None


def register_project_directory(directory: ProjectDirectory) -> None:
    global _directory
    _directory = directory


def project_directory() -> ProjectDirectory:
    if _directory is None:
        raise ImproperlyConfigured(
            "accounts asks the packages app about projects: add 'packages' to INSTALLED_APPS."
        )
    return _directory
