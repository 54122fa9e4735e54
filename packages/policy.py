"""May this actor do this to this project: the one place where those rules are
written. The upload, the management pages, the collaborator services and
packages.roles (for accounts) ask here and act on the answer; none of them
spells a rule again.

Roles: an Owner may do everything a project allows; a Maintainer uploads and
sees the project's management pages (and may leave); nobody else acts on a
project. Someone who can't act at all (anonymous, deactivated, None) holds no
role, whatever rows are still recorded for them.

A project an organization owns is acted on through the organization too: its
Owners are Owners of the project, and every member of a team holding a role on
the project (packages.TeamRole) holds that role. A person's role is the
strongest of those and their own. Nobody acts through a deactivated
organization, nor through a team after leaving the organization. Moving a
project into or out of an organization, and which team holds which of its
projects, are asked here as well (packages.organization_projects acts).

Uploads: which token may upload to which project, and what the account behind
it must be (verified address, 2FA where required, not frozen). The upload
pipeline asks in its own order (packages.upload): the first refusal is the one
the client sees, as an UploadError carrying the message and the HTTP status.
"""

import enum

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken, OrganizationRole
from accounts.organizations import organization_role
from accounts.services import user_has_verified_email
from accounts.tokens import TokenError, api_token_match
from accounts.two_factor import user_has_two_factor
from common.ratelimit import limit, try_again

from . import project_status
from .models import Project, Role, TeamRole
from .name_policy import ProjectNameError, check_new_project_name
from .names import normalize_project_name
from .namespaces import NamespaceRefused
from .namespaces import check_new_project as check_new_project_namespace


class UploadError(Exception):
    """An upload refused, by a rule here or a later step of the pipeline; the
    message is for the person and goes in the answer's status line and body."""

    def __init__(self, message: str, status: int = 400, *, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after  # seconds, for a 429


class Action(enum.Enum):
    VIEW = "see the project's management pages"
    UPLOAD = "upload releases and files"
    YANK = "yank and unyank releases"
    DELETE = "delete releases, files or the project"
    INVITE = "invite collaborators and revoke invitations"
    CHANGE_ROLES = "change and remove others' roles"
    HISTORY = "read the project's security history"
    SETTINGS = "see the project's settings"
    DEPRECATE = "deprecate releases and undo it"
    ADVISORIES = "attach, withdraw and delete security advisories"
    PUBLISH_SESSIONS = "publish or cancel any staged release (publishing session)"


_EVERY_ROLE = frozenset(Role.Name)
_OWNERS = frozenset({Role.Name.OWNER})
# Who may do what, as on the public index.
ROLES_ALLOWED = {
    Action.VIEW: _EVERY_ROLE,
    Action.UPLOAD: _EVERY_ROLE,
    Action.YANK: _OWNERS,
    Action.DELETE: _OWNERS,
    Action.INVITE: _OWNERS,
    Action.CHANGE_ROLES: _OWNERS,
    Action.HISTORY: _OWNERS,
    Action.SETTINGS: _OWNERS,
    Action.DEPRECATE: _OWNERS,
    Action.ADVISORIES: _OWNERS,
    Action.PUBLISH_SESSIONS: _OWNERS,
}
OWNERS_ONLY = "Only an Owner of the project may do this."
NO_ROLE = "Only the Owners and Maintainers of the project may do this."


# --- Roles -------------------------------------------------------------------------


def _acts(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def user_role(user, project: Project) -> str | None:
    """The role ``user`` holds on ``project`` (Owner, Maintainer), or None: the
    strongest of their own and what the project's organization gives them."""
    if not _acts(user):
        return None
    own = (
        Role.objects.filter(project=project, user=user).values_list("role_name", flat=True).first()
    )
    if own == Role.Name.OWNER or project.organization_id is None:
        return own
    return strongest_role([own, *_organization_roles(user, project)])


# Stronger roles first: an Owner may all a Maintainer may.
_STRENGTH = [Role.Name.OWNER, Role.Name.MAINTAINER]


def strongest_role(roles) -> str | None:
    """The strongest of ``roles`` (None among them: no role), or None."""
    return next((role for role in _STRENGTH if role in roles), None)


def _organization_roles(user, project: Project) -> list[str]:
    """The roles ``user`` holds on the organization's ``project`` through it."""
    organization = project.organization
    # None for a deactivated organization and for someone who is not (or no
    # longer) in it: a team membership left behind gives nothing.
    held = organization_role(user, organization)
    if held is None:
        return []
    if held == OrganizationRole.Name.OWNER:
        return [Role.Name.OWNER]
    return list(
        TeamRole.objects.filter(
            project=project, team__organization=organization, team__memberships__user=user
        ).values_list("role_name", flat=True)
    )


def role_may(role: str | None, action: Action) -> bool:
    """Whether holding ``role`` (None: no role) allows ``action``."""
    return role in ROLES_ALLOWED[action]


def may(user, project: Project, action: Action) -> bool:
    return role_may(user_role(user, project), action)


def require_role(role: str | None, action: Action) -> None:
    """PermissionDenied (a 403 that says why) unless ``role`` allows ``action``."""
    if not role_may(role, action):
        raise PermissionDenied(OWNERS_ONLY if ROLES_ALLOWED[action] == _OWNERS else NO_ROLE)


def require(user, project: Project, action: Action) -> None:
    """``require_role`` for ``user``'s role. Callers that change roles ask
    under the project's row lock: an Owner removed a moment ago by another
    Owner must not still act on the project."""
    require_role(user_role(user, project), action)


CANCEL_REFUSED = "Only an Owner of the project or whoever opened the session may cancel it."


def may_cancel_session(user, role: str | None, session) -> bool:
    """Whether ``user``, holding ``role`` on the session's project, may cancel
    the staged release ``session`` on the web: its Owners may cancel any; an
    Owner or Maintainer may cancel a session they opened (what they uploaded,
    perhaps by mistake). Publishing is for Owners only (PUBLISH_SESSIONS): with
    the project's require-sessions option on, a person with the strongest role
    decides what becomes public, not whoever holds an upload token."""
    if role_may(role, Action.PUBLISH_SESSIONS):
        return True
    return role is not None and user is not None and session.created_by_id == user.pk


def require_may_remove(actor, user, project: Project) -> None:
    """Anyone may leave a project; removing someone else is for Owners."""
    if actor is None or actor.pk != user.pk:
        require(actor, project, Action.CHANGE_ROLES)


def _organization_keeps_owner(project: Project) -> bool:
    """Whether the project's (active) organization has an Owner: while it
    does, the project has one too."""
    if project.organization_id is None:
        return False
    return OrganizationRole.objects.filter(
        organization_id=project.organization_id,
        organization__is_active=True,
        role_name=OrganizationRole.Name.OWNER,
    ).exists()


def leaves_no_owner(role: Role) -> bool:
    """Whether taking ``role`` away, or making it a Maintainer, would leave its
    project without an Owner: a project always keeps one, which for an
    organization's project its organization's Owners are. Asked under the
    project's row lock, so two Owners removing each other can't both pass."""
    if role.role_name != Role.Name.OWNER:
        return False
    if Role.objects.filter(project_id=role.project_id, role_name=Role.Name.OWNER).count() > 1:
        return False
    return not _organization_keeps_owner(role.project)


def _owned_through_organizations(user):
    """Ids of the projects ``user`` is an Owner of as an Owner of their
    (active) organization."""
    return Project.objects.filter(
        organization__is_active=True,
        organization__roles__user=user,
        organization__roles__role_name=OrganizationRole.Name.OWNER,
    ).values("pk")


def sole_owner_projects(user, *, lock: bool = False) -> list[str]:
    """Names of the projects that would be left without an Owner if ``user``
    went (an account is not deleted while there are any): those they are the
    only Owner of, in person or as their organization's only Owner."""
    owned = Project.objects.filter(
        Q(pk__in=Role.objects.filter(user=user, role_name=Role.Name.OWNER).values("project"))
        | Q(pk__in=_owned_through_organizations(user))
    )
    if lock:
        # So a co-Owner cannot leave at the same time and orphan a project
        # between the caller's check and its action.
        list(owned.select_for_update())
    co_owned = Role.objects.filter(role_name=Role.Name.OWNER).exclude(user=user)
    # An organization another Owner keeps owns its projects after ``user`` goes.
    kept = OrganizationRole.objects.filter(
        organization__is_active=True, role_name=OrganizationRole.Name.OWNER
    ).exclude(user=user)
    return list(
        owned.exclude(pk__in=co_owned.values("project"))
        .exclude(organization__in=kept.values("organization"))
        .order_by("name")
        .values_list("name", flat=True)
    )


def projects_with_role(user) -> QuerySet[Project]:
    """The projects ``user`` holds a role on, in person or through an
    organization (as its Owner, or in a team holding a role)."""
    through_teams = TeamRole.objects.filter(
        team__organization=F("project__organization"),
        team__organization__is_active=True,
        team__memberships__user=user,
        # A team membership left behind by someone who left the organization.
        team__organization__roles__user=user,
    )
    return Project.objects.filter(
        Q(pk__in=Role.objects.filter(user=user).values("project"))
        | Q(pk__in=_owned_through_organizations(user))
        | Q(pk__in=through_teams.values("project"))
    )


# --- Organizations' projects ------------------------------------------------------

ORGANIZATION_OWNERS_ONLY = "Only an Owner of the organization may do this."
ORGANIZATION_MANAGERS_ONLY = "Only the Owners and Managers of the organization may do this."
_TEAM_ASSIGNERS = frozenset({OrganizationRole.Name.OWNER, OrganizationRole.Name.MANAGER})


def require_may_move_in(user, project: Project, organization) -> None:
    """Moving a project into an organization makes every Owner of the
    organization an Owner of the project: only someone who is an Owner of
    both may, as on the public index."""
    require(user, project, Action.SETTINGS)
    if organization_role(user, organization) != OrganizationRole.Name.OWNER:
        raise PermissionDenied(ORGANIZATION_OWNERS_ONLY)


def require_may_move_out(user, organization) -> None:
    """Taking a project out of its organization is for the organization's Owners."""
    if organization_role(user, organization) != OrganizationRole.Name.OWNER:
        raise PermissionDenied(ORGANIZATION_OWNERS_ONLY)


def may_assign_teams(user, organization) -> bool:
    """Whether ``user`` may say which of the organization's teams holds which
    role on its projects: its Owners and Managers."""
    return organization_role(user, organization) in _TEAM_ASSIGNERS


def require_may_assign_teams(user, organization) -> None:
    if not may_assign_teams(user, organization):
        raise PermissionDenied(ORGANIZATION_MANAGERS_ONLY)


def require_invitee(user, invitation) -> None:
    """Only the invited account may accept or decline an invitation."""
    if invitation.user_id != user.pk:
        raise PermissionDenied("This invitation is for another account.")


# --- Uploads ---------------------------------------------------------------------


def upload_token(raw: str) -> ApiToken:
    """The token ``raw`` is, if it may upload at all; TokenError says why not."""
    token = api_token_match(raw)
    if token.revoked_at is not None:
        raise TokenError("Invalid API token: it has been revoked.")
    if token.expires_at is not None and token.expires_at <= timezone.now():
        raise TokenError("Invalid API token: it has expired.")
    if not token.user.is_active:
        raise TokenError("Invalid API token: the account is disabled.")
    if token.user.is_frozen:
        raise TokenError(
            "Invalid API token: the account has been frozen by the index's moderators."
        )
    return token


def check_uploader(user) -> None:
    """What the account itself must have before it uploads anything."""
    # The index must be able to reach whoever publishes (security notices).
    if not user_has_verified_email(user):
        raise UploadError(
            f"User {user.username!r} does not have a verified primary email address. "
            "Please add a verified primary email before attempting to upload. "
            "See /help/#verified-email for more information."
        )
    if settings.REQUIRE_2FA_TO_UPLOAD and not user_has_two_factor(user):
        raise UploadError(
            f"User {user.username!r} cannot upload because two-factor authentication "
            "is not enabled on the account. Enable it in your account settings, then upload "
            "again. See /help/#two-factor for more information.",
            status=403,
        )


def _token_covers(token: ApiToken, normalized_name: str) -> bool:
    # Scope only narrows, it never grants: the role is asked as well, so a
    # scoped token of a project its owner has since lost the role on is
    # refused (and a user-wide token covers only projects with a role).
    if not token.scoped:
        return True
    return token.projects.filter(normalized_name=normalized_name).exists()


def check_upload_to(token: ApiToken, name: str, project: Project | None) -> None:
    """May ``token`` upload to the project ``name``: ``project``, or a new one
    by that name when None."""
    if not _token_covers(token, normalize_project_name(name)):
        raise UploadError(
            f"Invalid API Token: project-scoped token is not valid for project: {name!r}",
            status=403,
        )
    check_user_upload_to(token.user, name, project)


def check_user_upload_to(user, name: str, project: Project | None) -> None:
    """May ``user`` upload to the project ``name``: a token's holder once its
    scope allows the name, or the owner a shell import names (packages.importing)."""
    if project is None:
        # Not a standard-library module, a prohibited name or a look-alike of
        # an existing project: moderation's rules, asked through name_policy.
        try:
            check_new_project_name(name)
        except ProjectNameError as exc:
            raise UploadError(str(exc)) from None
        # A name in a restricted namespace (PEP 752) is its organization's.
        try:
            check_new_project_namespace(user, name)
        except NamespaceRefused as exc:
            raise UploadError(str(exc), status=409) from None
        return
    if not may(user, project, Action.UPLOAD):
        raise UploadError(
            f"The user '{user.username}' isn't allowed to upload to project "
            f"'{project.name}'. See /help/#project-name for more information.",
            status=403,
        )
    # After the role: only its Owners and Maintainers learn that a project is
    # quarantined; to anyone else it is a taken name.
    check_not_quarantined(project)
    # PEP 792: an archived project takes no uploads (packages.project_status).
    project_status.check_accepts_uploads(project)


def check_not_quarantined(project: Project) -> None:
    if project.quarantined_at is not None:
        manage_url = reverse("manage-project", args=[project.normalized_name])
        raise UploadError(
            f"Project '{project.name}' is quarantined by the moderators: no uploads are "
            f"accepted until it is released. Its Owners can see why at {manage_url}. "
            "See /help/#quarantine for more information.",
            status=403,
        )


def check_project_creation_rate(user) -> None:
    """Whether ``user`` may create one more project now."""
    # The limit is against strangers flooding the index, not whoever runs it:
    # an administrator importing a set of projects is not stopped at the 21st.
    if user.is_superuser:
        return
    retry_after = limit("project-create").exceeded(str(user.pk))
    if retry_after is not None:
        raise UploadError(
            f"Too many new projects created by '{user.username}'. "
            f"{try_again(retry_after)} Uploads to existing projects still work.",
            status=429,
            retry_after=retry_after,
        )


def count_project_created(user) -> None:
    """Count a project ``user`` created against the rate above (after commit)."""
    limit("project-create").hit(str(user.pk))
