from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """The index's account. Custom from the first migration so later fields
    (frozen accounts, verified e-mail, 2FA) never need a user-model swap."""

    class Meta:
        db_table = "accounts_user"


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """An upload credential. Only the SHA-256 of the secret part is stored; the
    lookup id (also inside the token) finds the row without a scan."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    description = models.CharField(max_length=200, blank=True)
    lookup_id = models.CharField(max_length=32, unique=True, editable=False)
    secret_digest = models.CharField(max_length=64, editable=False)
    # A scoped token is limited to ``projects``. The flag, not an empty list,
    # says "user-wide": deleting a token's only project must leave it useless,
    # not turn it into a user-wide token.
    scoped = models.BooleanField(default=False, editable=False)
    projects = models.ManyToManyField("packages.Project", blank=True, related_name="api_tokens")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"pypi-{self.lookup_id}… ({self.user})"
