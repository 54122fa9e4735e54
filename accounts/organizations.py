"""Organizations: who belongs to one and in which role, and what each role
may do in it. The one place those rules are written; views, the admin and
packages (through its policy, for the organization's projects) ask here.

What each role may do in the organization itself (its projects are
packages.policy's):

- Owner: everything: the profile, invitations, members' roles, removing
  members, teams, the security history;
- Manager: teams and who is in them;
- Member: sees the organization's people and teams.

Anyone may leave; an organization always keeps at least one Owner. Changes to
one organization's people run one at a time, under a lock on its row, so that
rule (and "only members join a team") holds when two Owners act at once.

Every change is an event of the organization (record_event(...,
organization=org)); the person it concerns sees it in their history too.
A refused action raises OrganizationError (a message meant for the person),
or PermissionDenied when the actor may not do it at all.
"""

import re
from collections.abc import Callable
from enum import StrEnum

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.http import HttpRequest
from packaging.utils import canonicalize_name

from .events import Actor, record_event
from .invitations import InvitationKind

# What invitation_from_token raises, named here with the rest of the invitations.
from .invitations import InvitationLinkError as InvitationLinkError
from .models import (
    Email,
    Organization,
    OrganizationInvitation,
    OrganizationRole,
    Team,
    TeamMember,
    User,
)
from .services import user_has_verified_email

Role = OrganizationRole.Name

MAX_NAME_LENGTH = Organization._meta.get_field("name").max_length
MAX_TEAM_NAME_LENGTH = Team._meta.get_field("name").max_length


def _name_pattern(max_length: int) -> str:
    # Like a project name (PEP 508): ASCII letters and digits with . _ - inside.
    return rf"[A-Za-z0-9](?:[A-Za-z0-9._-]{{0,{max_length - 2}}}[A-Za-z0-9])?"


# Also what an organization's name must look like in a URL (organization_urls).
ORGANIZATION_NAME_PATTERN = _name_pattern(MAX_NAME_LENGTH)
TEAM_NAME_PATTERN = _name_pattern(MAX_TEAM_NAME_LENGTH)
# fullmatch, never match: "$" also matches before a final newline.
_VALID_NAME = re.compile(ORGANIZATION_NAME_PATTERN)
_VALID_TEAM_NAME = re.compile(TEAM_NAME_PATTERN)


class OrganizationError(Exception):
    """A refused organization action. ``field`` names the form field it concerns."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class OrganizationAction(StrEnum):
    VIEW = "view"
    EDIT = "edit"  # display name, link, description
    INVITE = "invite"  # invite people, revoke invitations
    CHANGE_ROLES = "change-roles"  # change roles, remove other members
    MANAGE_TEAMS = "manage-teams"  # create, rename, delete teams; their members
    HISTORY = "history"  # the organization's security history


ROLE_ACTIONS: dict[str, frozenset[OrganizationAction]] = {
    Role.OWNER: frozenset(OrganizationAction),
    Role.MANAGER: frozenset({OrganizationAction.VIEW, OrganizationAction.MANAGE_TEAMS}),
    Role.MEMBER: frozenset({OrganizationAction.VIEW}),
}


# The names the moderators prohibited (moderation.names.prohibited_name): a
# layer above, so moderation registers its check here in its AppConfig.ready().
# None until then: accounts alone has no such names.
_prohibited_name: Callable[[str], str | None] | None = None


def register_prohibited_name_check(check: Callable[[str], str | None]) -> None:
    """``check(name)`` answers the prohibited name ``name`` reads as, or None."""
    global _prohibited_name
    _prohibited_name = check


def normalize_organization_name(name: str) -> str:
    """Organization names compare like project names (PEP 503)."""
    return canonicalize_name(name)


def is_valid_organization_name(name: str) -> bool:
    return _VALID_NAME.fullmatch(name) is not None


def organization_by_name(name: str) -> Organization | None:
    """The active organization ``name`` stands for, however it is spelled."""
    return Organization.objects.filter(
        normalized_name=normalize_organization_name(name), is_active=True
    ).first()


def organization_role(user, organization: Organization) -> str | None:
    """The role ``user`` holds in ``organization`` (Owner, Manager, Member), or
    None. Someone who can't act (anonymous, deactivated) holds none, and
    nobody acts through a deactivated organization."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if not organization.is_active:
        return None
    return (
        OrganizationRole.objects.filter(organization=organization, user=user)
        .values_list("role_name", flat=True)
        .first()
    )


def may(role: str | None, action: OrganizationAction) -> bool:
    """Whether someone holding ``role`` (None: no role) may do ``action``."""
    return role is not None and action in ROLE_ACTIONS[role]


def require(user, organization: Organization, action: OrganizationAction) -> str:
    """``user``'s role in ``organization`` if it allows ``action``; else PermissionDenied."""
    role = organization_role(user, organization)
    if not may(role, action):
        raise PermissionDenied("Your role in this organization does not allow this.")
    return role


def user_organizations(user: User):
    """``user``'s roles in active organizations, with the organization, by name."""
    return (
        OrganizationRole.objects.filter(user=user, organization__is_active=True)
        .select_related("organization")
        .order_by("organization__normalized_name")
    )


def sole_owner_organizations(user: User, *, lock: bool = False) -> list[str]:
    """Names, in order, of the organizations ``user`` is the only Owner of (a
    deactivated one too: it may be reactivated). With ``lock`` (inside the
    caller's transaction) the user's organizations are locked first, as every
    change of their people does, so a co-Owner can't leave before the caller acts."""
    # The ids first: counting Owners over the join that found them would count
    # only ``user``'s own role, and FOR UPDATE over it would lock roles too.
    ids = OrganizationRole.objects.filter(user=user, role_name=Role.OWNER).values_list(
        "organization_id", flat=True
    )
    owned = Organization.objects.filter(pk__in=list(ids))
    if lock:
        list(owned.select_for_update().values_list("pk", flat=True))
    return list(
        owned.annotate(owners=Count("roles", filter=Q(roles__role_name=Role.OWNER)))
        .filter(owners=1)
        .order_by("normalized_name")
        .values_list("name", flat=True)
    )


def _lock(organization: Organization) -> Organization:
    # Every change of an organization's people takes this lock first: the
    # checks after it (who holds which role, how many Owners are left, who is
    # a member) can't be invalidated by a concurrent change before this one
    # commits.
    locked = Organization.objects.select_for_update().filter(pk=organization.pk).first()
    if locked is None or not locked.is_active:
        raise OrganizationError(f"The organization {organization.name} is no longer active.")
    return locked


def _owners_left_without(role: OrganizationRole) -> bool:
    """Whether taking ``role`` away (or making it less than Owner) leaves no Owner."""
    return (
        role.role_name == Role.OWNER
        and not OrganizationRole.objects.filter(
            organization_id=role.organization_id, role_name=Role.OWNER
        )
        .exclude(pk=role.pk)
        .exists()
    )


def _check_role_name(role_name: str) -> None:
    if role_name not in Role.values:
        raise OrganizationError("Choose Owner, Manager or Member.", field="role_name")


# --- Organizations ------------------------------------------------------------------


def _username_clash(normalized: str, creator: User):
    """Another account whose username reads as the same name (PEP 503): an
    organization named after someone else's account would pass for theirs."""
    # "acme-corp" matches "Acme_Corp", "acme.corp" ... as canonicalize_name does.
    pattern = "^" + "[-_.]+".join(re.escape(part) for part in normalized.split("-")) + "$"
    return User.objects.filter(username__iregex=pattern).exclude(pk=creator.pk).first()


def organization_create(*, name: str, actor: Actor, display_name: str = "") -> Organization:
    """A new organization named ``name``; its creator (``actor``) is its first Owner.

    Refused: an account without a verified e-mail address, a name that is not
    valid like a project name, one another organization has (in any spelling)
    and one that reads as another person's username."""
    user = actor.user
    if user is None or not user.is_active:
        raise PermissionDenied("Sign in to create an organization.")
    if not user_has_verified_email(user):
        raise OrganizationError(
            "Verify your primary e-mail address before creating an organization."
        )
    name = name.strip()
    if not is_valid_organization_name(name):
        raise OrganizationError(
            "An organization name is made of ASCII letters, digits and . _ -, starts and ends "
            f"with a letter or digit, and is at most {MAX_NAME_LENGTH} characters long.",
            field="name",
        )
    normalized = normalize_organization_name(name)
    if _username_clash(normalized, user) is not None:
        raise OrganizationError(
            f"The name {name} is a user's name; choose another, so nobody takes the "
            "organization for that person's account.",
            field="name",
        )
    # A prohibited project name is no organization's either: an organization
    # called so would lend the name the trust its projects get.
    prohibited = _prohibited_name(name) if _prohibited_name is not None else None
    if prohibited is not None:
        raise OrganizationError(
            f"The name {name} isn't allowed: the index's moderators have prohibited "
            f"{prohibited!r}. Choose another name.",
            field="name",
        )
    try:
        with transaction.atomic():
            organization = Organization.objects.create(
                name=name, normalized_name=normalized, display_name=display_name.strip()
            )
            OrganizationRole.objects.create(
                organization=organization, user=user, role_name=Role.OWNER
            )
            record_event("organization:created", actor=actor, organization=organization, user=user)
    except IntegrityError:
        # The unique normalized name: taken before, or by a concurrent request.
        raise OrganizationError(
            f"The name {name} is already taken by another organization; choose another.",
            field="name",
        ) from None
    return organization


def organization_update(
    *,
    organization: Organization,
    display_name: str,
    link_url: str,
    description: str,
    actor: Actor,
) -> Organization:
    """An Owner changes the organization's public profile."""
    with transaction.atomic():
        organization = _lock(organization)
        require(actor.user, organization, OrganizationAction.EDIT)
        new = {
            "display_name": display_name.strip(),
            "link_url": link_url.strip(),
            "description": description.strip(),
        }
        changed = sorted(key for key, value in new.items() if getattr(organization, key) != value)
        if not changed:
            return organization
        for key in changed:
            setattr(organization, key, new[key])
        organization.save(update_fields=changed)
        record_event("organization:updated", actor=actor, organization=organization, fields=changed)
    return organization


# --- Invitations --------------------------------------------------------------------


INVITATIONS = InvitationKind(
    model=OrganizationInvitation,
    target="organization",
    salt="accounts.organization-invitation",
    link_url_name="manage-organization-invitation",
    mail_subject_template="accounts/organizations/email/invitation_subject.txt",
    mail_body_template="accounts/organizations/email/invitation_body.txt",
    mail_failure="Could not send the organization invitation",
    error=OrganizationError,
    # Nobody joins a deactivated organization.
    answerable=Q(organization__is_active=True),
)

# The link's token; the pending invitation a link stands for (InvitationLinkError if none).
invitation_token = INVITATIONS.token
invitation_from_token = INVITATIONS.from_token
# ``user``'s invitations that may still be answered.
pending_invitations = INVITATIONS.pending


def _invitee(who: str) -> User:
    """The active account ``who`` names: a username, or one of its verified
    e-mail addresses (any case)."""
    who = who.strip()
    if "@" in who:
        address = (
            Email.objects.filter(email__iexact=who, verified=True, user__is_active=True)
            .select_related("user")
            .first()
        )
        if address is None:
            raise OrganizationError(
                f"No account has the verified address {who}. Ask them for their username, "
                "or to verify that address first.",
                field="who",
            )
        return address.user
    user = User.objects.filter(username=who, is_active=True).first()
    if user is None:
        raise OrganizationError(f"There is no user named {who!r}.", field="who")
    return user


def invitation_create(
    *,
    organization: Organization,
    who: str,
    role_name: str,
    actor: Actor,
    request: HttpRequest | None = None,
) -> OrganizationInvitation:
    """An Owner invites the user ``who`` (a username or a verified address) to
    ``role_name``; they are mailed, after commit, a signed link that expires
    with ROLE_INVITATION_MAX_AGE, made absolute from ``request``."""
    _check_role_name(role_name)
    invitee = _invitee(who)
    with transaction.atomic():
        organization = _lock(organization)
        require(actor.user, organization, OrganizationAction.INVITE)
        if OrganizationRole.objects.filter(organization=organization, user=invitee).exists():
            raise OrganizationError(
                f"{invitee.username} is already a member of {organization.name}.", field="who"
            )
        invitation = INVITATIONS.create(
            target=organization,
            invitee=invitee,
            role_name=role_name,
            invited_by=actor.user,
            request=request,
            field="who",
        )
        record_event(
            "organization:member:invited",
            actor=actor,
            organization=organization,
            user=invitee,
            role=role_name,
        )
    return invitation


def _lock_invitation(invitation: OrganizationInvitation, user: User) -> OrganizationInvitation:
    """Inside a transaction: the invitation, locked, if ``user`` may still answer it."""
    if user is None or invitation.user_id != user.pk:
        raise PermissionDenied("This invitation is for another account.")
    # The organization first, as every change of its people does.
    _lock(invitation.organization)
    return INVITATIONS.lock(invitation)


def invitation_accept(*, invitation: OrganizationInvitation, actor: Actor) -> OrganizationRole:
    """The invitee (``actor``) takes the role; the invitation is used up."""
    user = actor.user
    organization = invitation.organization
    with transaction.atomic():
        invitation = _lock_invitation(invitation, user)
        # A role given some other way since makes it moot: used up all the same.
        moot = OrganizationRole.objects.filter(organization=organization, user=user).exists()
        invitation.delete()
        if not moot:
            role = OrganizationRole.objects.create(
                organization=organization, user=user, role_name=invitation.role_name
            )
            record_event(
                "organization:member:added",
                actor=actor,
                organization=organization,
                user=user,
                role=role.role_name,
                invited_by=invitation.invited_by.username if invitation.invited_by else None,
            )
    if moot:
        raise OrganizationError(f"You already are a member of {organization.name}.")
    return role


def invitation_decline(*, invitation: OrganizationInvitation, actor: Actor) -> None:
    with transaction.atomic():
        invitation = _lock_invitation(invitation, actor.user)
        invitation.delete()
        record_event(
            "organization:member:declined",
            actor=actor,
            organization=invitation.organization,
            user=actor.user,
            role=invitation.role_name,
        )


def invitation_revoke(*, invitation: OrganizationInvitation, actor: Actor) -> None:
    """An Owner withdraws an invitation; its link stops working at once."""
    with transaction.atomic():
        organization = _lock(invitation.organization)
        require(actor.user, organization, OrganizationAction.INVITE)
        INVITATIONS.revoke(invitation)
        record_event(
            "organization:member:invitation-revoked",
            actor=actor,
            organization=organization,
            user=invitation.user,
            role=invitation.role_name,
        )


# --- Members ------------------------------------------------------------------------


def _locked_role(organization: Organization, user: User) -> OrganizationRole:
    role = (
        OrganizationRole.objects.select_for_update()
        .filter(organization=organization, user=user)
        .first()
    )
    if role is None:
        raise OrganizationError(f"{user.username} is not a member of {organization.name}.")
    return role


def member_change_role(
    *, organization: Organization, user: User, role_name: str, actor: Actor
) -> OrganizationRole:
    """An Owner makes ``user`` an Owner, a Manager or a Member. The last Owner stays one."""
    _check_role_name(role_name)
    with transaction.atomic():
        organization = _lock(organization)
        require(actor.user, organization, OrganizationAction.CHANGE_ROLES)
        role = _locked_role(organization, user)
        old = role.role_name
        if old == role_name:
            raise OrganizationError(f"{user.username} already is {role_name}.")
        if _owners_left_without(role):
            raise OrganizationError(
                f"{user.username} is the last Owner of {organization.name}; "
                "make someone else an Owner first."
            )
        role.role_name = role_name
        role.save(update_fields=["role_name"])
        record_event(
            "organization:member:role-changed",
            actor=actor,
            organization=organization,
            user=user,
            old_role=old,
            role=role_name,
        )
    return role


def member_remove(*, organization: Organization, user: User, actor: Actor) -> None:
    """An Owner removes ``user``, or anyone leaves (``user`` is the actor).
    Their team memberships in the organization go with the role. The last
    Owner can be neither removed nor leave."""
    with transaction.atomic():
        organization = _lock(organization)
        leaving = actor.user is not None and actor.user.pk == user.pk
        if not leaving:
            require(actor.user, organization, OrganizationAction.CHANGE_ROLES)
        role = _locked_role(organization, user)
        if _owners_left_without(role):
            raise OrganizationError(
                f"{user.username} is the last Owner of {organization.name} and cannot "
                f"{'leave' if leaving else 'be removed'}; make someone else an Owner first."
            )
        teams = list(
            Team.objects.filter(organization=organization, memberships__user=user).values_list(
                "name", flat=True
            )
        )
        TeamMember.objects.filter(team__organization=organization, user=user).delete()
        role.delete()
        record_event(
            "organization:member:removed",
            actor=actor,
            organization=organization,
            user=user,
            role=role.role_name,
            teams=teams,
        )


# --- Teams --------------------------------------------------------------------------


def normalize_team_name(name: str) -> str:
    return canonicalize_name(name)


def _clean_team_name(name: str) -> tuple[str, str]:
    name = name.strip()
    if _VALID_TEAM_NAME.fullmatch(name) is None:
        raise OrganizationError(
            "A team name is made of ASCII letters, digits and . _ -, starts and ends with a "
            f"letter or digit, and is at most {MAX_TEAM_NAME_LENGTH} characters long.",
            field="name",
        )
    return name, normalize_team_name(name)


def team_by_name(organization: Organization, name: str) -> Team | None:
    return Team.objects.filter(
        organization=organization, normalized_name=normalize_team_name(name)
    ).first()


def _name_free(organization: Organization, normalized: str, name: str, team=None) -> None:
    others = Team.objects.filter(organization=organization, normalized_name=normalized)
    if team is not None:
        others = others.exclude(pk=team.pk)
    if others.exists():
        raise OrganizationError(
            f"{organization.name} already has a team named {name}.", field="name"
        )


def team_create(*, organization: Organization, name: str, actor: Actor) -> Team:
    name, normalized = _clean_team_name(name)
    with transaction.atomic():
        organization = _lock(organization)
        require(actor.user, organization, OrganizationAction.MANAGE_TEAMS)
        # Names are checked under the organization's lock: no concurrent twin.
        _name_free(organization, normalized, name)
        team = Team.objects.create(organization=organization, name=name, normalized_name=normalized)
        record_event("organization:team:created", actor=actor, organization=organization, team=name)
    return team


def _lock_team(team: Team) -> Team:
    locked = Team.objects.select_for_update().filter(pk=team.pk).first()
    if locked is None:
        raise OrganizationError(f"The team {team.name} no longer exists.")
    return locked


def team_rename(*, team: Team, name: str, actor: Actor) -> Team:
    name, normalized = _clean_team_name(name)
    with transaction.atomic():
        organization = _lock(team.organization)
        require(actor.user, organization, OrganizationAction.MANAGE_TEAMS)
        team = _lock_team(team)
        old = team.name
        if old == name:
            raise OrganizationError(f"The team already is named {name}.", field="name")
        _name_free(organization, normalized, name, team)
        team.name, team.normalized_name = name, normalized
        team.save(update_fields=["name", "normalized_name"])
        record_event(
            "organization:team:renamed",
            actor=actor,
            organization=organization,
            team=name,
            old_name=old,
        )
    return team


def team_delete(*, team: Team, actor: Actor) -> None:
    """Delete a team that holds no project. Taking its projects away first is
    the projects' own change, recorded in each project's security history,
    which a team's deletion would skip."""
    with transaction.atomic():
        organization = _lock(team.organization)
        require(actor.user, organization, OrganizationAction.MANAGE_TEAMS)
        team = _lock_team(team)
        # packages.TeamRole names the team (related_name "roles"); asked
        # through the relation, as accounts never imports packages.
        held = team.roles.count()
        if held:
            raise OrganizationError(
                f"The team {team.name} holds a role on {held} project{'s' if held != 1 else ''}; "
                "take those roles away first."
            )
        members = list(team.members.order_by("username").values_list("username", flat=True))
        team.delete()
        record_event(
            "organization:team:deleted",
            actor=actor,
            organization=organization,
            team=team.name,
            members=members,
        )


def team_member_add(*, team: Team, username: str, actor: Actor) -> TeamMember:
    """Put a member of the team's organization into the team."""
    username = username.strip()
    with transaction.atomic():
        organization = _lock(team.organization)
        require(actor.user, organization, OrganizationAction.MANAGE_TEAMS)
        team = _lock_team(team)
        user = User.objects.filter(
            username=username,
            is_active=True,
            organization_roles__organization=organization,
        ).first()
        if user is None:
            raise OrganizationError(
                f"{username!r} is not a member of {organization.name}; only members join its "
                "teams (invite them first).",
                field="username",
            )
        if TeamMember.objects.filter(team=team, user=user).exists():
            raise OrganizationError(
                f"{user.username} already is in the team {team.name}.", field="username"
            )
        membership = TeamMember.objects.create(team=team, user=user)
        record_event(
            "organization:team:member-added",
            actor=actor,
            organization=organization,
            user=user,
            team=team.name,
        )
    return membership


def team_member_remove(*, team: Team, user: User, actor: Actor) -> None:
    with transaction.atomic():
        organization = _lock(team.organization)
        require(actor.user, organization, OrganizationAction.MANAGE_TEAMS)
        deleted, _ = TeamMember.objects.filter(team=team, user=user).delete()
        if not deleted:
            raise OrganizationError(f"{user.username} is not in the team {team.name}.")
        record_event(
            "organization:team:member-removed",
            actor=actor,
            organization=organization,
            user=user,
            team=team.name,
        )
