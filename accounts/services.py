"""Account rules: registration, e-mail addresses and their verification,
account deletion. Views, commands and the upload pipeline call these; a refused
action raises AccountError with a message meant for the person. Each takes
the ``actor`` its event records; those that mail a link also take the
``request``, which makes the link absolute."""

import logging

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone

from .events import Actor, record_event
from .models import Email, User
from .projects import project_directory

logger = logging.getLogger(__name__)

VERIFY_EMAIL_SALT = "accounts.verify-email"


class AccountError(Exception):
    """A refused account action. ``field`` names the form field it concerns."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class VerificationLinkError(AccountError):
    """A verification link that cannot be used. ``email`` is the address it
    was made for when still known (an expired link), so a new one can be sent."""

    def __init__(self, message: str, *, email: Email | None = None):
        super().__init__(message)
        self.email = email


def _address_taken(address: str) -> bool:
    return Email.objects.filter(email__iexact=address).exists()


def user_register(
    *, username: str, email: str, password: str, actor: Actor, request: HttpRequest
) -> User:
    """Create an account with ``email`` as its unverified primary address and
    mail the verification link once the account is committed."""
    if _address_taken(email):
        raise AccountError("That e-mail address is already in use.", field="email")
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            address = Email.objects.create(user=user, email=email, primary=True)
    except IntegrityError:
        # A concurrent registration took the username or the address between
        # the form's checks and this insert.
        raise AccountError("That username or e-mail address is already in use.") from None
    record_event("account:registered", actor=actor.as_user(user), user=user, email=email)
    email_verification_send(email=address, request=request)
    return user


def verification_token(email: Email) -> str:
    # The address is signed too: a link made for an address that was removed
    # and added again (a new row or another spelling) must not verify it.
    return signing.dumps({"id": email.pk, "email": email.email.lower()}, salt=VERIFY_EMAIL_SALT)


def html_alternative(body_template: str, context: dict) -> str | None:
    """The HTML twin of a plain-text mail template (``x.txt`` -> ``x.html``),
    rendered, or None when the mail has none."""
    name = body_template.removesuffix(".txt") + ".html"
    try:
        template = get_template(name)
    except TemplateDoesNotExist:
        return None
    return template.render({"site_name": settings.SITE_NAME, **context})


def send_templated_mail(
    *, subject_template: str, body_template: str, context: dict, to: str, failure: str
) -> None:
    """Mail the rendered templates to ``to``. The change the mail tells of is
    already committed: a mail server failure is logged (as ``failure``), never
    raised into an error page or a retried request."""
    subject = " ".join(render_to_string(subject_template, context).split())
    message = EmailMultiAlternatives(
        subject, render_to_string(body_template, context), settings.DEFAULT_FROM_EMAIL, [to]
    )
    html = html_alternative(body_template, context)
    if html is not None:
        message.attach_alternative(html, "text/html")
    try:
        message.send()
    except Exception:
        logger.exception(failure)


def email_verification_send(*, email: Email, request: HttpRequest) -> None:
    """Mail a signed, expiring verification link for ``email`` after commit."""
    if email.verified:
        raise AccountError(f"{email.email} is already verified.")
    link = request.build_absolute_uri(
        reverse("verify-email") + "?token=" + verification_token(email)
    )
    context = {
        "email": email,
        "user": email.user,
        "link": link,
        "hours": settings.EMAIL_VERIFICATION_MAX_AGE // 3600,
    }
    transaction.on_commit(
        # The person can ask for the mail again if it fails.
        lambda: send_templated_mail(
            subject_template="accounts/email/verify_email_subject.txt",
            body_template="accounts/email/verify_email_body.txt",
            context=context,
            to=email.email,
            failure=f"Could not send accounts/email/verify_email_body.txt to e-mail #{email.pk}",
        )
    )


def email_verify(*, token: str, actor: Actor) -> tuple[Email, bool]:
    """Mark the address a verification link was made for as verified.

    Returns the address and whether this call verified it (False: it already
    was, e.g. a link followed twice). Raises VerificationLinkError for a
    tampered, expired or obsolete link."""
    try:
        payload = signing.loads(
            token, salt=VERIFY_EMAIL_SALT, max_age=settings.EMAIL_VERIFICATION_MAX_AGE
        )
    except signing.SignatureExpired:
        # The signature is genuine, only old: find the address to offer a new link.
        payload = signing.loads(token, salt=VERIFY_EMAIL_SALT)
        email = _email_for(payload)
        if email is not None and email.verified:
            return email, False
        raise VerificationLinkError("This verification link has expired.", email=email) from None
    except signing.BadSignature:
        raise VerificationLinkError("This verification link is not valid.") from None
    with transaction.atomic():
        email = _email_for(payload, lock=True)
        if email is None:
            raise VerificationLinkError(
                "This verification link is for an address that is no longer on any account."
            )
        if email.verified:
            return email, False
        email.verified = True
        email.verified_at = timezone.now()
        email.save(update_fields=["verified", "verified_at"])
    # The link's owner verified it, whoever is signed in where it was opened.
    record_event(
        "account:email:verified",
        actor=actor.as_user(email.user),
        user=email.user,
        email=email.email,
    )
    return email, True


def _email_for(payload: dict, *, lock: bool = False) -> Email | None:
    rows = Email.objects.select_related("user")
    if lock:
        rows = rows.select_for_update()
    return rows.filter(pk=payload["id"], email__iexact=payload["email"]).first()


def email_add(*, user: User, address: str, actor: Actor, request: HttpRequest) -> Email:
    """Add an unverified, non-primary address and mail its verification link."""
    if _address_taken(address):
        raise AccountError("That e-mail address is already in use.", field="email")
    try:
        with transaction.atomic():
            email = Email.objects.create(user=user, email=address)
    except IntegrityError:
        # Taken by a concurrent request since the check above.
        raise AccountError("That e-mail address is already in use.", field="email") from None
    record_event("account:email:added", actor=actor, user=user, email=address)
    email_verification_send(email=email, request=request)
    return email


def email_primary_set(*, email: Email, actor: Actor) -> Email:
    """Make a verified address the one mail goes to (and User.email)."""
    if not email.verified:
        raise AccountError(f"Verify {email.email} before making it your primary address.")
    if email.primary:
        return email
    user = email.user
    with transaction.atomic():
        previous = Email.objects.filter(user=user, primary=True).first()
        # Cleared first: the database allows one primary row per user.
        Email.objects.filter(user=user, primary=True).update(primary=False)
        Email.objects.filter(pk=email.pk).update(primary=True)
        user.email = email.email
        user.save(update_fields=["email"])
    email.primary = True
    record_event(
        "account:email:primary-changed",
        actor=actor,
        user=user,
        old=previous.email if previous else None,
        new=email.email,
    )
    return email


def email_remove(*, email: Email, actor: Actor) -> None:
    if email.primary:
        raise AccountError(
            f"{email.email} is your primary address; make another address primary first."
        )
    user = email.user
    if email.verified and not user.emails.filter(verified=True).exclude(pk=email.pk).exists():
        raise AccountError(f"{email.email} is your only verified address; it cannot be removed.")
    email.delete()
    record_event("account:email:removed", actor=actor, user=user, email=email.email)


def sole_owner_projects(user: User) -> list[str]:
    """Names of the projects that would be left without an Owner if ``user`` went."""
    return project_directory().sole_owner_projects(user)


def user_delete(*, user: User) -> None:
    """Delete the account, refused while it is the only Owner of a project or
    an organization."""
    with transaction.atomic():
        # Locked: a co-Owner cannot leave between the check and the delete.
        orphaned = project_directory().sole_owner_projects(user, lock=True)
        if orphaned:
            names = ", ".join(orphaned)
            raise AccountError(
                f"You are the only Owner of {names}. Add another Owner or delete "
                f"{'that project' if len(orphaned) == 1 else 'those projects'} first."
            )
        # Imported here: accounts.organizations mails through this module.
        from .organizations import sole_owner_organizations

        orphaned = sole_owner_organizations(user, lock=True)
        if orphaned:
            raise AccountError(
                f"You are the only Owner of the organization{'s' if len(orphaned) > 1 else ''} "
                f"{', '.join(orphaned)}. Make another member an Owner first."
            )
        user.delete()


def user_has_verified_email(user: User) -> bool:
    """True when the account's primary address is verified (the upload rule)."""
    return user.emails.filter(primary=True, verified=True).exists()


def ensure_verified_primary_email(*, user: User, actor: Actor) -> Email | None:
    """Give an account made by an administrator (createsuperuser) its address
    as a verified primary one; None when it has no address. Refused when the
    address belongs to another account."""
    if not user.email:
        return None
    if _address_taken(user.email):
        raise AccountError(
            f"{user.email} is already an address of another account; "
            f"{user.username} has no verified e-mail address."
        )
    email = Email.objects.create(
        user=user, email=user.email, primary=True, verified=True, verified_at=timezone.now()
    )
    record_event(
        "account:email:verified", actor=actor, user=user, email=email.email, via="createsuperuser"
    )
    return email
