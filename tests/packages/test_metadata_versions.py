"""Real distributions that the public index hosts, one per core-metadata
version it accepts (1.0 to 2.5, the 2.0 of old bdist_wheel included), uploaded
through /legacy/ with the fields a client derives from their metadata.

The files are fetched from the public index once, checked against the sha256
pinned here and kept in var/test-cache/ (git-ignored). Without network they are
skipped on a developer's machine; with CI=true a failed fetch fails the test.
"""

import hashlib
import io
import json
import os
import tarfile
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urljoin

import pytest
from packaging.metadata import parse_email

from packages.models import File
from packages.storage import files_storage, metadata_path
from tests.factories import Dist, post_upload

pytestmark = pytest.mark.django_db

INDEX = "https://pypi.org/pypi/"
CACHE = Path(__file__).resolve().parents[2] / "var" / "test-cache" / "distributions"

# (metadata version, project, version, filename, sha256): small files, each
# the smallest found of its version; the builder that wrote it in a comment.
REAL_FILES = [
    # distutils, no classifiers
    ("1.0", "ordereddict", "1.1", "ordereddict-1.1.tar.gz",
     "1c35b4ac206cef2d24816c89f89cf289dd3d38cf7c449bb3fab7bf6d43f01b1f"),
    # setuptools sdist with classifiers
    ("1.1", "mccabe", "0.6.1", "mccabe-0.6.1.tar.gz",
     "dd8d182285a0fe56bace7f45b5e7d1a6ebcbf524e8f3bd87eb0f125271b8831f"),
    # setuptools sdist with python_requires
    ("1.2", "six", "1.16.0", "six-1.16.0.tar.gz",
     "1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926"),
    # old bdist_wheel
    ("2.0", "mccabe", "0.6.1", "mccabe-0.6.1-py2.py3-none-any.whl",
     "ab8a6258860da4b6677da4bd2fe5dc2c659cff31b3ee4f7f5d64e79735b80d42"),
    ("2.0", "toml", "0.10.0", "toml-0.10.0-py2.py3-none-any.whl",
     "235682dd292d5899d361a811df37e04a8828a5b1da3115886b73cf81ebc9100e"),
    # hatchling 1.11
    ("2.1", "iniconfig", "2.0.0", "iniconfig-2.0.0-py3-none-any.whl",
     "b6a85871a79d2e3b22d2d1b94ac2824226a63c6b741c88f7ae975f18b6778374"),
    # setuptools 75
    ("2.2", "certifi", "2025.1.31", "certifi-2025.1.31-py3-none-any.whl",
     "ca78db4565a652026a4db2bcdf68f2fb589ea80d0be70e03929ed730746b84fe"),
    # hatchling 1.24
    ("2.3", "annotated-types", "0.7.0", "annotated_types-0.7.0-py3-none-any.whl",
     "1f02e8b43a8fbbc3f3e0d4f0f4bfc8131bcb4eebe8849b8e5c773f3a1c582a53"),
    # hatchling 1.27
    ("2.4", "iniconfig", "2.1.0", "iniconfig-2.1.0-py3-none-any.whl",
     "9deba5723312380e77435581c6bf4935c94cbfab9b1ed33ef8d238ea168eb760"),
    # flit_core and hatchling of today
    ("2.5", "flit-core", "4.2.0", "flit_core-4.2.0-py3-none-any.whl",
     "2bee22dc8ba89c2e35b4e1ad575e596aac945c85672dd8f3cad21b629036e044"),
    ("2.5", "hatchling", "1.33.0", "hatchling-1.33.0.tar.gz",
     "4c422bd4d554fcff5de5b73e9596f85e41e9f97f7e553d8f7595ecb31a627bef"),
]  # fmt: skip


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must have the real distributions, so this fails.")
    pytest.skip(reason)


def fetch(project: str, version: str, filename: str, sha256: str) -> bytes:
    """The file's bytes, from the cache or the public index, digest checked."""
    cached = CACHE / filename
    if cached.exists() and hashlib.sha256(cached.read_bytes()).hexdigest() == sha256:
        return cached.read_bytes()
    listing = f"{INDEX}{project}/json"
    try:
        with urllib.request.urlopen(listing, timeout=30) as answer:
            release = json.load(answer)["releases"][version]
        entry = next(f for f in release if f["filename"] == filename)
        with urllib.request.urlopen(urljoin(listing, entry["url"]), timeout=60) as answer:
            content = answer.read()
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        _unavailable(f"Could not fetch {filename} from {INDEX}: {exc!r}")
    digest = hashlib.sha256(content).hexdigest()
    assert digest == sha256, f"{filename} from {INDEX} has sha256 {digest}, not {sha256}"
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".part")
    partial.write_bytes(content)
    partial.replace(cached)
    return content


def core_metadata_of(filename: str, content: bytes) -> bytes:
    if filename.endswith(".whl"):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            (name,) = [
                n
                for n in archive.namelist()
                if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            ]
            return archive.read(name)
    with tarfile.open(fileobj=io.BytesIO(content)) as archive:
        (member,) = [m for m in archive if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")]
        return archive.extractfile(member).read()


# RawMetadata keys that clients send under another form name.
_FORM_NAMES = {
    "platforms": "platform",
    "supported_platforms": "supported_platform",
    "license_files": "license_file",
}


def upload_form(metadata: bytes) -> dict:
    """The form fields twine and uv send for this core metadata."""
    raw, _unparsed = parse_email(metadata)
    fields: dict = {}
    for key, value in raw.items():
        if key == "keywords":
            fields["keywords"] = ", ".join(value)
        elif key == "project_urls":
            fields["project_urls"] = [f"{label}, {url}" for label, url in value.items()]
        else:
            fields[_FORM_NAMES.get(key, key)] = value
    return fields


@pytest.mark.parametrize(
    ("metadata_version", "project", "version", "filename", "sha256"),
    REAL_FILES,
    ids=[f"{row[0]}-{row[3]}" for row in REAL_FILES],
)
def test_real_distribution_of_each_metadata_version_is_accepted(
    client, token, metadata_version, project, version, filename, sha256
):
    content = fetch(project, version, filename, sha256)
    metadata = core_metadata_of(filename, content)
    assert f"Metadata-Version: {metadata_version}\n".encode() in metadata.replace(b"\r\n", b"\n")
    wheel = filename.endswith(".whl")
    dist = Dist(filename=filename, content=content, fields=upload_form(metadata))
    response = post_upload(
        client, dist, token, pyversion=filename.split("-")[-3] if wheel else "source"
    )
    assert response.status_code == 200, response.content.decode()
    stored = File.objects.get(filename=filename)
    assert stored.release.metadata_version == metadata_version
    assert stored.sha256_digest == sha256
    with files_storage().open(stored.path) as handle:
        assert handle.read() == content
    if wheel:
        with files_storage().open(metadata_path(stored.path)) as handle:
            assert handle.read() == metadata
