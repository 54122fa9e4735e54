"""What a release warns of: its Owners' deprecation mark, and the security
advisories (OSV records) that name it.

The rules are written once, here: the OSV record's validation (``parse_osv``),
which versions an advisory affects (``affects``), the services that change
advisories and deprecation marks (used by the management pages, the admin and
``manage.py import_advisories``), and what the pages and the JSON API show.

An advisory is stored per (project, OSV id) with what the record says of that
project: the exact versions it lists and its ECOSYSTEM ranges. The affected
releases are worked out when asked, so a release uploaded later inside an open
range is marked too. Ranges of another type (GIT, SEMVER) are left out: a PyPI
version is not a commit, and SemVer order is not PEP 440 order.

Every change moves the project's serial (packages.journal), so the JSON API's
cached bodies, keyed by it, are rebuilt; the pages are purged after commit as
a yank purges them.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version

from accounts.events import Actor, record_event

from .journal import JournalLine, journal_and_purge
from .models import Advisory, Project, Release

ECOSYSTEM = "PyPI"
OSV_LINK = "https://osv.dev/vulnerability/{id}"
SOURCE_OSV = "osv"
# An advisory an Owner or a moderator entered on this index.
SOURCE_INDEX = "index"

# Bounds of one record. osv.dev's largest PyPI records are a few hundred KB,
# nearly all of it the "versions" list; these leave room and stop a crafted
# file from filling the database.
MAX_RECORD_BYTES = 2 * 1024 * 1024
ID_MAX_LENGTH = 100  # Advisory.osv_id
SUMMARY_MAX_LENGTH = 1000
DETAILS_MAX_LENGTH = 100_000
LINK_MAX_LENGTH = 1000  # Advisory.link
MAX_ALIASES = 100
MAX_VERSIONS = 20_000
MAX_RANGES = 100
MAX_EVENTS = 1000
VERSION_MAX_LENGTH = 100
DEPRECATION_REASON_MAX_LENGTH = 500
# OSV ids are "<database prefix>-<entry id>": PYSEC-2021-19, GHSA-xxxx-xxxx-xxxx.
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


class AdvisoryError(Exception):
    """A record refused or an advisory change not allowed; the message says
    why, for the person who asked (command output, form, admin message)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- Reading an OSV record -------------------------------------------------------


@dataclass(frozen=True)
class AffectedPackage:
    """What a record says of one PyPI package (its ``affected`` entries merged)."""

    name: str
    versions: list[str] = field(default_factory=list)
    # Each ECOSYSTEM range: its events in the record's order, one kind each.
    ranges: list[list[dict[str, str]]] = field(default_factory=list)
    # The versions that fix it: of a record, its ranges' "fixed" events.
    fixed_in: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedAdvisory:
    osv_id: str
    summary: str
    details: str
    aliases: list[str]
    link: str
    published_at: datetime | None
    modified_at: datetime | None
    withdrawn_at: datetime | None
    packages: list[AffectedPackage]


def load_records(text: str | bytes) -> list:
    """The records of a file: one OSV object, or a list of them (osv.dev's
    query answers and some exports). Not validated yet: see ``parse_osv``."""
    if len(text) > MAX_RECORD_BYTES * 50:
        raise AdvisoryError("The file is too large to be OSV records.")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise AdvisoryError(f"This is not valid JSON: {exc}.") from None
    return data if isinstance(data, list) else [data]


def parse_osv_text(text: str | bytes) -> ParsedAdvisory:
    """``parse_osv`` of one record's JSON text."""
    if len(text) > MAX_RECORD_BYTES:
        raise AdvisoryError(f"The record is larger than {MAX_RECORD_BYTES} bytes.")
    records = load_records(text)
    if len(records) != 1:
        raise AdvisoryError("Give one OSV record, not a list.")
    return parse_osv(records[0])


def parse_osv(data) -> ParsedAdvisory:
    """Validate one OSV record (decoded JSON) and read what this index keeps
    of it. AdvisoryError says what is wrong."""
    if not isinstance(data, dict):
        raise AdvisoryError("An OSV record is a JSON object.")
    osv_id = _text(data, "id", ID_MAX_LENGTH)
    if not osv_id:
        raise AdvisoryError('The record has no "id".')
    if not _ID_PATTERN.fullmatch(osv_id):
        raise AdvisoryError(
            f'The id {osv_id!r} is not an OSV id (letters, digits, ".", "_", ":" and "-").'
        )
    where = f"{osv_id}: "
    try:
        packages = _packages(data.get("affected"))
        if not packages:
            raise AdvisoryError(f'the record names no package of the "{ECOSYSTEM}" ecosystem.')
        return ParsedAdvisory(
            osv_id=osv_id,
            # One line: shown in lists and in installers' audits.
            summary=" ".join(_text(data, "summary", SUMMARY_MAX_LENGTH).split()),
            details=_text(data, "details", DETAILS_MAX_LENGTH),
            aliases=_strings(data.get("aliases"), "aliases", MAX_ALIASES, ID_MAX_LENGTH),
            link=_link(data.get("references"), osv_id),
            published_at=_time(data, "published"),
            modified_at=_time(data, "modified"),
            withdrawn_at=_time(data, "withdrawn"),
            packages=packages,
        )
    except AdvisoryError as exc:
        raise AdvisoryError(where + exc.message) from None


def _clean(value: str, what: str, max_length: int) -> str:
    # PostgreSQL stores no NUL in a text or JSON column: refused here, at the
    # boundary, rather than failing as a 500 when saved.
    if "\x00" in value:
        raise AdvisoryError(f'"{what}" contains a NUL character.')
    if len(value) > max_length:
        raise AdvisoryError(f'"{what}" is longer than {max_length} characters.')
    return value


def _text(data: dict, key: str, max_length: int) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AdvisoryError(f'"{key}" must be a string.')
    return _clean(value.strip(), key, max_length)


def _strings(value, what: str, max_items: int, max_length: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise AdvisoryError(f'"{what}" must be a list of strings.')
    if len(value) > max_items:
        raise AdvisoryError(f'"{what}" has more than {max_items} entries.')
    return [_clean(item.strip(), what, max_length) for item in value]


def _time(data: dict, key: str) -> datetime | None:
    value = _text(data, key, 64)
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise AdvisoryError(f'"{key}" is not an RFC 3339 time: {value!r}.')
    # RFC 3339 requires an offset; a time without one is taken as UTC.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def is_web_link(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _usable_link(url: str) -> bool:
    return len(url) <= LINK_MAX_LENGTH and "\x00" not in url and is_web_link(url)


def default_link(osv_id: str) -> str:
    return OSV_LINK.format(id=quote(osv_id))


def _link(references, osv_id: str) -> str:
    """The ADVISORY reference, else the first WEB one, else osv.dev's page."""
    if references is None:
        references = []
    if not isinstance(references, list) or not all(isinstance(r, dict) for r in references):
        raise AdvisoryError('"references" must be a list of objects.')
    by_type: dict[str, str] = {}
    for reference in references:
        url, kind = reference.get("url"), reference.get("type")
        # A link too long or not on the web is left out, not the record.
        if isinstance(url, str) and isinstance(kind, str) and _usable_link(url):
            by_type.setdefault(kind, url)
    return by_type.get("ADVISORY") or by_type.get("WEB") or default_link(osv_id)


def _packages(affected) -> list[AffectedPackage]:
    if affected is None:
        return []
    if not isinstance(affected, list) or not all(isinstance(a, dict) for a in affected):
        raise AdvisoryError('"affected" must be a list of objects.')
    merged: dict[str, AffectedPackage] = {}
    for entry in affected:
        package = entry.get("package")
        if not isinstance(package, dict) or package.get("ecosystem") != ECOSYSTEM:
            continue
        name = package.get("name")
        if not isinstance(name, str) or not name.strip():
            raise AdvisoryError('an "affected" package of PyPI has no name.')
        name = _clean(name.strip(), "package name", 200)
        found = merged.setdefault(name, AffectedPackage(name=name))
        found.versions.extend(
            _strings(entry.get("versions"), "versions", MAX_VERSIONS, VERSION_MAX_LENGTH)
        )
        found.ranges.extend(_ranges(entry.get("ranges")))
        if len(found.versions) > MAX_VERSIONS or len(found.ranges) > MAX_RANGES:
            raise AdvisoryError(f"{name} has too many versions or ranges.")
    for package in merged.values():
        package.versions[:] = list(dict.fromkeys(package.versions))
        fixed = [event.get("fixed") for events in package.ranges for event in events]
        package.fixed_in.extend(version for version in dict.fromkeys(fixed) if version)
    return list(merged.values())


def _ranges(ranges) -> list[list[dict[str, str]]]:
    if ranges is None:
        return []
    if not isinstance(ranges, list) or not all(isinstance(r, dict) for r in ranges):
        raise AdvisoryError('"ranges" must be a list of objects.')
    if len(ranges) > MAX_RANGES:
        raise AdvisoryError(f'"ranges" has more than {MAX_RANGES} entries.')
    kept = []
    for entry in ranges:
        if entry.get("type") != "ECOSYSTEM":
            continue
        events = entry.get("events")
        if not isinstance(events, list) or not events:
            raise AdvisoryError('a range has no "events".')
        if len(events) > MAX_EVENTS:
            raise AdvisoryError(f"a range has more than {MAX_EVENTS} events.")
        kept.append([_event(event) for event in events])
    return kept


def _event(event) -> dict[str, str]:
    if not isinstance(event, dict) or len(event) != 1:
        raise AdvisoryError("each range event must be an object with one key.")
    ((kind, version),) = event.items()
    if kind not in _EVENT_KINDS:
        raise AdvisoryError(f"unknown range event {kind!r}.")
    if not isinstance(version, str):
        raise AdvisoryError(f'the "{kind}" event\'s version must be a string.')
    return {kind: _clean(version.strip(), kind, VERSION_MAX_LENGTH)}


# --- Which versions an advisory affects -----------------------------------------------


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


@dataclass(frozen=True)
class _Range:
    """One ECOSYSTEM range, read once: its events sorted by version
    ("introduced" "0" before all), and its limits (None: "*")."""

    timeline: list[tuple[str, Version | None]]
    limits: list[Version | None]

    @classmethod
    def read(cls, events: list[dict[str, str]]) -> "_Range":
        # An event whose version is no PEP 440 version is skipped.
        timeline = []
        limits = []
        for position, event in enumerate(events):
            ((kind, text),) = event.items()
            if kind == "introduced" and text == "0":
                timeline.append(((0, None), position, kind, None))
                continue
            if kind == "limit" and text == "*":
                limits.append(None)
                continue
            bound = _version(text)
            if bound is None:
                continue
            if kind == "limit":
                limits.append(bound)
            else:
                timeline.append(((1, bound), position, kind, bound))
        timeline.sort(key=lambda item: item[:2])
        return cls([(kind, bound) for _key, _position, kind, bound in timeline], limits)

    def contains(self, version: Version) -> bool:
        """The OSV schema's evaluation: before a limit, then the events walked in order."""
        if self.limits and not any(limit is None or version < limit for limit in self.limits):
            return False
        affected = False
        for kind, bound in self.timeline:
            if kind == "introduced":
                if bound is None or version >= bound:
                    affected = True
            elif kind == "fixed":
                if version >= bound:
                    affected = False
            elif version > bound:  # last_affected
                affected = False
        return affected


@dataclass(frozen=True)
class _Matcher:
    """An advisory's versions and ranges, read once for all the releases a
    page or a document asks about (a record may list thousands of versions)."""

    listed: frozenset[str]
    ranges: list[_Range]

    @classmethod
    def of(cls, advisory: Advisory) -> "_Matcher":
        matcher = getattr(advisory, "_matcher", None)
        if matcher is None:
            matcher = cls(
                # PEP 440 equality: 1.0 is 1.0.0; a listed version that is no
                # PEP 440 version stays as it is, matched as text.
                frozenset(canonicalize_version(v) for v in advisory.affected_versions),
                [_Range.read(events) for events in advisory.ranges],
            )
            advisory._matcher = matcher
        return matcher


def affects(advisory: Advisory, version: str) -> bool:
    """Whether ``advisory`` affects the release ``version``: listed in its
    versions, or inside one of its ranges."""
    matcher = _Matcher.of(advisory)
    if canonicalize_version(version) in matcher.listed:
        return True
    parsed = _version(version)
    return parsed is not None and any(r.contains(parsed) for r in matcher.ranges)


# --- Changing advisories -------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What became of one (record, project): "created", "updated" or
    "unchanged" (with why), and the advisory."""

    project: str
    result: str
    advisory: Advisory | None = None
    reason: str = ""


def _fields(parsed: ParsedAdvisory, package: AffectedPackage) -> dict:
    return {
        "summary": parsed.summary,
        "details": parsed.details,
        "aliases": parsed.aliases,
        "link": parsed.link,
        "affected_versions": package.versions,
        "ranges": package.ranges,
        "fixed_in": package.fixed_in,
        "published_at": parsed.published_at,
        "modified_at": parsed.modified_at,
        "withdrawn_at": parsed.withdrawn_at,
    }


def _changed(project: Project, advisory: Advisory, tag: str, action: str, actor: Actor) -> None:
    """Record a change of ``advisory`` in the project's history and journal
    (the JSON API's serial), and purge its pages after commit."""
    record_event(tag, project=project, actor=actor, advisory=advisory.osv_id)
    line = JournalLine(f"{action} advisory {advisory.osv_id}")
    journal_and_purge(project=project, entries=[line], actor=actor)


def advisory_upsert(
    *,
    project: Project,
    parsed: ParsedAdvisory,
    package: AffectedPackage,
    actor: Actor,
    source: str = SOURCE_OSV,
) -> Outcome:
    """Store what ``parsed`` says of ``project`` (its ``package`` entry):
    a new advisory, or the stored one brought up to date. A record older
    than the stored one (by "modified") changes nothing."""
    with transaction.atomic():
        # One writer per project at a time: two imports of one record can't
        # both create it, and the journal sees each change once.
        project = Project.objects.locked(pk=project.pk)
        advisory = Advisory.objects.filter(project=project, osv_id=parsed.osv_id).first()
        fields = _fields(parsed, package)
        if advisory is None:
            advisory = Advisory.objects.create(
                project=project,
                osv_id=parsed.osv_id,
                source=source,
                created_by=actor.user,
                **fields,
            )
            _changed(project, advisory, "project:advisory:added", "add", actor)
            return Outcome(project.name, "created", advisory)
        stored = advisory.modified_at
        if stored is not None and parsed.modified_at is not None and parsed.modified_at < stored:
            return Outcome(
                project.name, "unchanged", advisory, "the stored record is newer (modified)"
            )
        # A withdrawal made here (a moderator's, an Owner's) stands until the
        # advisory is deleted: the next import of the same record must not
        # bring back what someone here judged wrong.
        fields["withdrawn_at"] = parsed.withdrawn_at or advisory.withdrawn_at
        # An Owner's advisory a database then publishes becomes the database's.
        fields["source"] = source
        if all(getattr(advisory, name) == value for name, value in fields.items()):
            return Outcome(project.name, "unchanged", advisory, "already up to date")
        for name, value in fields.items():
            setattr(advisory, name, value)
        advisory.save(update_fields=list(fields))
        _changed(project, advisory, "project:advisory:updated", "update", actor)
        return Outcome(project.name, "updated", advisory)


def advisory_import(*, parsed: ParsedAdvisory, actor: Actor) -> list[Outcome]:
    """Store ``parsed`` for each of its PyPI packages that is a project here;
    the others are "skipped" (osv.dev's exports name every PyPI project)."""
    outcomes = []
    for package in parsed.packages:
        project = Project.objects.by_name(package.name)
        if project is None:
            outcomes.append(
                Outcome(package.name, "skipped", reason=f"no project named {package.name!r} here")
            )
            continue
        outcomes.append(
            advisory_upsert(project=project, parsed=parsed, package=package, actor=actor)
        )
    return outcomes


def advisory_attach(
    *,
    release: Release,
    osv_id: str,
    summary: str,
    link: str = "",
    fixed_in: list[str] | None = None,
    aliases: list[str] | None = None,
    details: str = "",
    actor: Actor,
) -> Outcome:
    """An advisory entered by hand (an Owner on the release's page): it
    affects ``release``. The same id again adds this release to it."""
    osv_id = osv_id.strip()
    record = {
        "id": osv_id,
        "summary": summary,
        "details": details,
        "aliases": aliases or [],
        "references": [{"type": "ADVISORY", "url": link.strip()}] if link.strip() else [],
        "affected": [
            {
                "package": {"ecosystem": ECOSYSTEM, "name": release.project.name},
                "versions": [release.version],
            }
        ],
    }
    if link.strip() and not is_web_link(link.strip()):
        raise AdvisoryError("The link must be an http:// or https:// address.")
    parsed = parse_osv(record)
    fixed_in = _strings(fixed_in, "fixed in", MAX_VERSIONS, VERSION_MAX_LENGTH)
    for version in fixed_in:
        if _version(version) is None:
            raise AdvisoryError(f"{version!r} is not a version (PEP 440).")
    versions = [release.version]
    existing = Advisory.objects.filter(project=release.project, osv_id=parsed.osv_id).first()
    if existing is not None:
        if existing.source != SOURCE_INDEX:
            raise AdvisoryError(
                f"{parsed.osv_id} is imported from an advisory database; "
                "only the index's moderators change it."
            )
        versions = list(dict.fromkeys([*existing.affected_versions, *versions]))
    package = AffectedPackage(name=release.project.name, versions=versions, fixed_in=fixed_in)
    return advisory_upsert(
        project=release.project, parsed=parsed, package=package, actor=actor, source=SOURCE_INDEX
    )


def require_owner_may_change(advisory: Advisory) -> None:
    """Owners withdraw or delete only what was entered here: an advisory
    imported from a database is not theirs to hide (the moderators' is)."""
    if advisory.source != SOURCE_INDEX:
        raise AdvisoryError(
            f"{advisory.osv_id} is imported from an advisory database; "
            "ask the index's moderators if it is wrong."
        )


def advisory_withdraw(*, advisory: Advisory, actor: Actor) -> Advisory:
    """Mark ``advisory`` withdrawn: kept, and shown as withdrawn in the JSON
    API, but no release is marked insecure by it any more."""
    with transaction.atomic():
        project = Project.objects.locked(pk=advisory.project_id)
        try:
            advisory = Advisory.objects.select_for_update().get(pk=advisory.pk)
        except Advisory.DoesNotExist:
            raise AdvisoryError(f"{advisory.osv_id} no longer exists.") from None
        if advisory.withdrawn_at is not None:
            raise AdvisoryError(f"{advisory.osv_id} is already withdrawn.")
        advisory.withdrawn_at = timezone.now()
        advisory.save(update_fields=["withdrawn_at"])
        _changed(project, advisory, "project:advisory:withdrawn", "withdraw", actor)
    return advisory


def advisory_delete(*, advisory: Advisory, actor: Actor) -> None:
    with transaction.atomic():
        project = Project.objects.locked(pk=advisory.project_id)
        deleted, _ = Advisory.objects.filter(pk=advisory.pk).delete()
        if not deleted:
            raise AdvisoryError(f"{advisory.osv_id} no longer exists.")
        _changed(project, advisory, "project:advisory:deleted", "delete", actor)


# --- Release deprecation ------------------------------------------------------------


def clean_deprecation_reason(reason: str) -> str:
    """One line, bounded and required: it is the mark's whole message."""
    reason = " ".join(reason.split())
    if not reason:
        raise AdvisoryError("Give a reason: it is shown with the mark to everyone.")
    return _clean(reason, "reason", DEPRECATION_REASON_MAX_LENGTH)


def _set_deprecated(release: Release, reason: str, actor: Actor) -> Release:
    with transaction.atomic():
        # Locked so a concurrent mark or undo waits and then sees this one.
        try:
            release = Release.objects.select_related("project").locked(pk=release.pk)
        except Release.DoesNotExist:
            raise AdvisoryError(
                f"{release.project.name} {release.version} no longer exists."
            ) from None
        deprecating = bool(reason)
        if (release.deprecated_at is not None) == deprecating:
            state = "already deprecated" if deprecating else "not deprecated"
            raise AdvisoryError(f"{release.project.name} {release.version} is {state}.")
        release.deprecated_at = timezone.now() if deprecating else None
        release.deprecated_reason = reason
        release.save(update_fields=["deprecated_at", "deprecated_reason"])
        details = {"reason": reason} if deprecating else {}
        record_event(
            "project:release:deprecated" if deprecating else "project:release:undeprecated",
            project=release.project,
            actor=actor,
            version=release.version,
            **details,
        )
        action = "deprecate release" if deprecating else "undeprecate release"
        line = JournalLine(action, version=release.version)
        journal_and_purge(project=release.project, entries=[line], actor=actor)
    return release


def release_deprecate(*, release: Release, reason: str, actor: Actor) -> Release:
    """Mark ``release`` deprecated: still installable, shown with the reason."""
    return _set_deprecated(release, clean_deprecation_reason(reason), actor)


def release_undeprecate(*, release: Release, actor: Actor) -> Release:
    return _set_deprecated(release, "", actor)


# --- What pages and the JSON API show ------------------------------------------------


@dataclass
class PageSecurity:
    """The marks of a project page: per release id, the advisories in force
    that affect it and the deprecation reason; and those of the release shown."""

    insecure: dict[int, list[Advisory]]
    deprecated: dict[int, str]
    advisories: list[Advisory]
    deprecated_reason: str | None

    @property
    def fixed_in(self) -> list[str]:
        """The versions that fix the shown release's advisories."""
        fixed = [version for advisory in self.advisories for version in advisory.fixed_in]
        return sorted(set(fixed), key=lambda v: (_version(v) or Version("0"), v))


def page_security(project: Project, releases: list[Release], shown: Release | None) -> PageSecurity:
    """The marks of ``releases`` (all the project's, with their deprecation
    columns loaded): one query however many releases and advisories."""
    advisories = list(project.advisories.filter(withdrawn_at__isnull=True).order_by("osv_id"))
    deprecated = {
        release.pk: release.deprecated_reason
        for release in releases
        if release.deprecated_at is not None
    }
    insecure = {}
    for release in releases:
        found = [advisory for advisory in advisories if affects(advisory, release.version)]
        if found:
            insecure[release.pk] = found
    shown_id = shown.pk if shown is not None else None
    return PageSecurity(
        insecure=insecure,
        deprecated=deprecated,
        advisories=insecure.get(shown_id, []),
        deprecated_reason=deprecated.get(shown_id),
    )


def _json_time(moment: datetime | None) -> str | None:
    # The public index's spelling of "withdrawn": UTC, seconds, "Z".
    # (isoformat, not strftime: glibc's %Y writes the year 1 as "1".)
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def release_advisories(release: Release) -> list[Advisory]:
    """Every advisory that names ``release``, withdrawn ones too (one query)."""
    advisories = Advisory.objects.filter(project_id=release.project_id).order_by("osv_id")
    return [advisory for advisory in advisories if affects(advisory, release.version)]


def release_vulnerabilities(release: Release) -> list[dict]:
    """The JSON API's ``vulnerabilities`` of ``release``, in the public
    index's shape; withdrawn advisories too, with the time of withdrawal."""
    return [
        {
            "aliases": list(advisory.aliases),
            "details": advisory.details,
            "fixed_in": list(advisory.fixed_in),
            "id": advisory.osv_id,
            "link": advisory.link or default_link(advisory.osv_id),
            "source": advisory.source,
            "summary": advisory.summary,
            "withdrawn": _json_time(advisory.withdrawn_at),
        }
        for advisory in release_advisories(release)
    ]
