"""Moderators' curation of the mirrored upstream index (issue 14): blocks,
quarantine of a mirrored project, permission for a local project to take a
name the upstream has, and the check of which local names the upstream has too.

Like moderation.services, each action takes the moderator's ``actor`` and a
non-empty ``reason``, and records a ModerationAction in the same transaction.
A change of what the mirror offers calls packages.mirror.forget in its
transaction: once it commits, cached pages and the edges drop what is no longer
offered.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version

from accounts.events import Actor
from packages import mirror, upstream
from packages.models import Project, UpstreamBlock, UpstreamFile, UpstreamProject
from packages.names import is_valid_project_name, normalize_project_name

from .services import ModerationError, _reason, _record

# UpstreamBlock.version's column.
MAX_VERSION_LENGTH = UpstreamBlock._meta.get_field("version").max_length


def _name(name: str) -> str:
    name = (name or "").strip()
    if not is_valid_project_name(name):
        raise ModerationError(
            f"{name!r} is not a valid project name (PEP 508: letters, digits and . _ - inside)."
        )
    return normalize_project_name(name)


def _file_versions(normalized_name: str):
    return (
        UpstreamFile.objects.filter(project__normalized_name=normalized_name)
        .values_list("version", flat=True)
        .distinct()
    )


def _block_versions(normalized_name: str):
    return UpstreamBlock.objects.filter(normalized_name=normalized_name).values_list(
        "version", flat=True
    )


def _version(version: str | None, *spellings) -> str:
    """The version as the mirror spells it, "" for none (the whole project).

    A block is matched exactly against UpstreamFile.version, which holds the
    PEP 440 normalized form of the filename's version (``2.0``, as
    packages.mirror.file_version gives it), so a version is stored in that
    form. A spelling of the same version found in ``spellings`` (iterables,
    searched in order: the versions of the mirror's files, of the blocks) is
    taken as it is spelt there: ``2.0.0`` blocks the files of ``2.0``."""
    version = (version or "").strip()
    if not version:
        return ""
    try:
        parsed = Version(version)
    except InvalidVersion:
        raise ModerationError(f"{version!r} is not a valid version (PEP 440).") from None
    canonical = canonicalize_version(parsed)
    known = (known for some in spellings for known in some if known)
    version = next((k for k in known if canonicalize_version(k) == canonical), str(parsed))
    if len(version) > MAX_VERSION_LENGTH:
        raise ModerationError(f"A version is at most {MAX_VERSION_LENGTH} characters long.")
    return version


def _log(action: str, *, actor: Actor, reason: str, name: str, **details) -> None:
    # A shell action that names no moderator says so (as kill_switch_set's).
    if actor.user is None:
        details["via"] = actor.via
    _record(action, actor=actor, reason=reason, project_name=name, **details)


def _what(normalized_name: str, version: str) -> str:
    return f"{normalized_name} {version}" if version else normalized_name


# --- blocks ---------------------------------------------------------------------------


def upstream_block(
    *, name: str, version: str | None = None, actor: Actor, reason: str
) -> UpstreamBlock:
    """The upstream's project ``name`` (or only its ``version``) is never offered
    here: it answers as absent."""
    reason = _reason(reason)
    normalized = _name(name)
    # Spelt as the files are, else as an earlier block is (then: already blocked).
    version = _version(version, _file_versions(normalized), _block_versions(normalized))
    try:
        with transaction.atomic():
            block = UpstreamBlock.objects.create(
                normalized_name=normalized, version=version, reason=reason, created_by=actor.user
            )
            _log(
                "block upstream version" if version else "block upstream project",
                actor=actor,
                reason=reason,
                name=normalized,
                **({"version": version} if version else {}),
            )
            mirror.forget(normalized)
    except IntegrityError:
        # The unique constraint: an earlier block, or a concurrent one.
        raise ModerationError(f"{_what(normalized, version)} is already blocked.") from None
    return block


def upstream_unblock(
    *, name: str, version: str | None = None, actor: Actor, reason: str
) -> UpstreamBlock:
    """Lift a block: the upstream's project (or version) is offered again. The
    block that was lifted (deleted) is returned."""
    reason = _reason(reason)
    normalized = _name(name)
    # The block in whatever spelling it was made.
    version = _version(version, _block_versions(normalized))
    with transaction.atomic():
        block = (
            UpstreamBlock.objects.select_for_update()
            .filter(normalized_name=normalized, version=version)
            .first()
        )
        if block is None:
            raise ModerationError(f"{_what(normalized, version)} is not blocked.")
        _log(
            "unblock upstream version" if version else "unblock upstream project",
            actor=actor,
            reason=reason,
            name=normalized,
            block_reason=block.reason,
            **({"version": version} if version else {}),
        )
        block.delete()
        mirror.forget(normalized)
    return block


def upstream_block_delete(*, block: UpstreamBlock, actor: Actor, reason: str) -> UpstreamBlock:
    """The admin's delete of a block row: the same as unblocking it."""
    return upstream_unblock(
        name=block.normalized_name, version=block.version, actor=actor, reason=reason
    )


# --- mirrored projects ------------------------------------------------------------------


def _lock_mirrored(normalized_name: str) -> UpstreamProject:
    try:
        return UpstreamProject.objects.locked(normalized_name=normalized_name)
    except UpstreamProject.DoesNotExist:
        raise ModerationError(
            f"No mirrored project {normalized_name!r}: the upstream index was never asked "
            f"for it here. Block the name to keep it out."
        ) from None


def upstream_quarantine(*, name: str, actor: Actor, reason: str) -> UpstreamProject:
    """Hide a mirrored project as a quarantine hides a local one: it answers as
    absent and its files are not served."""
    reason = _reason(reason)
    normalized = _name(name)
    with transaction.atomic():
        # Locked so two moderators quarantining at once record it once.
        row = _lock_mirrored(normalized)
        if row.quarantined_at is not None:
            raise ModerationError(f"The mirrored project {normalized} is already quarantined.")
        row.quarantined_at = timezone.now()
        row.quarantine_reason = reason
        row.save(update_fields=["quarantined_at", "quarantine_reason"])
        _log("quarantine upstream project", actor=actor, reason=reason, name=normalized)
        mirror.forget(normalized)
    return row


def upstream_unquarantine(*, name: str, actor: Actor, reason: str) -> UpstreamProject:
    """Undo a quarantine: the mirrored project is offered again."""
    reason = _reason(reason)
    normalized = _name(name)
    with transaction.atomic():
        row = _lock_mirrored(normalized)
        if row.quarantined_at is None:
            raise ModerationError(f"The mirrored project {normalized} is not quarantined.")
        previous = row.quarantine_reason
        row.quarantined_at = None
        row.quarantine_reason = ""
        row.save(update_fields=["quarantined_at", "quarantine_reason"])
        _log(
            "release upstream quarantine",
            actor=actor,
            reason=reason,
            name=normalized,
            quarantine_reason=previous,
        )
        mirror.forget(normalized)
    return row


def upstream_claim_allow(*, name: str, actor: Actor, reason: str) -> UpstreamProject:
    """Let a new local project take ``name`` although the upstream has it
    (packages.mirror_claims); from then on not one upstream file is offered for it.
    Allowed ahead of the upload: the row is made if the name was never asked."""
    reason = _reason(reason)
    normalized = _name(name)
    with transaction.atomic():
        if Project.objects.filter(normalized_name=normalized).exists():
            raise ModerationError(f"A local project already has the name {normalized}.")
        UpstreamProject.objects.get_or_create(normalized_name=normalized)
        row = UpstreamProject.objects.locked(normalized_name=normalized)
        if row.claim_allowed_at is not None:
            raise ModerationError(f"A local project may already take the name {normalized}.")
        row.claim_allowed_at = timezone.now()
        row.claim_allowed_by = actor.user
        row.claim_reason = reason
        row.save(update_fields=["claim_allowed_at", "claim_allowed_by", "claim_reason"])
        _log("allow upstream claim", actor=actor, reason=reason, name=normalized)
    return row


# --- which local names the upstream has too ------------------------------------------


@dataclass
class CheckReport:
    checked: int = 0
    # Local names the upstream has a project of, too.
    on_upstream: list[str] = field(default_factory=list)
    private: int = 0
    # (name, the upstream's error) for the names it could not answer.
    failed: list[tuple[str, str]] = field(default_factory=list)


def record_upstream_answer(normalized_name: str, *, exists: bool) -> UpstreamProject:
    """Record whether the upstream has ``normalized_name``. Only ``exists`` is
    written: the check read no files, so the mirror's freshness (checked_at,
    etag) is left for its next refresh of the page."""
    row, created = UpstreamProject.objects.get_or_create(
        normalized_name=normalized_name, defaults={"exists": exists}
    )
    if not created and row.exists != exists:
        row.exists = exists
        row.save(update_fields=["exists"])
    return row


def _ask(client: upstream.Upstream, normalized_name: str) -> bool | str:
    """True/False: whether the upstream has the name; a str: why it could not say."""
    try:
        return client.project_page(normalized_name) is not None
    except upstream.UpstreamError as exc:
        return str(exc)


def upstream_check(
    *, progress: Callable[[int, int], None] = lambda done, total: None
) -> CheckReport:
    """Ask the upstream about every local project's name and record the
    answers (UpstreamProject.exists): the moderators' list of names
    that exist both here and upstream. At most UPSTREAM_MAX_CONCURRENCY requests
    at once, each bounded by UPSTREAM_TIMEOUT; ``progress`` is called with the
    numbers answered so far and to ask in all. Private names
    (PRIVATE_NAME_PATTERNS) and names under a restricted namespace grant
    (packages.mirror.is_reserved) are not asked: they are this index's own."""
    client = upstream.configured()
    if client is None:
        raise ModerationError("No upstream index is configured (UPSTREAM_INDEX_URL is unset).")
    names = Project.objects.order_by("normalized_name").values_list("normalized_name", flat=True)
    report = CheckReport()
    asked = []
    for name in names:
        if mirror.is_reserved(name):
            report.private += 1
        else:
            asked.append(name)
    workers = max(1, settings.UPSTREAM_MAX_CONCURRENCY)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # The answers are written here, in this thread: the workers only talk HTTP.
        for name, answer in zip(asked, pool.map(lambda n: _ask(client, n), asked), strict=True):
            if isinstance(answer, str):
                report.failed.append((name, answer))
            else:
                report.checked += 1
                record_upstream_answer(name, exists=answer)
                if answer:
                    report.on_upstream.append(name)
            progress(report.checked + len(report.failed), len(asked))
    return report
