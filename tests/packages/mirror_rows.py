"""The stored state of the pull-through mirror, written as packages.mirror
writes it after a fetch: for tests of what the read surfaces (project page,
JSON API, XML-RPC) show of a mirrored project, where the fetch is not what is
under test."""

import hashlib
from datetime import UTC, datetime

from packages.mirror import file_version
from packages.models import UpstreamFile, UpstreamProject

UPSTREAM = "https://upstream.example/simple/"
CHECKED = datetime(2024, 5, 2, 9, 15, 30, 250000, tzinfo=UTC)
UPLOADED = datetime(2024, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)


def upstream_project(name: str, **fields) -> UpstreamProject:
    fields = {"checked_at": CHECKED, "upstream_serial": 4242, "etag": '"e1"', **fields}
    return UpstreamProject.objects.create(normalized_name=name, **fields)


def upstream_file(project: UpstreamProject, filename: str, **fields) -> UpstreamFile:
    content = f"the bytes of {filename}".encode()
    fields = {
        "version": file_version(filename) or "",
        "url": f"https://files.upstream.example/{filename}",
        "sha256_digest": hashlib.sha256(content).hexdigest(),
        "size": len(content),
        "upload_time": UPLOADED,
        **fields,
    }
    return UpstreamFile.objects.create(project=project, filename=filename, **fields)


def mirror_on(settings, url: str = UPSTREAM) -> None:
    """Mirroring on, towards ``url`` (by default an upstream no test reaches:
    the rows are given)."""
    settings.UPSTREAM_INDEX_URL = url
    settings.UPSTREAM_MIN_AGE = 0
    settings.PRIVATE_NAME_PATTERNS = []


def demo_project() -> UpstreamProject:
    """demo upstream: 1.0 (sdist and wheel), 1.1 yanked with a reason, 2.0 (the
    latest), 2.1rc1 (a pre-release, newer than the latest)."""
    project = upstream_project("demo")
    upstream_file(project, "demo-1.0.tar.gz")
    upstream_file(project, "demo-1.0-py3-none-any.whl", requires_python=">=3.8")
    upstream_file(project, "demo-1.1.tar.gz", yanked=True, yanked_reason="Broken build")
    upstream_file(project, "demo-2.0-cp312-cp312-manylinux_2_17_x86_64.whl")
    upstream_file(project, "demo-2.0.tar.gz", requires_python=">=3.9")
    upstream_file(project, "demo-2.1rc1.tar.gz")
    return project
