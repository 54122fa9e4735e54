"""Which names a new project may take: the upload asks here, the moderation
app answers.

The rules (standard-library modules, prohibited names, look-alikes, names one
edit from a popular project queued for review) are moderation's, but packages
sits below moderation and never imports it: moderation registers its rules in
its AppConfig.ready() (``register(moderation.names)``).

Without a registered policy (moderation not installed) every new project is
refused: an index that cannot check names for look-alikes must not hand them
out. Uploads to existing projects do not ask and are not affected.
"""

from typing import Protocol

from .models import Project


class ProjectNameError(ValueError):
    """A name nobody may register; the message says why and what to do."""


class NewProjectNamePolicy(Protocol):
    def check_new_project_name(self, name: str) -> None:
        """Raise ProjectNameError when a project called ``name`` may not be created."""

    def similar_popular_name(self, normalized_name: str) -> str | None:
        """The popular project ``normalized_name`` imitates, if any (looked up
        before the upload's transaction: it may read download counts)."""

    def queue_name_review(self, project: Project, similar_to: str | None) -> object:
        """Queue the new ``project`` for a moderator when ``similar_to`` is a name."""


class RefuseNewProjects:
    """The policy until one is registered."""

    def check_new_project_name(self, name: str) -> None:
        raise ProjectNameError(
            f"The name {name!r} can't be registered: this index has no rules for new "
            "project names (its moderation app is not installed), so it accepts uploads "
            "to existing projects only."
        )

    def similar_popular_name(self, normalized_name: str) -> str | None:
        return None

    def queue_name_review(self, project: Project, similar_to: str | None) -> None:
        return None


_policy: NewProjectNamePolicy = RefuseNewProjects()


def register(policy: NewProjectNamePolicy) -> None:
    global _policy
    _policy = policy


def check_new_project_name(name: str) -> None:
    _policy.check_new_project_name(name)


def similar_popular_name(normalized_name: str) -> str | None:
    return _policy.similar_popular_name(normalized_name)


def queue_name_review(project: Project, similar_to: str | None) -> None:
    _policy.queue_name_review(project, similar_to)
