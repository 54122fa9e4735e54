"""Invitations by e-mail to a role: in an organization (accounts.organizations)
or on a project (packages.collaborators). What every kind of invitation does
the same way is written here once: the signed link that expires with
ROLE_INVITATION_MAX_AGE, the pending invitation a new one is refused for or
replaces, the invitee's verified address, the mail sent after commit, reading
a link back, and the invitation's own row lock.

An invitation model has ``user``, ``role_name``, ``invited_by``, ``created_at``,
``expires_at`` and a foreign key to its target (anything with a ``name``). Its
app describes it once with an InvitationKind; the app's own services keep who
may invite or answer, the lock on the target, the role an acceptance makes and
the events, and call these inside their transaction, after that lock. Refusals
a person reads are raised as the app's own error class.
"""

import dataclasses
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import models, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from .models import Email, User
from .services import send_templated_mail

EXPIRED = "This invitation has expired."
NO_LONGER_VALID = "This invitation is no longer valid: it was accepted, declined or revoked."


class InvitationLinkError(Exception):
    """An invitation link that cannot be used; ``status`` is the HTTP answer."""

    def __init__(self, message: str, *, status: int):
        super().__init__(message)
        self.message = message
        self.status = status


def is_expired(invitation) -> bool:
    return invitation.expires_at <= timezone.now()


@dataclasses.dataclass(frozen=True)
class InvitationKind:
    """One app's invitations: what differs from another app's."""

    model: type[models.Model]
    # The invitation's foreign key to what it invites to ("organization", "project").
    target: str
    # Signs this kind's links only: a link of one kind is never read as another's.
    salt: str
    # The page the e-mailed link opens (it reads the token back with from_token).
    link_url_name: str
    mail_subject_template: str
    mail_body_template: str
    # Logged, with the invitation's id, when the mail server refuses the mail.
    mail_failure: str
    # The app's refusal: ``error(message, field=None)``.
    error: type[Exception]
    # What else an invitation must be to be answered (its target still active).
    answerable: models.Q = dataclasses.field(default_factory=models.Q)

    def token(self, invitation) -> str:
        # The invitee is signed too: the link is theirs alone, and a link to an
        # invitation that was revoked never matches a later one (new id).
        return signing.dumps({"id": invitation.pk, "user": invitation.user_id}, salt=self.salt)

    def pending(self, user: User) -> models.QuerySet:
        """``user``'s invitations that may still be answered."""
        return self.model.objects.filter(
            self.answerable, user=user, expires_at__gt=timezone.now()
        ).select_related(self.target, "invited_by")

    def create(
        self,
        *,
        target,
        invitee: User,
        role_name: str,
        invited_by: User | None,
        request: HttpRequest | None,
        field: str,
    ):
        """Inside the caller's transaction, under its lock on ``target`` (so no
        concurrent invitation races this one): invite ``invitee`` and mail them
        the link after commit, made absolute from ``request``. Refused, on the
        form field ``field``, while an earlier invitation is pending or when
        the invitee has no verified primary address to mail."""
        pending = self.model.objects.filter(**{self.target: target}, user=invitee).first()
        if pending is not None:
            if not is_expired(pending):
                raise self.error(
                    f"{invitee.username} has already been invited to {target.name}.", field=field
                )
            # An expired invitation is dead; a new one takes its place.
            pending.delete()
        address = Email.objects.filter(user=invitee, primary=True, verified=True).first()
        if address is None:
            raise self.error(
                f"{invitee.username} has no verified e-mail address to send the invitation to.",
                field=field,
            )
        invitation = self.model.objects.create(
            **{self.target: target},
            user=invitee,
            role_name=role_name,
            invited_by=invited_by,
            expires_at=timezone.now() + timedelta(seconds=settings.ROLE_INVITATION_MAX_AGE),
        )
        self._mail_on_commit(invitation, address, request)
        return invitation

    def _mail_on_commit(self, invitation, address: Email, request: HttpRequest | None) -> None:
        path = reverse(self.link_url_name) + "?token=" + self.token(invitation)
        context = {
            "invitation": invitation,
            self.target: getattr(invitation, self.target),
            "invitee": invitation.user,
            "inviter": invitation.invited_by,
            "link": request.build_absolute_uri(path) if request is not None else path,
            "hours": settings.ROLE_INVITATION_MAX_AGE // 3600,
            "site_name": settings.SITE_NAME,
        }
        transaction.on_commit(
            lambda: send_templated_mail(
                subject_template=self.mail_subject_template,
                body_template=self.mail_body_template,
                context=context,
                to=address.email,
                failure=f"{self.mail_failure} #{invitation.pk}",
            )
        )

    def from_token(self, token: str, user: User):
        """The pending invitation a link stands for, if ``user`` may answer it;
        else InvitationLinkError."""
        try:
            payload = signing.loads(token, salt=self.salt, max_age=settings.ROLE_INVITATION_MAX_AGE)
        except signing.SignatureExpired:
            raise InvitationLinkError(EXPIRED, status=410) from None
        except signing.BadSignature:
            raise InvitationLinkError("This invitation link is not valid.", status=400) from None
        if payload["user"] != user.pk:
            raise InvitationLinkError(
                "This invitation is for another account. Sign in as the invited user.", status=403
            )
        invitation = (
            self.model.objects.select_related(self.target, "invited_by")
            .filter(self.answerable, pk=payload["id"], user=user)
            .first()
        )
        if invitation is None:
            raise InvitationLinkError(NO_LONGER_VALID, status=410)
        if is_expired(invitation):
            raise InvitationLinkError(EXPIRED, status=410)
        return invitation

    def lock(self, invitation):
        """Inside the caller's transaction, after its lock on the target (the
        order every change of the target's people takes): the invitation,
        locked, if it may still be answered. An answer and a revocation of one
        invitation can't both succeed."""
        locked = self.model.objects.select_for_update().filter(pk=invitation.pk).first()
        if locked is None:
            raise self.error(NO_LONGER_VALID)
        if is_expired(locked):
            raise self.error(EXPIRED)
        return locked

    def revoke(self, invitation) -> None:
        """Delete ``invitation`` (the caller holds its target's lock); its link
        stops working at once. Refused when it was answered or revoked before."""
        deleted, _ = self.model.objects.filter(pk=invitation.pk).delete()
        if not deleted:
            raise self.error("This invitation was already accepted, declined or revoked.")
