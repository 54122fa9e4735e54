"""The JSON API: /pypi/<name>/json and /pypi/<name>/<version>/json, field for
field as the public index answers them (its "legacy JSON API").

What the public index does, and we do too:
- ``info`` describes one release: the latest (``packages.releases.pick_latest``)
  on the project endpoint, the one asked for on the version endpoint. Empty
  list fields (``requires_dist``, ``project_urls``, ``provides_extra``,
  ``dynamic``, ``license_files``) and absent ``license_expression``,
  ``description_content_type``, ``platform`` and ``yanked_reason`` are
  ``null``, not empty.
- ``releases`` (project endpoint only) maps every version, files or not, to
  its files; ``urls`` lists the files of the ``info`` release.
- Keys are sorted and the separators compact: the public index renders with
  ``sort_keys``, so ``releases`` is in string order ("1.10" before "1.9").
- Quarantined projects do not exist here: a 404, whose body says that the
  project is quarantined (``project_status``, PEP 792) and why.

A body is built with a fixed number of queries, then kept in the cache under
the project's ``last_serial``: every change a reader can see moves the serial
(packages.journal), so a new serial is a new key and no purge is needed. The
serial is read before the rows, so a body is never older than its key.
"""

import hashlib
import json
from collections import defaultdict
from typing import NamedTuple, NotRequired

from django.core.cache import cache
from django.urls import reverse
from packaging.utils import canonicalize_version

# pydantic reads TypedDicts from typing_extensions only, before Python 3.12.
from typing_extensions import TypedDict

from . import mirror, models
from .advisories import release_vulnerabilities
from .api_common import pep700_time
from .downloads import download_summary
from .mirrored import Mirrored, MirroredVersion, packagetype, python_version
from .models import Project, Release
from .project_status import StatusJson, status_json
from .releases import pick_latest
from .simple import PAGE_CACHE_SECONDS
from .storage import file_url

# --- The bodies' shape ---------------------------------------------------------------
#
# The one description of what the API answers: the builders below return these
# types, and pydantic writes the OpenAPI document's schemas from them
# (packages.views.json_api). Keys the public index keeps only for the clients
# that read them say "Always ...". The tests check every answer against the
# document, so the two can't drift.

# The docstring under a key becomes its description in the document. pydantic
# reads them in the class's own source only, so ReleaseJson, which ProjectJson
# extends, describes its keys in its class docstring.


class Digests(TypedDict):
    blake2b_256: str
    """"" for a file mirrored from the upstream, which gives the SHA256 only."""
    md5: str
    """"" for a file mirrored from the upstream."""
    sha256: str


class File(TypedDict):
    """A distribution file, with what the public index says of its release."""

    comment_text: str
    """Always ""."""
    digests: Digests
    downloads: int
    """Always -1 (deprecated)."""
    filename: str
    has_sig: bool
    """Always false (deprecated)."""
    md5_digest: str
    """"" for a file mirrored from the upstream."""
    packagetype: models.File.PackageType
    python_version: str
    """"source" for an sdist, else a tag."""
    requires_python: str | None
    size: int | None
    """null only for a mirrored file whose size the upstream's page left out."""
    upload_time: str
    """UTC, %Y-%m-%dT%H:%M:%S."""
    upload_time_iso_8601: str
    """UTC, ISO 8601 with microseconds and Z (PEP 700)."""
    url: str
    """Absolute."""
    yanked: bool
    yanked_reason: str | None


class Downloads(TypedDict):
    last_day: int
    last_month: int
    last_week: int


class Info(TypedDict):
    """One release's metadata: the latest on the project endpoint."""

    author: str
    author_email: str
    bugtrack_url: None
    classifiers: list[str]
    deprecated: bool
    """Its Owners marked the release deprecated: still installable, not to be used."""
    deprecated_reason: str | None
    """Why, when deprecated (packages.advisories)."""
    description: str
    description_content_type: str | None
    docs_url: None
    download_url: str
    downloads: Downloads
    dynamic: list[str] | None
    home_page: str
    keywords: str
    license: str
    license_expression: str | None
    license_files: list[str] | None
    maintainer: str
    maintainer_email: str
    name: str
    package_url: str
    """Absolute URL of the project's page."""
    platform: str | None
    """The first platform declared."""
    project_url: str
    """Absolute URL of the project's page."""
    project_urls: dict[str, str] | None
    provides_extra: list[str] | None
    release_url: str
    """Absolute URL of the release's page."""
    requires_dist: list[str] | None
    requires_python: str
    summary: str
    version: str
    yanked: bool
    yanked_reason: str | None
    project_status: StatusJson
    """The project's PEP 792 status, as the simple API's ``project-status``:
    ``status`` (active, archived or deprecated here; a quarantined project has
    no body, see NotFound) and ``reason`` when one is set."""


class Role(TypedDict):
    role: models.Role.Name
    user: str


class Ownership(TypedDict):
    roles: list[Role]
    """People's own roles, Owners first, then by role and name. As on the
    public index, the roles an organization gives (its Owners, its teams'
    members) are not listed: ``organization`` stands for them."""
    organization: str | None
    """The name of the organization that owns the project; null when people
    alone own it, and for a project mirrored from the upstream index."""


class Mirror(TypedDict):
    """Where a mirrored project comes from (packages.mirrored)."""

    upstream: str
    """The upstream simple index's URL (UPSTREAM_INDEX_URL)."""
    last_checked: str | None
    """When the upstream last answered for the project: UTC, ISO 8601 with
    microseconds and Z (PEP 700); null if it never has."""


class Vulnerability(TypedDict):
    """A security advisory (an OSV record) that affects the release, in the
    public index's shape."""

    aliases: list[str]
    details: str
    fixed_in: list[str]
    """The versions that fix it."""
    id: str
    """The OSV id, e.g. PYSEC-2024-12 or GHSA-xxxx-xxxx-xxxx."""
    link: str
    source: str
    """"osv" for an imported record, "index" for one entered on this index."""
    summary: str
    withdrawn: str | None
    """When the advisory was withdrawn: UTC, %Y-%m-%dT%H:%M:%SZ; null if it stands."""


class ReleaseJson(TypedDict):
    """/pypi/<name>/<version>/json: the release (``info``) and its files
    (``urls``). ``vulnerabilities`` lists the advisories that affect the
    release (always empty for a mirrored project). ``mirror`` is null for a
    project of this index and says where the project comes from for one
    mirrored from the upstream index; a mirrored project's ``last_serial`` is
    the upstream's serial of it, or null when the upstream gives none."""

    info: Info
    last_serial: int | None
    mirror: Mirror | None
    ownership: Ownership
    urls: list[File]
    vulnerabilities: list[Vulnerability]


class ProjectJson(ReleaseJson):
    """/pypi/<name>/json: what ReleaseJson says of the latest release, and
    every release's files."""

    releases: dict[str, list[File]]
    """Every version, files or not."""


class NotFound(TypedDict):
    message: str
    project_status: NotRequired[StatusJson]
    """Only for a quarantined project: PEP 792's status and the moderators' reason."""


NOT_FOUND: NotFound = {"message": "Not Found"}


def quarantined_not_found(project: Project) -> NotFound:
    """The 404 body for a quarantined project: mirrors drop it as before, and
    a person reading it learns why."""
    return {
        "message": f"Not Found: {project.name} is quarantined by the index's moderators.",
        "project_status": status_json(project),
    }


# Light columns of every release: enough to pick the latest and list the
# files, without reading 300 descriptions.
_RELEASE_LIST_FIELDS = (
    "id",
    "version",
    "is_prerelease",
    "yanked",
    "yanked_reason",
    "requires_python",
)
_FILE_FIELDS = (
    "release_id",
    "filename",
    "packagetype",
    "python_version",
    "size",
    "md5_digest",
    "sha256_digest",
    "blake2_256_digest",
    "path",
    "upload_time",
)


class JsonPage(NamedTuple):
    body: bytes
    etag: str  # unquoted digest of body
    serial: int | None  # None: a mirrored project whose upstream gives no serial
    version: str  # the release described by ``info``, as stored


# --- Building ---------------------------------------------------------------------


def _absolute(base_url: str, url: str) -> str:
    # file_url() is an absolute path unless FILES_URL puts files on another origin.
    return f"{base_url}{url}" if url.startswith("/") else url


def _file_json(row: dict, release: Release, base_url: str) -> File:
    upload_time_iso = pep700_time(row["upload_time"])
    return {
        "comment_text": "",
        "digests": {
            "blake2b_256": row["blake2_256_digest"],
            "md5": row["md5_digest"],
            "sha256": row["sha256_digest"],
        },
        "downloads": -1,
        "filename": row["filename"],
        "has_sig": False,
        "md5_digest": row["md5_digest"],
        "packagetype": row["packagetype"],
        "python_version": row["python_version"],
        "requires_python": release.requires_python or None,
        "size": row["size"],
        # The same instant without the fraction and the "Z".
        "upload_time": upload_time_iso.partition(".")[0],
        "upload_time_iso_8601": upload_time_iso,
        "url": _absolute(base_url, file_url(row["path"])),
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason or None,
    }


def _files_by_release(releases: list[Release], base_url: str) -> dict[int, list[File]]:
    by_id = {release.id: release for release in releases}
    files: dict[int, list[File]] = defaultdict(list)
    rows = (
        models.File.objects.filter(release_id__in=list(by_id))
        .order_by("filename")
        .values(*_FILE_FIELDS)
    )
    for row in rows:
        release = by_id[row["release_id"]]
        files[release.id].append(_file_json(row, release, base_url))
    return files


def _ownership(project: Project) -> Ownership:
    roles = models.Role.objects.filter(project=project).values_list("role_name", "user__username")
    # Owners first, then by name: a stable order, so the body (and its ETag)
    # only changes when the roles do.
    ordered = sorted(roles, key=lambda role: (role[0] != models.Role.Name.OWNER, role[0], role[1]))
    # Read only when there is one: the organization's name is in the body,
    # which a move into or out of it changes with a new serial
    # (packages.organization_projects).
    organization = project.organization.name if project.organization_id else None
    return {
        "roles": [{"role": role, "user": user} for role, user in ordered],
        "organization": organization,
    }


def _info(project: Project, release: Release, base_url: str) -> Info:
    project_url = _absolute(base_url, reverse("project", args=[project.name]))
    return {
        "author": release.author,
        "author_email": release.author_email,
        "bugtrack_url": None,
        "classifiers": list(release.classifiers),
        "deprecated": release.deprecated_at is not None,
        "deprecated_reason": release.deprecated_reason or None,
        "description": release.description,
        "description_content_type": release.description_content_type or None,
        "docs_url": None,
        "download_url": release.download_url,
        "downloads": download_summary(project),
        "dynamic": list(release.dynamic) or None,
        "home_page": release.home_page,
        "keywords": release.keywords,
        "license": release.license,
        "license_expression": release.license_expression or None,
        "license_files": list(release.license_files) or None,
        "maintainer": release.maintainer,
        "maintainer_email": release.maintainer_email,
        "name": project.name,
        "package_url": project_url,
        # Platform is a single string there (the first one declared).
        "platform": release.platform[0] if release.platform else None,
        "project_url": project_url,
        # Later labels win, as building a dict from the declared pairs does there.
        "project_urls": {label: url for label, url in release.project_urls} or None,
        "provides_extra": list(release.provides_extra) or None,
        "release_url": _absolute(
            base_url, reverse("release", args=[project.name, release.version])
        ),
        "requires_dist": list(release.requires_dist) or None,
        "requires_python": release.requires_python,
        "summary": release.summary,
        "version": release.version,
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason or None,
        "project_status": status_json(project),
    }


def _document(project: Project, release: Release, urls: list[File], base_url: str) -> ReleaseJson:
    return {
        "info": _info(project, release, base_url),
        "last_serial": project.last_serial,
        "mirror": None,
        "ownership": _ownership(project),
        "urls": urls,
        "vulnerabilities": release_vulnerabilities(release),
    }


def project_document(project: Project, base_url: str) -> ProjectJson | None:
    """The project endpoint's data, or None when the project has no release."""
    releases = list(Release.objects.filter(project=project).only(*_RELEASE_LIST_FIELDS))
    latest = pick_latest(releases)
    if latest is None:
        return None
    files = _files_by_release(releases, base_url)
    document = _document(project, Release.objects.get(pk=latest.pk), files[latest.id], base_url)
    return ProjectJson(
        **document, releases={release.version: files[release.id] for release in releases}
    )


def release_document(project: Project, release: Release, base_url: str) -> ReleaseJson:
    """The version endpoint's data: the project's minus ``releases``."""
    files = _files_by_release([release], base_url)
    return _document(project, release, files[release.id], base_url)


def render(document: ReleaseJson) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


# --- Cached pages -----------------------------------------------------------------


def _page(body: bytes, serial: int | None, version: str) -> JsonPage:
    return JsonPage(body, hashlib.blake2b(body, digest_size=16).hexdigest(), serial, version)


def _key(kind: str, project: Project, base_url: str, *parts: str) -> str:
    # The base URL is in the body (absolute URLs), so each origin has its own copy.
    origin = hashlib.blake2b(base_url.encode(), digest_size=8).hexdigest()
    # So are the download counts, which move without the serial (within a minute).
    downloads = "-".join(str(number) for number in download_summary(project).values())
    return ":".join(
        ["json", kind, project.normalized_name, str(project.last_serial), origin, downloads, *parts]
    )


def project_page(project: Project, base_url: str) -> JsonPage | None:
    """The project endpoint's body, or None when the project has no release."""
    key = _key("project", project, base_url)
    page = cache.get(key)
    if page is None:
        document = project_document(project, base_url)
        if document is None:
            return None
        page = _page(render(document), project.last_serial, document["info"]["version"])
        cache.set(key, page, PAGE_CACHE_SECONDS)
    return page


def release_page(project: Project, version: str, base_url: str) -> JsonPage | None:
    """The body for the release ``version`` stands for (1.0 finds 1.0.0), or None.

    ``JsonPage.version`` is the stored spelling, for the view's redirect.
    """
    canonical = canonicalize_version(version)
    # Hashed: the version comes from the URL, and cache keys must stay plain.
    key = _key("release", project, base_url, hashlib.blake2b(canonical.encode()).hexdigest())
    page = cache.get(key)
    if page is None:
        release = Release.objects.filter(project=project, canonical_version=canonical).first()
        if release is None:
            return None
        page = _page(
            render(release_document(project, release, base_url)),
            project.last_serial,
            release.version,
        )
        cache.set(key, page, PAGE_CACHE_SECONDS)
    return page


# --- Mirrored projects --------------------------------------------------------------
#
# The same shape from the mirrored rows (packages.mirrored), which hold no core
# metadata: what a simple page gives is filled in, the rest is "" or null as
# for a local release that leaves it out. Built on each request and not kept in
# the cache: what is offered changes with the upstream, the moderators' blocks
# and the minimum age, none of which moves a serial of ours to key on, and the
# rows are few. The edge keeps the answer under the project's keys.

# The public index's own figure for "not counted": downloads of mirrored files
# are the upstream's business.
_NOT_COUNTED: Downloads = {"last_day": -1, "last_month": -1, "last_week": -1}


def _mirrored_file_json(file: models.UpstreamFile, base_url: str) -> File:
    upload_time_iso = pep700_time(file.published_at)
    return {
        "comment_text": "",
        "digests": {"blake2b_256": "", "md5": "", "sha256": file.sha256_digest},
        "downloads": -1,
        "filename": file.filename,
        "has_sig": False,
        "md5_digest": "",
        "packagetype": packagetype(file.filename),
        "python_version": python_version(file.filename),
        "requires_python": file.requires_python or None,
        "size": file.size,
        "upload_time": upload_time_iso.partition(".")[0],
        "upload_time_iso_8601": upload_time_iso,
        # This index's copy (fetched from the upstream on its first request).
        "url": _absolute(base_url, mirror.mirror_file_url(file)),
        "yanked": file.yanked,
        "yanked_reason": file.yanked_reason or None,
    }


def _mirrored_info(found: Mirrored, version: MirroredVersion, base_url: str) -> Info:
    project_url = _absolute(base_url, reverse("project", args=[found.name]))
    return {
        "author": "",
        "author_email": "",
        "bugtrack_url": None,
        "classifiers": [],
        "deprecated": False,
        "deprecated_reason": None,
        "description": "",
        "description_content_type": None,
        "docs_url": None,
        "download_url": "",
        "downloads": _NOT_COUNTED,
        "dynamic": None,
        "home_page": "",
        "keywords": "",
        "license": "",
        "license_expression": None,
        "license_files": None,
        "maintainer": "",
        "maintainer_email": "",
        "name": found.name,
        "package_url": project_url,
        "platform": None,
        "project_url": project_url,
        "project_urls": None,
        "provides_extra": None,
        "release_url": _absolute(base_url, reverse("release", args=[found.name, version.version])),
        "requires_dist": None,
        "requires_python": version.requires_python,
        "summary": "",
        "version": version.version,
        "yanked": version.yanked,
        "yanked_reason": version.yanked_reason or None,
        # The upstream's status is not carried through (docs/api.md).
        "project_status": {"status": models.ProjectStatus.ACTIVE},
    }


def _mirrored_document(found: Mirrored, version: MirroredVersion, base_url: str) -> ReleaseJson:
    checked = found.last_checked
    return {
        "info": _mirrored_info(found, version, base_url),
        "last_serial": found.last_serial,
        "mirror": {
            "upstream": found.upstream_url,
            "last_checked": pep700_time(checked) if checked else None,
        },
        "ownership": {"roles": [], "organization": None},
        "urls": [_mirrored_file_json(file, base_url) for file in version.files],
        "vulnerabilities": [],
    }


def mirrored_project_page(found: Mirrored, base_url: str) -> JsonPage:
    """The project endpoint's body for a mirrored project: ``info`` of its
    latest version, ``releases`` of the versions that have an offered file."""
    document = _mirrored_document(found, found.latest, base_url)
    releases = {
        version.version: [_mirrored_file_json(file, base_url) for file in version.files]
        for version in found.versions
    }
    body = render(ProjectJson(**document, releases=releases))
    return _page(body, found.last_serial, found.latest.version)


def mirrored_release_page(found: Mirrored, version: str, base_url: str) -> JsonPage | None:
    """The body for the mirrored version ``version`` stands for, or None."""
    shown = found.find(version)
    if shown is None:
        return None
    body = render(_mirrored_document(found, shown, base_url))
    return _page(body, found.last_serial, shown.version)
