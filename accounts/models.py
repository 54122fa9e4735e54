from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class User(AbstractUser):
    """The index's account. Custom from the first migration so later fields
    (frozen accounts, verified e-mail, 2FA) never need a user-model swap."""

    # TOTP (RFC 6238): the base32 shared secret, and the last time step
    # accepted, so a code seen once is never accepted again.
    totp_secret = models.CharField(max_length=64, blank=True, editable=False)
    totp_last_step = models.BigIntegerField(null=True, blank=True, editable=False)
    # Set by a moderator: no login, no upload, tokens refused.
    is_frozen = models.BooleanField(default=False, editable=False)

    class Meta:
        db_table = "accounts_user"

    @property
    def has_totp(self) -> bool:
        return bool(self.totp_secret)


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
    # Minted by trusted publishing (packages.trusted_publishing): short-lived,
    # scoped to the publisher's project, and gone when the publisher is removed.
    trusted_publisher = models.ForeignKey(
        "packages.TrustedPublisher",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tokens",
        editable=False,
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"pypi-{self.lookup_id}… ({self.user})"


class Email(models.Model):
    """An e-mail address of an account. One is primary (where mail goes); only
    verified addresses count for uploading and for password reset."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="emails")
    email = models.EmailField(max_length=254)
    primary = models.BooleanField(default=False)
    verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-primary", "email"]
        constraints = [
            # One account per address, however it is capitalized.
            models.UniqueConstraint(Lower("email"), name="email_unique_case_insensitive"),
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(primary=True), name="email_one_primary"
            ),
        ]

    def __str__(self) -> str:
        return self.email


class Event(models.Model):
    """An append-only record of a security-relevant event, about an account or
    a project (accounts.events.record_event writes them)."""

    # What each tag means, in plain words, for the security histories; a tag
    # without an entry shows as it is.
    DESCRIPTIONS = {
        "account:registered": "Account created",
        "account:login:success": "Signed in",
        "account:login:failure": "Failed sign-in (wrong password)",
        "account:login:two-factor-failure": "Failed sign-in (wrong second factor)",
        "account:password:changed": "Password changed",
        "account:password:reset": "Password reset by e-mail",
        "account:email:added": "E-mail address added",
        "account:email:verified": "E-mail address verified",
        "account:email:primary-changed": "Primary e-mail address changed",
        "account:email:removed": "E-mail address removed",
        "account:token:created": "API token created",
        "account:token:revoked": "API token revoked",
        "account:token:leaked": "API token found leaked and revoked",
        "account:token:used": "API token used to upload",
        "account:frozen": "Account frozen by a moderator",
        "account:unfrozen": "Account unfrozen by a moderator",
        "account:two-factor:totp-added": "Authenticator app added",
        "account:two-factor:totp-removed": "Authenticator app removed",
        "account:two-factor:webauthn-added": "Security key added",
        "account:two-factor:webauthn-removed": "Security key removed",
        "account:two-factor:recovery-codes-generated": "New recovery codes made",
        "account:two-factor:recovery-code-used": "Recovery code used to sign in",
        "project:created": "Project created",
        "project:trusted-publisher:added": "Trusted publisher added",
        "project:trusted-publisher:removed": "Trusted publisher removed",
        "project:trusted-publisher:token-minted": "Upload token minted by trusted publishing",
        "project:deleted": "Project deleted",
        "project:organization:added": "Project moved into an organization",
        "project:organization:removed": "Project moved out of its organization",
        "project:team-role:added": "Team given a role",
        "project:team-role:changed": "Team's role changed",
        "project:team-role:removed": "Team's role removed",
        "project:release:created": "Release created",
        "project:release:yanked": "Release yanked",
        "project:release:unyanked": "Release unyanked",
        "project:release:deprecated": "Release deprecated",
        "project:release:undeprecated": "Release no longer deprecated",
        "project:release:provenance-missing": (
            "Release published without the provenance (attestations) its predecessor had"
        ),
        "project:advisory:added": "Security advisory added",
        "project:advisory:updated": "Security advisory updated",
        "project:advisory:withdrawn": "Security advisory withdrawn",
        "project:advisory:deleted": "Security advisory deleted",
        "project:release:deleted": "Release deleted",
        "project:file:uploaded": "File uploaded",
        "project:upload-session:opened": "Publishing session opened (PEP 694)",
        "project:upload-session:published": "Publishing session published",
        "project:upload-session:canceled": "Publishing session canceled",
        "project:file:deleted": "File deleted",
        "project:role:invited": "Collaborator invited",
        "project:role:invitation-revoked": "Invitation revoked",
        "project:role:added": "Invitation accepted",
        "project:role:declined": "Invitation declined",
        "project:role:changed": "Role changed",
        "project:role:removed": "Role removed",
        "project:status:archived": "Project archived",
        "project:status:unarchived": "Project unarchived",
        "project:status:deprecated": "Project deprecated",
        "project:status:undeprecated": "Project no longer deprecated",
        "project:upload-sessions:required": "Publishing sessions required for every upload",
        "project:upload-sessions:not-required": "Publishing sessions no longer required",
        "organization:created": "Organization created",
        "organization:updated": "Organization profile changed",
        "organization:deactivated": "Organization deactivated by a moderator",
        "organization:reactivated": "Organization reactivated by a moderator",
        "organization:member:invited": "Member invited",
        "organization:member:invitation-revoked": "Member invitation revoked",
        "organization:member:added": "Member invitation accepted",
        "organization:member:declined": "Member invitation declined",
        "organization:member:role-changed": "Member's role changed",
        "organization:member:removed": "Member removed or left",
        "organization:team:created": "Team created",
        "organization:team:renamed": "Team renamed",
        "organization:team:deleted": "Team deleted",
        "organization:team:member-added": "Team member added",
        "organization:team:member-removed": "Team member removed",
        "organization:namespace:granted": "Namespace granted",
        "organization:namespace:changed": "Namespace grant changed",
        "organization:namespace:revoked": "Namespace grant revoked",
    }

    tag = models.CharField(max_length=64, help_text="e.g. account:login:success")
    # The account the event is about (shown to its owner) ...
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    # ... or the project (shown to its Owners). The name outlives the project.
    project = models.ForeignKey(
        "packages.Project",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    project_name = models.CharField(max_length=200, blank=True)
    # ... or the organization (shown to its Owners). The name outlives it too.
    organization = models.ForeignKey(
        "accounts.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    organization_name = models.CharField(max_length=100, blank=True)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="event_user_recent"),
            models.Index(fields=["project", "-created_at"], name="event_project_recent"),
            models.Index(fields=["organization", "-created_at"], name="event_organization_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.tag} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def description(self) -> str:
        return self.DESCRIPTIONS.get(self.tag, self.tag)


class WebAuthnCredential(models.Model):
    """A security key (WebAuthn public-key credential) registered to an account."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="webauthn_credentials")
    label = models.CharField(max_length=64)
    # base64url, as the browser reports them.
    credential_id = models.CharField(max_length=1024, unique=True, editable=False)
    public_key = models.TextField(editable=False)  # COSE key, base64url
    sign_count = models.BigIntegerField(default=0, editable=False)
    transports = models.JSONField(default=list, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at"]
        verbose_name = "WebAuthn credential"
        constraints = [
            models.UniqueConstraint(fields=["user", "label"], name="webauthn_label_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.user})"


class RecoveryCode(models.Model):
    """A one-time 2FA recovery code. Only its SHA-256 is stored: the codes are
    random (64 bits), so a slow hash would add nothing but latency."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "code_digest"], name="recovery_code_unique_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"recovery code of {self.user}"


class AdminFlag(models.Model):
    """A kill switch (read-only, no uploads, ...), one row per switch; the ids
    and their meaning are in accounts.flags. Changed only through
    moderation.services.kill_switch_set, which records who, when and why."""

    id = models.CharField(max_length=64, primary_key=True)
    description = models.CharField(max_length=200)
    enabled = models.BooleanField(default=False)
    # The last change; the full history is in moderation's ModerationAction.
    reason = models.TextField(blank=True)
    changed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        verbose_name = "kill switch"

    def __str__(self) -> str:
        return self.id


# --- Organizations ---------------------------------------------------------------
#
# An organization owns projects (packages.Project.organization) through its
# people: members hold a role in it, and teams inside it hold roles on its
# projects (packages.TeamRole). What each role may do is written once, in
# accounts.organizations (the organization) and packages.policy (its projects).


class Organization(models.Model):
    # As its Owners spelled it; URLs and uniqueness use the normalized form
    # (PEP 503 rules, as for project names).
    name = models.CharField(max_length=100)
    normalized_name = models.CharField(max_length=100, unique=True, editable=False)
    display_name = models.CharField(max_length=100, blank=True)
    link_url = models.URLField(max_length=400, blank=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # A moderator may deactivate one (its projects stay; nobody acts through it).
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["normalized_name"]

    def __str__(self) -> str:
        return self.name


class OrganizationRole(models.Model):
    class Name(models.TextChoices):
        # Everything, and Owner of every project the organization owns.
        OWNER = "Owner"
        # Teams, their members and which team holds which project.
        MANAGER = "Manager"
        # Only what their teams hold.
        MEMBER = "Member"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="roles")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="organization_roles")
    role_name = models.CharField(max_length=20, choices=Name.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="organization_role_one_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role_name} of {self.organization}"


class OrganizationInvitation(models.Model):
    """An Owner's invitation to join an organization in a role; it becomes an
    OrganizationRole when the invitee accepts through the e-mailed link, before
    ``expires_at``. Declining, revoking or accepting deletes it."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="organization_invitations"
    )
    role_name = models.CharField(max_length=20, choices=OrganizationRole.Name.choices)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="organization_invitation_one_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} invited as {self.role_name} of {self.organization}"


class Team(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=50)
    normalized_name = models.CharField(max_length=50, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    members = models.ManyToManyField(User, through="TeamMember", related_name="teams")

    class Meta:
        ordering = ["normalized_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "normalized_name"], name="team_name_unique_in_organization"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization}/{self.name}"


class TeamMember(models.Model):
    """A member of the organization in one of its teams."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="team_memberships")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="team_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"
