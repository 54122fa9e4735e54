"""Collaborators: Owners invite users to a role on a project, change and remove
roles; invitees accept or decline through a signed, expiring e-mailed link.

Every change is a project event. Role changes of one project run one at a time,
under a lock on the project's row, so the rules they ask packages.policy (who
may, and that a project keeps at least one Owner) hold even when two Owners
remove each other at the same moment.

A refused action raises CollaboratorError (a message meant for the person), or
PermissionDenied when the actor may not do it at all.
"""

from django.db import transaction
from django.http import HttpRequest

from accounts.events import Actor, record_event
from accounts.invitations import InvitationKind

# What invitation_from_token raises, named here with the rest of the invitations.
from accounts.invitations import InvitationLinkError as InvitationLinkError
from accounts.models import User

from . import policy
from .cache import purge_project_on_commit
from .journal import journal_append
from .models import Project, Role, RoleInvitation
from .policy import Action


class CollaboratorError(Exception):
    """A refused collaborator action. ``field`` names the form field it concerns."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def _lock_project(project: Project) -> Project:
    # Every role change of a project takes this lock first, so the checks
    # below (who holds which role, how many Owners are left) cannot be
    # invalidated by a concurrent change before this one commits.
    try:
        return Project.objects.locked(pk=project.pk)
    except Project.DoesNotExist:
        raise CollaboratorError(f"Project {project.name} no longer exists.") from None


def _journal(project: Project, action: str, actor: Actor) -> None:
    # Roles are part of what mirrors and the JSON API show (ownership): a
    # change gets a serial, as on the public index, and pages are purged.
    journal_append(project=project, action=action, actor=actor)
    purge_project_on_commit(project.normalized_name)


def _check_role_name(role_name: str) -> None:
    if role_name not in Role.Name.values:
        raise CollaboratorError("Choose Owner or Maintainer.", field="role_name")


# --- Invitations --------------------------------------------------------------------


INVITATIONS = InvitationKind(
    model=RoleInvitation,
    target="project",
    salt="packages.role-invitation",
    link_url_name="manage-invitation",
    mail_subject_template="manage/email/invitation_subject.txt",
    mail_body_template="manage/email/invitation_body.txt",
    mail_failure="Could not send the invitation",
    error=CollaboratorError,
)

# The link's token; the pending invitation a link stands for (InvitationLinkError if none).
invitation_token = INVITATIONS.token
invitation_from_token = INVITATIONS.from_token


def invitation_create(
    *,
    project: Project,
    username: str,
    role_name: str,
    actor: Actor,
    request: HttpRequest | None = None,
) -> RoleInvitation:
    """Invite the user ``username`` to ``role_name`` on ``project`` and mail
    them the link to accept (after commit), made absolute from ``request``."""
    _check_role_name(role_name)
    username = username.strip()
    invitee = User.objects.filter(username=username, is_active=True).first()
    if invitee is None:
        raise CollaboratorError(f"There is no user named {username!r}.", field="username")
    with transaction.atomic():
        project = _lock_project(project)
        policy.require(actor.user, project, Action.INVITE)
        if Role.objects.filter(project=project, user=invitee).exists():
            raise CollaboratorError(
                f"{invitee.username} already has a role on {project.name}.", field="username"
            )
        invitation = INVITATIONS.create(
            target=project,
            invitee=invitee,
            role_name=role_name,
            invited_by=actor.user,
            request=request,
            field="username",
        )
        record_event(
            "project:role:invited",
            project=project,
            user=invitee,
            actor=actor,
            role=role_name,
        )
    return invitation


def _lock_invitation_for(invitation: RoleInvitation, user: User) -> RoleInvitation:
    """Inside a transaction: the invitation, locked, if ``user`` may still answer it."""
    policy.require_invitee(user, invitation)
    # The project first, as every role change does.
    _lock_project(invitation.project)
    return INVITATIONS.lock(invitation)


def invitation_accept(*, invitation: RoleInvitation, actor: Actor) -> Role:
    """The invitee (``actor``) takes the role; the invitation is used up."""
    user = actor.user
    with transaction.atomic():
        invitation = _lock_invitation_for(invitation, user)
        project = invitation.project
        # A role given some other way since the invitation makes it moot:
        # it is used up all the same (committed), and the person told.
        moot = Role.objects.filter(project=project, user=user).exists()
        invitation.delete()
        if not moot:
            role = Role.objects.create(project=project, user=user, role_name=invitation.role_name)
            record_event(
                "project:role:added",
                project=project,
                user=user,
                actor=actor,
                role=role.role_name,
                invited_by=invitation.invited_by.username if invitation.invited_by else None,
            )
            _journal(project, f"accepted {role.role_name} {user.username}", actor)
    if moot:
        raise CollaboratorError(f"You already have a role on {project.name}.")
    return role


def invitation_decline(*, invitation: RoleInvitation, actor: Actor) -> None:
    user = actor.user
    with transaction.atomic():
        invitation = _lock_invitation_for(invitation, user)
        invitation.delete()
        record_event(
            "project:role:declined",
            project=invitation.project,
            user=user,
            actor=actor,
            role=invitation.role_name,
        )


def invitation_revoke(*, invitation: RoleInvitation, actor: Actor) -> None:
    """An Owner withdraws an invitation; its link stops working at once."""
    project = invitation.project
    with transaction.atomic():
        _lock_project(project)
        policy.require(actor.user, project, Action.INVITE)
        INVITATIONS.revoke(invitation)
        record_event(
            "project:role:invitation-revoked",
            project=project,
            user=invitation.user,
            actor=actor,
            role=invitation.role_name,
        )


# --- Roles ------------------------------------------------------------------------


def _locked_role(project: Project, user: User) -> Role:
    try:
        return Role.objects.locked(project=project, user=user)
    except Role.DoesNotExist:
        raise CollaboratorError(f"{user.username} has no role on {project.name}.") from None


def role_change(
    *,
    project: Project,
    user: User,
    role_name: str,
    actor: Actor,
) -> Role:
    """Make ``user`` an Owner or a Maintainer. The last Owner stays an Owner."""
    _check_role_name(role_name)
    with transaction.atomic():
        project = _lock_project(project)
        policy.require(actor.user, project, Action.CHANGE_ROLES)
        role = _locked_role(project, user)
        old = role.role_name
        if old == role_name:
            raise CollaboratorError(f"{user.username} already is {role_name}.")
        if policy.leaves_no_owner(role):
            raise CollaboratorError(
                f"{user.username} is the last Owner of {project.name}; "
                "make someone else an Owner first."
            )
        role.role_name = role_name
        role.save(update_fields=["role_name"])
        record_event(
            "project:role:changed",
            project=project,
            user=user,
            actor=actor,
            old_role=old,
            role=role_name,
        )
        _journal(project, f"change {old} {user.username} to {role_name}", actor)
    return role


def role_remove(*, project: Project, user: User, actor: Actor) -> None:
    """Take ``user``'s role away: an Owner may remove anyone, anyone may leave.
    The last Owner can be neither removed nor leave."""
    with transaction.atomic():
        project = _lock_project(project)
        policy.require_may_remove(actor.user, user, project)
        role = _locked_role(project, user)
        if policy.leaves_no_owner(role):
            raise CollaboratorError(
                f"{user.username} is the last Owner of {project.name} and cannot be removed; "
                "make someone else an Owner first, or delete the project."
            )
        role.delete()
        record_event(
            "project:role:removed",
            project=project,
            user=user,
            actor=actor,
            role=role.role_name,
        )
        _journal(project, f"remove {role.role_name} {user.username}", actor)
