"""Authentication backend: Django's, with frozen accounts refused."""

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from .models import User


class AccountBackend(ModelBackend):
    """Username and password, as ModelBackend, but a frozen account (a
    moderator's decision, moderation.services.freeze_user) can't sign in, and a
    session it still holds is not accepted (get_user asks the same question)."""

    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and not getattr(user, "is_frozen", False)

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if (
            user is None
            and username
            and User.objects.filter(username=username, is_frozen=True).exists()
        ):
            # Stops authenticate() here: no backend listed after this one may
            # let the frozen account in.
            raise PermissionDenied
        return user
