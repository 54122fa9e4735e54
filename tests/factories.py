"""Distributions built in memory for the tests: real wheels and sdists whose
hashes are derived from their bytes, never typed in."""

import base64
import hashlib
import io
import tarfile
import time
import zipfile
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name


def wheel_stem(name: str) -> str:
    # Binary distribution filenames use the normalized name with underscores.
    return canonicalize_name(name).replace("-", "_")


def core_metadata(
    name: str,
    version: str,
    *,
    metadata_version: str = "2.1",
    summary: str = "A test package",
    requires_python: str | None = None,
    requires_dist: tuple[str, ...] = (),
    extra_headers: tuple[tuple[str, str], ...] = (),
    description: str = "Hello from the README.\n",
    description_content_type: str = "text/markdown",
) -> str:
    lines = [
        f"Metadata-Version: {metadata_version}",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {summary}",
        f"Description-Content-Type: {description_content_type}",
    ]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {req}" for req in requires_dist]
    lines += [f"{key}: {value}" for key, value in extra_headers]
    return "\n".join(lines) + "\n\n" + description


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


@dataclass
class Dist:
    filename: str
    content: bytes
    metadata: str = ""
    fields: dict = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def blake2_256(self) -> str:
        return hashlib.blake2b(self.content, digest_size=32).hexdigest()

    @property
    def md5(self) -> str:
        return hashlib.md5(self.content, usedforsecurity=False).hexdigest()

    def form(self, **overrides) -> dict:
        """The multipart fields twine sends with this file (without the file)."""
        data = {
            ":action": "file_upload",
            "protocol_version": "1",
            "filetype": "bdist_wheel" if self.filename.endswith(".whl") else "sdist",
            "pyversion": "py3" if self.filename.endswith(".whl") else "source",
            "sha256_digest": self.sha256,
            "md5_digest": self.md5,
            "blake2_256_digest": self.blake2_256,
            **self.fields,
        }
        data.update(overrides)
        return {key: value for key, value in data.items() if value is not None}


def make_wheel(
    name: str = "sample-project",
    version: str = "1.0",
    *,
    tag: str = "py3-none-any",
    module: str | None = None,
    files: dict[str, bytes] | None = None,
    metadata: str | None = None,
    filename: str | None = None,
    **metadata_kwargs,
) -> Dist:
    """A pure-Python wheel pip can install: one module, METADATA, WHEEL, RECORD."""
    stem = wheel_stem(name)
    dist_info = f"{stem}-{version}.dist-info"
    module = module or stem
    text = metadata if metadata is not None else core_metadata(name, version, **metadata_kwargs)
    contents = {
        f"{module}/__init__.py": f'VERSION = "{version}"\n'.encode(),
        **(files or {}),
        f"{dist_info}/METADATA": text.encode(),
        f"{dist_info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
        ).encode(),
    }
    record = [_record_line(path, data) for path, data in contents.items()]
    record.append(f"{dist_info}/RECORD,,")
    contents[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in contents.items():
            info = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return Dist(
        filename=filename or f"{stem}-{version}-{tag}.whl",
        content=buffer.getvalue(),
        metadata=text,
        fields=_fields_from_metadata(name, version, text),
    )


def make_sdist(
    name: str = "sample-project",
    version: str = "1.0",
    *,
    metadata: str | None = None,
    filename: str | None = None,
    include_pkg_info: bool = True,
    **metadata_kwargs,
) -> Dist:
    """A PEP 625 sdist with PKG-INFO and a setuptools-free pyproject.toml."""
    stem = wheel_stem(name)
    top = f"{stem}-{version}"
    text = metadata if metadata is not None else core_metadata(name, version, **metadata_kwargs)
    members = {
        f"{top}/pyproject.toml": (
            '[build-system]\nrequires = []\nbuild-backend = "none"\n'
            f'[project]\nname = "{name}"\nversion = "{version}"\n'
        ).encode(),
        f"{top}/{stem}/__init__.py": f'VERSION = "{version}"\n'.encode(),
    }
    if include_pkg_info:
        members[f"{top}/PKG-INFO"] = text.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return Dist(
        filename=filename or f"{top}.tar.gz",
        content=buffer.getvalue(),
        metadata=text,
        fields=_fields_from_metadata(name, version, text),
    )


def _fields_from_metadata(name: str, version: str, text: str) -> dict:
    """The form fields twine derives from the core metadata."""
    headers, _, body = text.partition("\n\n")
    fields: dict = {"name": name, "version": version, "description": body}
    multi = {"Requires-Dist": "requires_dist", "Classifier": "classifiers"}
    for line in headers.splitlines():
        key, _, value = line.partition(": ")
        if key in multi:
            fields.setdefault(multi[key], []).append(value)
        elif key not in {"Name", "Version"}:
            fields[key.lower().replace("-", "_")] = value
    return fields


# --- Through the upload endpoint ------------------------------------------------


def basic(secret: str, username: str = "__token__") -> str:
    """The Authorization header twine sends: an API token as ``__token__``'s password."""
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


def post_upload(client, dist: Dist, secret: str, **overrides):
    """POST ``dist`` to /legacy/ with the fields twine sends; ``None`` drops a field."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = dist.form(**overrides)
    data["content"] = SimpleUploadedFile(dist.filename, dist.content)
    return client.post("/legacy/", data, HTTP_AUTHORIZATION=basic(secret))


def path_of(dist: Dist) -> str:
    """Where the storage keeps ``dist``'s bytes."""
    from packages.storage import file_path

    return file_path(blake2_256_digest=dist.blake2_256, filename=dist.filename)


# --- Rows, as the upload leaves them ---------------------------------------------
#
# Written by the upload's own commit step (packages.publish), without its HTTP
# request and checks: journal entries and serials, events, the registered
# filename and the project's total, and what the upload does after its commit
# (the description rendered, the search document updated, the pages purged).


def _uploader(project):
    """Who the factories upload as: the project's first Owner, if it has one."""
    from packages.models import Role

    role = Role.objects.filter(project=project, role_name=Role.Name.OWNER).order_by("pk").first()
    return role.user if role is not None else None


def _as_committed(change, *, after_commit: bool = True):
    """Run ``change`` in a transaction, then what the upload runs once its
    transaction commits (a test's own transaction never commits).
    ``after_commit=False``: as if the process ended right at the commit."""
    from contextlib import ExitStack
    from unittest import mock

    from django.db import transaction
    from django.test import TestCase

    with ExitStack() as stack:
        if not after_commit:
            stack.enter_context(mock.patch.object(transaction, "on_commit"))
        stack.enter_context(TestCase.captureOnCommitCallbacks(execute=True))
        stack.enter_context(transaction.atomic())
        return change()


def make_release(project, version: str = "1.0", *, after_commit: bool = True, **fields):
    """The project's release of ``version`` (created if missing), as the
    upload of its first file makes it. ``fields``: its core metadata, and any
    other column to set afterwards (``yanked``, ``created_at``, ...).
    ``after_commit=False``: its description still pending, its project's
    search document not updated for it (left to the worker), its pages not purged."""
    from packaging.utils import canonicalize_version
    from packaging.version import Version

    from accounts.events import Actor
    from packages.metadata import ReleaseMetadata
    from packages.models import Release
    from packages.publish import Writes, release_get_or_create

    existing = Release.objects.filter(
        project=project, canonical_version=canonicalize_version(version)
    ).first()
    if existing is not None:
        return existing
    later = {key: fields.pop(key) for key in list(fields) if key in _SET_AFTER_UPLOAD}
    metadata = ReleaseMetadata(
        name=project.name, version=Version(version), metadata_version="2.1", fields=fields
    )

    def create():
        writes = Writes(actor=Actor(_uploader(project)))
        release = release_get_or_create(project=project, metadata=metadata, writes=writes)
        writes.write(project)
        return release

    release = _as_committed(create, after_commit=after_commit)
    if later:
        Release.objects.filter(pk=release.pk).update(**later)
    release.refresh_from_db()
    return release


# Release columns that are no core metadata field (the upload derives them, or a
# later change sets them): set once the release is made.
_SET_AFTER_UPLOAD = {
    "created_at",
    "description_html",
    "description_renderer",
    "is_prerelease",
    "yanked",
    "yanked_reason",
}


def add_file(
    release,
    dist: Dist,
    *,
    with_metadata: bool = False,
    store: bool = True,
    after_commit: bool = True,
    **fields,
):
    """A committed file as the upload leaves it: bytes (and the PEP 658
    metadata when asked) in storage, its rows, journal entries and events.
    ``store=False`` leaves storage empty; ``after_commit=False``: the project's
    pages not purged yet; ``fields`` are set afterwards (``upload_time``)."""
    from django.core.files.base import ContentFile

    from accounts.events import Actor
    from packages.cache import purge_project_on_commit
    from packages.distributions import InvalidDistribution, parse_distribution_filename
    from packages.models import File
    from packages.publish import NewFile, Writes, release_file_add
    from packages.storage import files_storage, metadata_path

    path = path_of(dist)
    metadata = dist.metadata.encode() if with_metadata else b""
    if store:
        storage = files_storage()
        assert storage.save(path, ContentFile(dist.content)) == path
        if with_metadata:
            storage.save(metadata_path(path), ContentFile(metadata))
    try:
        parsed = parse_distribution_filename(dist.filename)
        packagetype, python_version = parsed.packagetype, parsed.python_version
    except InvalidDistribution:
        # A name the upload refuses: rows made some other way (imports, old data).
        wheel = dist.filename.endswith(".whl")
        packagetype = "bdist_wheel" if wheel else "sdist"
        python_version = "py3" if wheel else "source"
    project = release.project

    def create():
        writes = Writes(actor=Actor(_uploader(project)))
        file = release_file_add(
            project=project,
            release=release,
            file=NewFile(
                filename=dist.filename,
                packagetype=packagetype,
                python_version=python_version,
                size=len(dist.content),
                md5_digest=dist.md5,
                sha256_digest=dist.sha256,
                blake2_256_digest=dist.blake2_256,
                path=path,
                core_metadata=metadata,
            ),
            writes=writes,
            token=None,
        )
        writes.write(project)
        purge_project_on_commit(project.normalized_name)
        return file

    file = _as_committed(create, after_commit=after_commit)
    if fields:
        File.objects.filter(pk=file.pk).update(**fields)
    file.refresh_from_db()
    return file


# --- Namespaces (PEP 752; helper 33) ------------------------------------------------


def make_organization(name: str, *, owners=(), managers=(), members=()):
    """An active organization with its people in their roles."""
    from accounts.models import Organization, OrganizationRole
    from accounts.organizations import normalize_organization_name

    organization = Organization.objects.create(
        name=name, normalized_name=normalize_organization_name(name)
    )
    for role_name, users in (
        (OrganizationRole.Name.OWNER, owners),
        (OrganizationRole.Name.MANAGER, managers),
        (OrganizationRole.Name.MEMBER, members),
    ):
        for user in users:
            OrganizationRole.objects.create(
                organization=organization, user=user, role_name=role_name
            )
    return organization


def make_namespace(prefix: str, organization, *, parent=None, is_open=False, is_hidden=False):
    """A grant row as packages.namespaces.namespace_create leaves it (no checks)."""
    from packages.models import Namespace
    from packages.names import normalize_project_name

    return Namespace.objects.create(
        prefix=prefix,
        normalized_prefix=normalize_project_name(prefix),
        organization=organization,
        parent=parent,
        is_open=is_open,
        is_hidden=is_hidden,
    )
