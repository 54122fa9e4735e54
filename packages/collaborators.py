"""Collaborators: Owners invite users to a role on a project, change and remove
roles; invitees accept or decline through a signed, expiring e-mailed link.

Every change is a project event. Role changes of one project run one at a time,
under a lock on the project's row, so the rules they ask packages.policy (who
may, and that a project keeps at least one Owner) hold even when two Owners
remove each other at the same moment.

A refused action raises CollaboratorError (a message meant for the person), or
PermissionDenied when the actor may not do it at all.
"""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from accounts.events import Actor, record_event
from accounts.models import Email, User
from accounts.services import send_templated_mail

from . import policy
from .cache import purge_project_on_commit
from .journal import journal_append
from .models import Project, Role, RoleInvitation
from .policy import Action

INVITATION_SALT = "packages.role-invitation"


class CollaboratorError(Exception):
    """A refused collaborator action. ``field`` names the form field it concerns."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvitationLinkError(CollaboratorError):
    """An invitation link that cannot be used; ``status`` is the HTTP answer."""

    def __init__(self, message: str, *, status: int):
        super().__init__(message)
        self.status = status


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


def _expired(invitation: RoleInvitation) -> bool:
    return invitation.expires_at <= timezone.now()


# --- Invitations --------------------------------------------------------------------


def invitation_token(invitation: RoleInvitation) -> str:
    # The invitee is signed too: the link is theirs alone, and a link to an
    # invitation that was revoked never matches a later one (new id).
    return signing.dumps({"id": invitation.pk, "user": invitation.user_id}, salt=INVITATION_SALT)


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
    address = Email.objects.filter(user=invitee, primary=True, verified=True).first()
    with transaction.atomic():
        project = _lock_project(project)
        policy.require(actor.user, project, Action.INVITE)
        if Role.objects.filter(project=project, user=invitee).exists():
            raise CollaboratorError(
                f"{invitee.username} already has a role on {project.name}.", field="username"
            )
        pending = RoleInvitation.objects.filter(project=project, user=invitee).first()
        if pending is not None:
            if not _expired(pending):
                raise CollaboratorError(
                    f"{invitee.username} has already been invited to {project.name}.",
                    field="username",
                )
            # An expired invitation is dead; a new one takes its place.
            pending.delete()
        if address is None:
            raise CollaboratorError(
                f"{invitee.username} has no verified e-mail address to send the invitation to.",
                field="username",
            )
        # No race with a concurrent invite: the project lock serializes them.
        invitation = RoleInvitation.objects.create(
            project=project,
            user=invitee,
            role_name=role_name,
            invited_by=actor.user,
            expires_at=timezone.now() + timedelta(seconds=settings.ROLE_INVITATION_MAX_AGE),
        )
        record_event(
            "project:role:invited",
            project=project,
            user=invitee,
            actor=actor,
            role=role_name,
        )
        _mail_invitation_on_commit(invitation, address, request)
    return invitation


def _mail_invitation_on_commit(
    invitation: RoleInvitation, address: Email, request: HttpRequest | None
) -> None:
    path = reverse("manage-invitation") + "?token=" + invitation_token(invitation)
    link = request.build_absolute_uri(path) if request is not None else path
    context = {
        "invitation": invitation,
        "project": invitation.project,
        "invitee": invitation.user,
        "inviter": invitation.invited_by,
        "link": link,
        "hours": settings.ROLE_INVITATION_MAX_AGE // 3600,
        "site_name": settings.SITE_NAME,
    }
    transaction.on_commit(
        lambda: send_templated_mail(
            subject_template="manage/email/invitation_subject.txt",
            body_template="manage/email/invitation_body.txt",
            context=context,
            to=address.email,
            failure=f"Could not send the invitation #{invitation.pk}",
        )
    )


def invitation_from_token(token: str, user: User) -> RoleInvitation:
    """The pending invitation a link stands for, if ``user`` may answer it."""
    try:
        payload = signing.loads(
            token, salt=INVITATION_SALT, max_age=settings.ROLE_INVITATION_MAX_AGE
        )
    except signing.SignatureExpired:
        raise InvitationLinkError("This invitation has expired.", status=410) from None
    except signing.BadSignature:
        raise InvitationLinkError("This invitation link is not valid.", status=400) from None
    if payload["user"] != user.pk:
        raise InvitationLinkError(
            "This invitation is for another account. Sign in as the invited user.", status=403
        )
    invitation = (
        RoleInvitation.objects.select_related("project", "invited_by")
        .filter(pk=payload["id"], user=user)
        .first()
    )
    if invitation is None:
        raise InvitationLinkError(
            "This invitation is no longer valid: it was accepted, declined or revoked.", status=410
        )
    if _expired(invitation):
        raise InvitationLinkError("This invitation has expired.", status=410)
    return invitation


def _lock_invitation_for(invitation: RoleInvitation, user: User) -> RoleInvitation:
    """Inside a transaction: the invitation, locked, if ``user`` may still answer it."""
    policy.require_invitee(user, invitation)
    # The project first, as every role change does, then the invitation: an
    # answer and a revocation of one invitation cannot both succeed.
    _lock_project(invitation.project)
    try:
        locked = RoleInvitation.objects.locked(pk=invitation.pk)
    except RoleInvitation.DoesNotExist:
        raise CollaboratorError(
            "This invitation is no longer valid: it was accepted, declined or revoked."
        ) from None
    if _expired(locked):
        raise CollaboratorError("This invitation has expired.")
    return locked


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
        deleted, _ = RoleInvitation.objects.filter(pk=invitation.pk).delete()
        if not deleted:
            raise CollaboratorError("This invitation was already accepted, declined or revoked.")
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
