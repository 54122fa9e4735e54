"""Login outcomes recorded as account events (connected in AccountsConfig.ready)."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from .events import SYSTEM, Actor, record_event
from .models import User


@receiver(user_logged_in, dispatch_uid="accounts.login_success")
def record_login_success(sender, request, user, **kwargs):
    record_event("account:login:success", actor=Actor.from_request(request, user=user), user=user)


@receiver(user_login_failed, dispatch_uid="accounts.login_failure")
def record_login_failure(sender, credentials, request=None, **kwargs):
    # Django has already masked the password in ``credentials``; only the
    # username is kept. A failure for an unknown name has no account to show
    # it to but still counts for abuse tracking.
    username = credentials.get("username", "")
    user = User.objects.filter(username=username).first()
    actor = Actor.from_request(request) if request is not None else SYSTEM
    record_event("account:login:failure", actor=actor, user=user, username=username[:150])
