import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from .names import NORMALIZED_NAME_RE, normalize_project_name

# What the public may see, the one spelling of the rule: nothing of a project a
# moderator has quarantined. The ORM reads it through ``visible()`` below; raw
# SQL (file serving, search) formats this with its alias of the project table.
PROJECT_VISIBLE_SQL = "{project}.quarantined_at IS NULL"


def visible_q(path: str = "") -> models.Q:
    """The rule as a filter on the rows ``path`` leads from to their project
    ("release__project__" for files; "" for projects themselves)."""
    return models.Q(**{f"{path}quarantined_at__isnull": True})


class RowQuerySet(models.QuerySet):
    def locked(self, **lookup) -> models.Model:
        """The one row ``lookup`` finds, read again under a row lock held until
        the transaction ends (SELECT ... FOR UPDATE): what a check reads of it
        can't be changed by a concurrent writer before this one commits.
        DoesNotExist when the row is gone, deleted since it was read.

        Lock order, against deadlocks: a project before its releases, files
        and roles, as every change to them takes it."""
        return self.select_for_update().get(**lookup)


class PublicQuerySet(RowQuerySet):
    # The path from these rows to their project, for visible_q.
    project_path = "project__"

    def visible(self):
        """The rows the public may see: not of a quarantined project."""
        return self.filter(visible_q(self.project_path))


class ProjectQuerySet(PublicQuerySet):
    project_path = ""

    def by_name(self, name: str) -> "Project | None":
        """The project ``name`` stands for, however it is spelled (PEP 503), or None."""
        return self.filter(normalized_name=normalize_project_name(name)).first()


class FileQuerySet(PublicQuerySet):
    project_path = "release__project__"


class ProjectStatus(models.TextChoices):
    """PEP 792 project status markers."""

    ACTIVE = "active"
    # No more uploads; existing files stay installable.
    ARCHIVED = "archived"
    # Like active, with a reason (and maybe a successor) installers may show.
    DEPRECATED = "deprecated"
    # No uploads and no files offered (a moderator's, Project.quarantined_at).
    QUARANTINED = "quarantined"


class Project(models.Model):
    name = models.CharField(max_length=200, help_text="Display name, as first uploaded.")
    normalized_name = models.CharField(max_length=200, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    last_serial = models.BigIntegerField(default=0, editable=False)
    # Per-project overrides of UPLOAD_MAX_BYTES and PROJECT_MAX_BYTES. Indexed:
    # every upload reads the largest upload_limit before it reads the body
    # (packages.upload_handler), which must not scan every project.
    upload_limit = models.BigIntegerField(null=True, blank=True, db_index=True)
    total_size_limit = models.BigIntegerField(null=True, blank=True)
    total_size = models.BigIntegerField(default=0, editable=False)
    # Set by a moderator (moderation.services): the project vanishes from every
    # public surface, its files are not served and uploads to it are refused.
    quarantined_at = models.DateTimeField(null=True, blank=True, editable=False)
    quarantine_reason = models.TextField(blank=True, editable=False)
    # Owned by an organization (its people act through their roles in it and
    # their teams' TeamRoles), or by people alone (None).
    organization = models.ForeignKey(
        "accounts.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="projects",
    )
    # PEP 792 status as its Owners or the moderators set it (packages.project_status).
    # "quarantined" is not stored here: it is quarantined_at, a moderator's, and
    # wins over this one (Project.project_status).
    status = models.CharField(
        max_length=20, choices=ProjectStatus.choices, default=ProjectStatus.ACTIVE
    )
    status_reason = models.TextField(blank=True)
    # A deprecated project may name the project that replaces it.
    successor = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Every upload goes through a publishing session (PEP 694): a legacy upload
    # lands staged until someone publishes it (packages.upload_sessions).
    require_upload_sessions = models.BooleanField(default=False)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["normalized_name"]
        constraints = [
            # The database refuses any name not in its normalized form, so no
            # code path can store a second spelling of a name.
            models.CheckConstraint(
                condition=models.Q(normalized_name__regex=NORMALIZED_NAME_RE)
                & ~models.Q(normalized_name__contains="--"),
                name="project_normalized_name_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def project_status(self) -> str:
        """The PEP 792 status the index answers with: a quarantine wins."""
        if self.quarantined_at is not None:
            return ProjectStatus.QUARANTINED
        return self.status

    @property
    def project_status_reason(self) -> str:
        if self.quarantined_at is not None:
            return self.quarantine_reason
        return self.status_reason


class Role(models.Model):
    class Name(models.TextChoices):
        OWNER = "Owner"
        MAINTAINER = "Maintainer"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="roles")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="roles"
    )
    role_name = models.CharField(max_length=20, choices=Name.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = PublicQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="role_one_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role_name} of {self.project}"


class RoleInvitation(models.Model):
    """An Owner's invitation to a user to take a role on a project. It becomes
    a Role when the invitee accepts it through the e-mailed link, before
    ``expires_at``; declining, revoking or accepting deletes it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_invitations"
    )
    role_name = models.CharField(max_length=20, choices=Role.Name.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()

    objects = RowQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="invitation_one_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} invited as {self.role_name} of {self.project}"


class TeamRole(models.Model):
    """A team of the project's organization holds a role on the project: each
    of its members acts with that role, as if they held it themselves
    (packages.policy)."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="roles")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="team_roles")
    role_name = models.CharField(max_length=20, choices=Role.Name.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "project"], name="team_role_one_per_team"),
        ]

    def __str__(self) -> str:
        return f"{self.team} is {self.role_name} of {self.project}"


class Release(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="releases")
    version = models.CharField(max_length=100, help_text="As uploaded.")
    # packaging.utils.canonicalize_version: 1.0 and 1.0.0 are one release.
    canonical_version = models.CharField(max_length=100, editable=False)
    is_prerelease = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    yanked = models.BooleanField(default=False)
    yanked_reason = models.TextField(blank=True)
    # An Owner's mark: still installable, but not to be used (shown with the reason).
    deprecated_at = models.DateTimeField(null=True, blank=True, editable=False)
    deprecated_reason = models.TextField(blank=True)

    # Core metadata, as the first file of the release declared it.
    metadata_version = models.CharField(max_length=10)
    summary = models.CharField(max_length=512, blank=True)
    description = models.TextField(blank=True)
    description_content_type = models.CharField(max_length=128, blank=True)
    # Rendered and sanitized once, after the upload (packages.descriptions);
    # pages show it as it is. The renderer version tells which rows to render
    # again; "pending" means not rendered yet.
    description_html = models.TextField(blank=True, editable=False)
    description_renderer = models.CharField(max_length=32, blank=True, editable=False)
    author = models.TextField(blank=True)
    author_email = models.TextField(blank=True)
    maintainer = models.TextField(blank=True)
    maintainer_email = models.TextField(blank=True)
    license = models.TextField(blank=True)
    license_expression = models.TextField(blank=True)
    license_files = models.JSONField(default=list, blank=True)
    keywords = models.TextField(blank=True)
    classifiers = models.JSONField(default=list, blank=True)
    platform = models.JSONField(default=list, blank=True)
    home_page = models.TextField(blank=True)
    download_url = models.TextField(blank=True)
    # [[label, url], ...] in the order declared.
    project_urls = models.JSONField(default=list, blank=True)
    requires_python = models.TextField(blank=True)
    requires_dist = models.JSONField(default=list, blank=True)
    provides_extra = models.JSONField(default=list, blank=True)
    dynamic = models.JSONField(default=list, blank=True)
    requires_external = models.JSONField(default=list, blank=True)
    provides_dist = models.JSONField(default=list, blank=True)
    obsoletes_dist = models.JSONField(default=list, blank=True)

    objects = PublicQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "canonical_version"], name="release_version_unique"
            ),
        ]
        indexes = [
            # The few releases whose description waits for its render
            # (packages.descriptions), found by the worker at every poll.
            models.Index(
                fields=["id"],
                condition=models.Q(description_renderer="pending"),
                name="release_description_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project.name} {self.version}"


class File(models.Model):
    class PackageType(models.TextChoices):
        SDIST = "sdist"
        BDIST_WHEEL = "bdist_wheel"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="files")
    filename = models.CharField(max_length=255, unique=True, editable=False)
    packagetype = models.CharField(max_length=20, choices=PackageType.choices, editable=False)
    python_version = models.CharField(max_length=100, editable=False)
    size = models.BigIntegerField(editable=False)
    md5_digest = models.CharField(max_length=32, editable=False)
    sha256_digest = models.CharField(max_length=64, unique=True, editable=False)
    blake2_256_digest = models.CharField(max_length=64, unique=True, editable=False)
    # Storage key: <2 hex>/<2 hex>/<60 hex>/<filename> of the blake2b-256.
    path = models.CharField(max_length=512, unique=True, editable=False)
    # PEP 658: the core metadata extracted from a wheel, stored as <path>.metadata.
    metadata_sha256_digest = models.CharField(max_length=64, blank=True, editable=False)
    metadata_blake2_256_digest = models.CharField(max_length=64, blank=True, editable=False)
    upload_time = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = FileQuerySet.as_manager()

    class Meta:
        ordering = ["filename"]
        constraints = [
            models.CheckConstraint(condition=models.Q(size__gte=0), name="file_size_positive"),
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def has_metadata(self) -> bool:
        return bool(self.metadata_sha256_digest)


class FileRegistry(models.Model):
    """Every filename ever accepted. Never deleted: a filename, once used, can
    never name different bytes, even after its file is deleted."""

    filename = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "file registry"

    def __str__(self) -> str:
        return self.filename


class JournalEntry(models.Model):
    """The change log mirrors follow. Its id is the global serial."""

    name = models.CharField(max_length=200, db_index=True)
    version = models.CharField(max_length=100, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    action = models.TextField()
    submitted_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "journal entries"

    def __str__(self) -> str:
        return f"#{self.id} {self.name} {self.action}"


class Classifier(models.Model):
    """A trove classifier used by at least one project's latest release."""

    name = models.CharField(max_length=255, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SearchDocument(models.Model):
    """What search reads for one project: the fields of its latest release,
    kept up to date in the same transaction as every change to its releases
    (packages.search). On PostgreSQL, migration 0003 adds weighted tsvector
    columns (search_vector, search_head, search_name) with GIN indexes, and a
    trigram index on the name, outside the model."""

    project = models.OneToOneField(
        Project, primary_key=True, on_delete=models.CASCADE, related_name="search_document"
    )
    name = models.CharField(max_length=200)
    normalized_name = models.CharField(max_length=200, unique=True)
    version = models.CharField(max_length=100, blank=True)
    summary = models.CharField(max_length=512, blank=True)
    keywords = models.TextField(blank=True)
    description = models.TextField(blank=True)
    # Author and maintainer names (and e-mail addresses), space-separated.
    people = models.TextField(blank=True)
    released_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(db_index=True)
    classifiers = models.ManyToManyField(Classifier, blank=True, related_name="documents")

    objects = PublicQuerySet.as_manager()

    def __str__(self) -> str:
        return self.name


class DownloadCount(models.Model):
    """Downloads of one file on one day (UTC). Written in batches from the
    cache counters (packages.downloads), never on the download path."""

    file = models.ForeignKey(File, on_delete=models.CASCADE, related_name="download_counts")
    # Denormalized so a project's totals are one indexed range scan.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["file", "day"], name="download_count_file_day"),
        ]
        indexes = [models.Index(fields=["project", "day"], name="download_count_project_day")]

    def __str__(self) -> str:
        return f"{self.file_id} on {self.day}: {self.count}"


class ImportedDownloadLog(models.Model):
    """A CDN log whose downloads ``import_download_log`` added: importing it
    again, or a longer copy of it (the same log, grown since), counts each line
    once (packages.download_log)."""

    # sha256 of the bytes imported (decompressed), up to the last complete line.
    digest = models.CharField(max_length=64, unique=True)
    size = models.BigIntegerField()
    # Finds the logs this one may continue without reading them all.
    first_line_digest = models.CharField(max_length=64, db_index=True)
    name = models.TextField()
    lines = models.BigIntegerField()
    downloads = models.BigIntegerField()
    imported_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} ({self.lines} lines)"


class DownloadLogFingerprint(models.Model):
    """A sample of the runs of consecutive lines of an imported log (chosen by
    winnowing, packages.download_log): a log sharing a long enough run of lines
    with one imported before shares one of these, and is refused."""

    log = models.ForeignKey(
        ImportedDownloadLog, on_delete=models.CASCADE, related_name="fingerprints"
    )
    value = models.BigIntegerField(db_index=True)

    def __str__(self) -> str:
        return f"{self.log}: {self.value}"


class EdgePurge(models.Model):
    """Surrogate keys that every edge cache must forget: the outbox of
    packages.purges, written in the transaction of the change itself, so a
    committed change always has its purge waiting, whatever happens to the
    process or the edges afterwards. A row is deleted once every edge took it."""

    # Space-separated, as in the Surrogate-Key header.
    keys = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    # When a worker may next take the row: the retry after a failure, or the
    # end of a claim (a worker that died holding it gives it back this way).
    due_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # The claim that took the row last; finds a worker's own rows after the
    # claiming update.
    claim = models.CharField(max_length=32, blank=True)

    class Meta:
        indexes = [models.Index(fields=["due_at"], name="edge_purge_due")]

    def __str__(self) -> str:
        return self.keys


# --- The upstream index (UPSTREAM_INDEX_URL), mirrored pull-through -------------
#
# A name with a local Project is never mirrored: these rows are read only for
# names that have none (packages.mirror). They are a copy of what the upstream's
# simple page said, kept so that a page can be served while the upstream is down.


class UpstreamProject(models.Model):
    """A name as the upstream index last answered for it."""

    normalized_name = models.CharField(max_length=200, unique=True)
    # False: the upstream answered 404 at the last check (the row stays, so a
    # claim of the name, or a later fetch, knows it was asked).
    exists = models.BooleanField(default=True)
    # The upstream page's validator and serial, for the next revalidation.
    etag = models.CharField(max_length=512, blank=True)
    upstream_serial = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # The last answer from the upstream (200, 304 or 404): how fresh the copy is.
    checked_at = models.DateTimeField(null=True, blank=True)
    # A moderator's quarantine (moderation.services), as for a local project:
    # the name answers as absent and its files are not served.
    quarantined_at = models.DateTimeField(null=True, blank=True, editable=False)
    quarantine_reason = models.TextField(blank=True, editable=False)
    # A moderator allowed a local project to take this name although the
    # upstream has it (packages.mirror.check_claim).
    claim_allowed_at = models.DateTimeField(null=True, blank=True, editable=False)
    claim_allowed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    claim_reason = models.TextField(blank=True, editable=False)
    # PEP 792 status of the project as the upstream's page last gave it
    # (packages.mirror), rendered into the mirrored page as a local project's;
    # "quarantined": no file of it offered here.
    status = models.CharField(
        max_length=20, choices=ProjectStatus.choices, default=ProjectStatus.ACTIVE
    )
    status_reason = models.TextField(blank=True)

    objects = RowQuerySet.as_manager()

    class Meta:
        ordering = ["normalized_name"]

    def __str__(self) -> str:
        return self.normalized_name


class UpstreamFile(models.Model):
    """One file the upstream's page listed, and its copy here once fetched."""

    project = models.ForeignKey(UpstreamProject, on_delete=models.CASCADE, related_name="files")
    filename = models.CharField(max_length=255)
    # The version the filename names (packaging.utils), canonical: what blocks
    # and the minimum age are applied to.
    version = models.CharField(max_length=100)
    # Where the upstream serves it: absolute, as resolved against its page.
    url = models.TextField()
    sha256_digest = models.CharField(max_length=64, db_index=True)
    requires_python = models.TextField(blank=True)
    yanked = models.BooleanField(default=False)
    yanked_reason = models.TextField(blank=True)
    # PEP 658/714: the upstream offers <url>.metadata with this digest ("" : none).
    metadata_sha256_digest = models.CharField(max_length=64, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    # PEP 700 upload-time when the upstream gives it; else when first seen here.
    upload_time = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now, editable=False)
    # Storage key of the copy here ("": not fetched yet), and of its metadata.
    path = models.CharField(max_length=512, blank=True)
    metadata_path = models.CharField(max_length=512, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["filename"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "filename"], name="upstream_file_one_per_filename"
            ),
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def published_at(self):
        """When the upstream published it (PEP 700 upload-time), or, from an
        upstream that does not say, when this index first saw it: what
        UPSTREAM_MIN_AGE counts from (packages.mirror; its SQL twin is the
        Coalesce in mirror.listed_projects)."""
        return self.upload_time or self.first_seen_at


class UpstreamBlock(models.Model):
    """A moderator's curation: a project of the upstream (version "") or one
    of its versions (canonical) is never offered here, as if absent."""

    normalized_name = models.CharField(max_length=200)
    version = models.CharField(max_length=100, blank=True)
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["normalized_name", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["normalized_name", "version"], name="upstream_block_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.normalized_name} {self.version}".strip()


# --- Namespaces (PEP 752) and advisories ------------------------------------------


class Namespace(models.Model):
    """A moderator's grant of a name prefix to an organization (PEP 752): the
    project named exactly so and every ``<prefix>-...`` project. Restricted (not
    open): only the organization's projects may be created under it. A child
    grant (``parent`` set) is made by the root grant's organization inside its
    own prefix. Root grants never overlap (packages.namespaces)."""

    # As granted; matching and URLs use the normalized form.
    prefix = models.CharField(max_length=200)
    normalized_prefix = models.CharField(max_length=200, unique=True, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="namespaces"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    is_open = models.BooleanField(default=False)
    # Enforced on uploads but not listed by the API (never open).
    is_hidden = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["normalized_prefix"]
        constraints = [
            models.CheckConstraint(
                condition=~(models.Q(is_open=True) & models.Q(is_hidden=True)),
                name="namespace_hidden_never_open",
            ),
        ]

    def __str__(self) -> str:
        return self.prefix


class Advisory(models.Model):
    """A security advisory on a project (an OSV record): which of its versions
    are affected and which fix it. Affected releases are worked out from
    ``affected_versions`` and ``ranges`` when asked (packages.advisories), so
    a release uploaded later inside an open range is marked too."""

    # The OSV id, e.g. PYSEC-2024-12 or GHSA-xxxx-xxxx-xxxx.
    osv_id = models.CharField(max_length=100)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="advisories")
    summary = models.TextField(blank=True)
    details = models.TextField(blank=True)
    aliases = models.JSONField(default=list, blank=True)
    link = models.URLField(max_length=1000, blank=True)
    # Where the record came from ("osv" for an imported OSV file, "index" for
    # one entered here).
    source = models.CharField(max_length=50, default="osv")
    # OSV "affected[].versions": the exact versions listed.
    affected_versions = models.JSONField(default=list, blank=True)
    # OSV "affected[].ranges" of type ECOSYSTEM: [{"introduced": ..., "fixed":
    # ..., "last_affected": ...}, ...] in order.
    ranges = models.JSONField(default=list, blank=True)
    fixed_in = models.JSONField(default=list, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    modified_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["project", "osv_id"]
        verbose_name_plural = "advisories"
        constraints = [
            models.UniqueConstraint(fields=["project", "osv_id"], name="advisory_once_per_project"),
        ]

    def __str__(self) -> str:
        return f"{self.osv_id} ({self.project})"


class OIDCIssuer(models.Model):
    """An OpenID Connect issuer the index's admins trust for "custom" trusted
    publishers (a company's own CI): tokens it signs are checked against the
    keys at ``jwks_url``."""

    name = models.CharField(max_length=100, unique=True)
    issuer_url = models.URLField(max_length=400, unique=True)
    jwks_url = models.URLField(max_length=400)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "OIDC issuer"

    def __str__(self) -> str:
        return f"{self.name} ({self.issuer_url})"


class TrustedPublisher(models.Model):
    """A CI identity allowed to mint short-lived upload tokens for ``project``
    (packages.trusted_publishing). Pending (``project`` None): the first token
    it mints creates the project ``pending_name``, owned by ``added_by``."""

    class Provider(models.TextChoices):
        GITHUB = "github", "GitHub Actions"
        GITLAB = "gitlab", "GitLab CI/CD"
        GOOGLE = "google", "Google Cloud"
        CUSTOM = "custom", "Custom issuer"

    project = models.ForeignKey(
        Project,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="trusted_publishers",
    )
    pending_name = models.CharField(max_length=200, blank=True)
    pending_normalized_name = models.CharField(max_length=200, blank=True, editable=False)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    provider = models.CharField(max_length=10, choices=Provider.choices)
    # GitHub: OWNER/NAME; GitLab: NAMESPACE/PROJECT (the claims' project_path).
    repository = models.CharField(max_length=300, blank=True)
    # GitHub: checked when given (an id survives renames and can't be looked up offline).
    repository_owner_id = models.CharField(max_length=40, blank=True)
    # GitHub: the workflow's filename under .github/workflows/; GitLab: the CI file's path.
    workflow = models.CharField(max_length=300, blank=True)
    environment = models.CharField(max_length=300, blank=True)
    # GitLab: a self-hosted instance's issuer ("" = gitlab.com).
    issuer_url = models.URLField(max_length=400, blank=True)
    # Google: the service account's e-mail and, when given, its subject.
    email = models.EmailField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    # Custom: the issuer and the claims a token must carry with exactly these values.
    custom_issuer = models.ForeignKey(
        OIDCIssuer, null=True, blank=True, on_delete=models.PROTECT, related_name="publishers"
    )
    claims = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            # Either configured on a project, or pending a project's creation.
            models.CheckConstraint(
                condition=(models.Q(project__isnull=False) & models.Q(pending_name=""))
                | (models.Q(project__isnull=True) & ~models.Q(pending_name="")),
                name="trusted_publisher_project_or_pending",
            ),
        ]

    def __str__(self) -> str:
        target = self.project.name if self.project_id else f"{self.pending_name} (pending)"
        return f"{self.identity} for {target}"

    @property
    def identity(self) -> str:
        """How people recognise the publisher, in lists and the security history."""
        match self.provider:
            case self.Provider.GITHUB | self.Provider.GITLAB:
                text = f"{self.get_provider_display()} {self.repository} {self.workflow}"
                # A self-hosted GitLab's project is not gitlab.com's of that name.
                text += f" on {self.issuer_url}" if self.issuer_url else ""
            case self.Provider.GOOGLE:
                text = f"Google Cloud {self.email}"
            case _:
                pinned = ", ".join(f"{name}={value}" for name, value in self.claims.items())
                text = f"{self.custom_issuer.name} {pinned}"
        return f"{text} (environment {self.environment})" if self.environment else text


class Provenance(models.Model):
    """PEP 740: the attestations a file was uploaded with, verified against the
    trusted publisher that minted the upload's token (packages.attestations),
    served as the file's provenance object (/integrity/.../provenance)."""

    file = models.OneToOneField(File, on_delete=models.CASCADE, related_name="provenance")
    # The provenance object exactly as served (application/vnd.pypi.integrity.v1+json):
    # {"version": 1, "attestation_bundles": [{"publisher": {...}, "attestations": [...]}]}.
    provenance = models.JSONField()
    # The publisher the attestations were verified against, as uploaded: kept
    # when the publisher is later removed, shown as "published from ...".
    publisher_kind = models.CharField(max_length=20)
    repository = models.CharField(max_length=300, blank=True)
    workflow = models.CharField(max_length=300, blank=True)
    environment = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return f"provenance of {self.file}"


class UploadSession(models.Model):
    """A PEP 694 publishing session: files staged for one release of one
    project, invisible to the public until the session is published, all at
    once, or canceled (packages.upload_sessions)."""

    class Status(models.TextChoices):
        PENDING = "pending"  # open: files may be staged, replaced, deleted
        PUBLISHED = "published"
        CANCELED = "canceled"
        EXPIRED = "expired"

    # Public id in the session's URLs (the pk would be guessable).
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # None for a new project's first session: the project is created when it is published.
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="upload_sessions"
    )
    name = models.CharField(max_length=200)
    normalized_name = models.CharField(max_length=200, db_index=True)
    version = models.CharField(max_length=100)
    canonical_version = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The credentials the session was opened with: later requests must come from
    # the same account, or the same trusted publisher (its tokens last 15 minutes).
    token = models.ForeignKey(
        "accounts.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_prefix = models.CharField(max_length=40, blank=True)
    publisher = models.ForeignKey(
        "packages.TrustedPublisher",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    publisher_identity = models.CharField(max_length=600, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(db_index=True)
    published_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The stage's unguessable token: the preview index lives under it.
    preview_secret = models.CharField(max_length=64, unique=True, editable=False)

    objects = RowQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # PEP 694: one open session per release; a second create gets this one.
            models.UniqueConstraint(
                fields=["normalized_name", "canonical_version"],
                condition=models.Q(status="pending"),
                name="upload_session_one_open_per_release",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.PENDING


class StagedFile(models.Model):
    """A file of a publishing session: declared (its bytes still to come), or
    received, checked like a legacy upload and stored where its File will be.
    Never a File row before the session is published, so no public query can
    see it."""

    class Status(models.TextChoices):
        PENDING = "pending"  # declared; the bytes have not arrived
        COMPLETE = "complete"  # received, checked, stored
        PUBLISHED = "published"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey(UploadSession, on_delete=models.CASCADE, related_name="files")
    filename = models.CharField(max_length=255)
    # True while the session is open: the filename is reserved (legacy uploads
    # and other sessions get 409), enforced by the index below.
    reserved = models.BooleanField(default=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    packagetype = models.CharField(max_length=20, choices=File.PackageType.choices)
    python_version = models.CharField(max_length=100)
    # Declared by the client when the file was announced; checked on arrival.
    declared_size = models.BigIntegerField()
    declared_hashes = models.JSONField(default=dict)
    size = models.BigIntegerField(default=0)
    md5_digest = models.CharField(max_length=32, blank=True)
    sha256_digest = models.CharField(max_length=64, blank=True)
    blake2_256_digest = models.CharField(max_length=64, blank=True)
    # Where the bytes are, the File's own storage key (packages.storage.file_path).
    path = models.CharField(max_length=512, blank=True)
    metadata_sha256_digest = models.CharField(max_length=64, blank=True)
    metadata_blake2_256_digest = models.CharField(max_length=64, blank=True)
    # The release metadata the file declared (packages.metadata.ReleaseMetadata):
    # {"name", "version", "metadata_version", "fields": {...}}.
    metadata = models.JSONField(default=dict, blank=True)
    # PEP 740: the file's attestations, verified when it arrived
    # (packages.attestations.Verified as a dict); its Provenance row once published.
    provenance = models.JSONField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_prefix = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # A declared file whose bytes have not come by then is dropped.
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["filename"]
        constraints = [
            models.UniqueConstraint(
                fields=["filename"],
                condition=models.Q(reserved=True),
                name="staged_filename_reserved_once",
            ),
            models.CheckConstraint(
                condition=models.Q(declared_size__gte=0), name="staged_file_size_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.filename
