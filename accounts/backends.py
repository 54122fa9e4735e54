"""Authentication backend: Django's, with frozen accounts refused."""

from django.contrib.auth.backends import ModelBackend


class AccountBackend(ModelBackend):
    """Username and password, as ModelBackend, but a frozen account (a
    moderator's decision, moderation.services.user_freeze) can't sign in, and a
    session it still holds is not accepted: ModelBackend asks
    ``user_can_authenticate`` both when it checks a password and when it
    loads a session's user (get_user)."""

    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and not getattr(user, "is_frozen", False)
