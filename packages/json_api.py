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
- Quarantined projects do not exist here.

A body is built with a fixed number of queries, then kept in the cache under
the project's ``last_serial``: every change a reader can see moves the serial
(packages.journal), so a new serial is a new key and no purge is needed. The
serial is read before the rows, so a body is never older than its key.
"""

import hashlib
import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import NamedTuple

from django.core.cache import cache
from django.urls import reverse
from packaging.utils import canonicalize_version

from .downloads import download_summary
from .models import File, Project, Release, Role
from .releases import pick_latest
from .simple import PAGE_CACHE_SECONDS
from .storage import file_url

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
    serial: int
    version: str  # the release described by ``info``, as stored


# --- Building ---------------------------------------------------------------------


def _absolute(base_url: str, url: str) -> str:
    # file_url() is an absolute path unless FILES_URL puts files on another origin.
    return f"{base_url}{url}" if url.startswith("/") else url


def _upload_times(value: datetime) -> tuple[str, str]:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S"), value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _file_json(row: dict, release: Release, base_url: str) -> dict:
    upload_time, upload_time_iso = _upload_times(row["upload_time"])
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
        "upload_time": upload_time,
        "upload_time_iso_8601": upload_time_iso,
        "url": _absolute(base_url, file_url(row["path"])),
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason or None,
    }


def _files_by_release(releases: list[Release], base_url: str) -> dict[int, list[dict]]:
    by_id = {release.id: release for release in releases}
    files: dict[int, list[dict]] = defaultdict(list)
    rows = (
        File.objects.filter(release_id__in=list(by_id)).order_by("filename").values(*_FILE_FIELDS)
    )
    for row in rows:
        release = by_id[row["release_id"]]
        files[release.id].append(_file_json(row, release, base_url))
    return files


def _ownership(project: Project) -> dict:
    roles = Role.objects.filter(project=project).values_list("role_name", "user__username")
    # Owners first, then by name: a stable order, so the body (and its ETag)
    # only changes when the roles do.
    ordered = sorted(roles, key=lambda role: (role[0] != Role.Name.OWNER, role[0], role[1]))
    # Organizations are not modelled; the key is there for the clients that read it.
    return {"roles": [{"role": role, "user": user} for role, user in ordered], "organization": None}


def _info(project: Project, release: Release, base_url: str) -> dict:
    project_url = _absolute(base_url, reverse("project", args=[project.name]))
    return {
        "author": release.author,
        "author_email": release.author_email,
        "bugtrack_url": None,
        "classifiers": list(release.classifiers),
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
    }


def _document(project: Project, release: Release, urls: list[dict], base_url: str) -> dict:
    return {
        "info": _info(project, release, base_url),
        "last_serial": project.last_serial,
        "ownership": _ownership(project),
        "urls": urls,
        # Advisories are not imported yet; the key is there for the clients
        # that read it.
        "vulnerabilities": [],
    }


def project_document(project: Project, base_url: str) -> dict | None:
    """The project endpoint's data, or None when the project has no release."""
    releases = list(Release.objects.filter(project=project).only(*_RELEASE_LIST_FIELDS))
    latest = pick_latest(releases)
    if latest is None:
        return None
    files = _files_by_release(releases, base_url)
    document = _document(project, Release.objects.get(pk=latest.pk), files[latest.id], base_url)
    document["releases"] = {release.version: files[release.id] for release in releases}
    return document


def release_document(project: Project, release: Release, base_url: str) -> dict:
    """The version endpoint's data: the project's minus ``releases``."""
    files = _files_by_release([release], base_url)
    return _document(project, release, files[release.id], base_url)


def render(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


# --- Cached pages -----------------------------------------------------------------


def _page(body: bytes, serial: int, version: str) -> JsonPage:
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
