from django.conf import settings
from django.db import models
from django.utils import timezone


class ProhibitedName(models.Model):
    """A project name nobody may register (after PEP 503 normalization)."""

    name = models.CharField(max_length=200)
    normalized_name = models.CharField(max_length=200, unique=True, editable=False)
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["normalized_name"]

    def __str__(self) -> str:
        return self.name


class MalwareReport(models.Model):
    """A user's report about a project, and what moderators made of it."""

    class Reason(models.TextChoices):
        MALWARE = "malware", "Malware"
        TYPOSQUATTING = "typosquatting", "Typosquatting / impersonation"
        SPAM = "spam", "Spam"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        NEW = "new", "New"
        CONFIRMED = "confirmed", "Confirmed"
        DISMISSED = "dismissed", "Dismissed"

    # The name outlives a removed project; the report is kept.
    project = models.ForeignKey(
        "packages.Project",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )
    project_name = models.CharField(max_length=200)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    details = models.TextField()
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.NEW, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "-created_at"], name="report_queue")]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} report on {self.project_name}"


class NameReview(models.Model):
    """A new project whose name is a small edit away from a popular one:
    accepted, but queued for a moderator to look at."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        ACTED = "acted", "Acted on"

    project = models.ForeignKey(
        "packages.Project",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="name_reviews",
    )
    project_name = models.CharField(max_length=200)
    similar_to = models.CharField(max_length=200)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.project_name} looks like {self.similar_to}"


class ModerationAction(models.Model):
    """Who did what to which project or account, when and why. Append-only."""

    action = models.CharField(max_length=64, db_index=True)
    project = models.ForeignKey(
        "packages.Project",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="moderation_actions",
    )
    project_name = models.CharField(max_length=200, blank=True)
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="moderation_actions",
    )
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="modaction_project")]

    def __str__(self) -> str:
        return f"{self.action} on {self.project_name or self.target_user_id}"
