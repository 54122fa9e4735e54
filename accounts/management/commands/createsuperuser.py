"""Django's createsuperuser, plus: the new account's e-mail address is its
verified primary address (an administrator vouches for it), so it can upload
at once."""

from django.contrib.auth.management.commands import createsuperuser
from django.db.models.signals import post_save

from accounts.events import Actor
from accounts.models import User
from accounts.services import AccountError, ensure_verified_primary_email


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        # Django's handle() gathers the username interactively or from
        # DJANGO_SUPERUSER_* and returns nothing; the save signal is the one
        # place that sees the account it makes, whichever way it was asked.
        new_users: list[User] = []

        def collect(sender, instance, created, **kwargs):
            if created:
                new_users.append(instance)

        post_save.connect(collect, sender=User, weak=False, dispatch_uid="createsuperuser")
        try:
            super().handle(*args, **options)
        finally:
            post_save.disconnect(sender=User, dispatch_uid="createsuperuser")
        for user in new_users:
            try:
                ensure_verified_primary_email(user=user, actor=Actor.shell())
            except AccountError as exc:
                self.stderr.write(exc.message)
