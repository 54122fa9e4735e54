"""The simple pages and downloads against a real S3-compatible server (moto_server
in its own process), through django-storages' S3Storage."""

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError

from packages.storage import files_storage, metadata_path
from tests.factories import make_sdist, make_wheel, path_of, post_upload
from tests.packages.test_simple import add_file

JSON = "application/vnd.pypi.simple.v1+json"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(process: subprocess.Popen, url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"moto_server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # Any HTTP answer means it is serving.
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"moto_server did not answer on {url}")


@pytest.fixture(scope="session")
def s3_endpoint():
    """A moto_server process on a free local port, stopped by its PID at the end."""
    moto_server = Path(sys.executable).with_name("moto_server")
    port = _free_port()
    process = subprocess.Popen(
        [str(moto_server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(process, f"{endpoint}/", time.monotonic() + 30)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def s3_files(settings, s3_endpoint):
    """The "files" storage pointed at a fresh bucket on the moto server."""
    bucket = f"files-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION, **CREDENTIALS)
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "files": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_endpoint,
                "access_key": "testing",
                "secret_key": "testing",
                "region_name": REGION,
                "querystring_auth": False,
                "file_overwrite": True,
            },
        },
    }
    storages._storages.pop("files", None)
    yield client, bucket
    storages._storages.pop("files", None)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_storage_is_s3(s3_files):
    assert type(files_storage()).__name__ == "S3Storage"


def test_simple_page_and_downloads_from_s3(client, project, s3_files):
    s3, bucket = s3_files
    wheel_dist, sdist_dist = make_wheel(), make_sdist()
    wheel = add_file(project, wheel_dist, requires_python=">=3.9")
    sdist = add_file(project, sdist_dist)

    # The objects really are in the bucket, under the content-addressed paths.
    stored = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert stored == {wheel.path, metadata_path(wheel.path), sdist.path}

    page = json.loads(client.get("/simple/sample-project/", headers={"Accept": JSON}).content)
    urls = {entry["filename"]: entry["url"] for entry in page["files"]}
    assert urls == {
        wheel.filename: f"/packages/{wheel.path}",
        sdist.filename: f"/packages/{sdist.path}",
    }

    download = client.get(urls[wheel.filename])
    assert download.status_code == 200
    assert body(download) == wheel_dist.content
    assert download["Content-Length"] == str(len(wheel_dist.content))
    assert download["ETag"] == f'"{wheel_dist.sha256}"'

    assert body(client.get(urls[sdist.filename])) == sdist_dist.content

    metadata = client.get(f"{urls[wheel.filename]}.metadata")
    assert body(metadata) == wheel_dist.metadata.encode()
    assert metadata["Content-Length"] == str(len(wheel_dist.metadata.encode()))


def test_head_metadata_from_s3(client, project, s3_files):
    dist = make_wheel()
    wheel = add_file(project, dist)

    response = client.head(f"/packages/{wheel.path}.metadata")

    assert response.status_code == 200
    assert response["Content-Length"] == str(len(dist.metadata.encode()))


def test_row_without_object_in_s3_is_404(client, project, s3_files):
    wheel = add_file(project, make_wheel(), store=False)

    assert client.get(f"/packages/{wheel.path}").status_code == 404


def test_object_without_row_in_s3_is_404(client, db, s3_files):
    dist = make_wheel()
    path = f"aa/bb/{'c' * 60}/{dist.filename}"
    files_storage().save(path, ContentFile(dist.content))

    assert client.get(f"/packages/{path}").status_code == 404


# --- fsck against the bucket ------------------------------------------------------------


def fsck(*args: str) -> tuple[int, list[str]]:
    out = io.StringIO()
    try:
        call_command("fsck", *args, stdout=out)
    except CommandError as error:
        return error.returncode, [*out.getvalue().splitlines(), str(error)]
    return 0, out.getvalue().splitlines()


@pytest.fixture
def s3_files_under_a_prefix(settings, s3_files):
    """The same bucket, its objects under AWS_LOCATION "dists/"."""
    settings.STORAGES["files"]["OPTIONS"]["location"] = "dists"
    storages._storages.pop("files", None)
    return s3_files


@pytest.mark.parametrize("files", ["s3_files", "s3_files_under_a_prefix"])
def test_fsck_finds_and_repairs_orphans_in_the_bucket(request, project, files):
    s3, bucket = request.getfixturevalue(files)
    kept, lost, orphan = make_wheel(), make_sdist(), make_wheel("orphaned")
    kept_path = add_file(project, kept, with_metadata=True).path
    missing = add_file(project, lost, store=False).path
    orphan_path = f"aa/bb/{'c' * 60}/{orphan.filename}"
    files_storage().save(orphan_path, ContentFile(orphan.content))

    status, lines = fsck("--verify-digests", "--repair", "--grace-seconds", "0")

    assert status == 1
    assert lines == [
        f"missing object: {missing} (the row of {lost.filename} has no object)",
        f"orphan object: {orphan_path} ({len(orphan.content)} bytes, no row)",
        f"removed orphan object: {orphan_path}",
        "1 inconsistencies remain.",
    ]
    prefix = "dists/" if files == "s3_files_under_a_prefix" else ""
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {prefix + kept_path, prefix + metadata_path(kept_path)}


def test_a_big_upload_goes_to_the_bucket_in_parts(client, project, token, s3_files, settings):
    # boto3 sends a file over 8 MiB as a multipart upload, reading it a part
    # at a time (measured: 108 MiB peak for a 300 MiB file, as for 96 MiB).
    s3, bucket = s3_files
    settings.UPLOAD_MAX_BYTES = 64 * 1024 * 1024
    payload = os.urandom(20 * 1024 * 1024)
    dist = make_wheel("sample-project", "2.0", files={"sample_project/payload.bin": payload})

    response = post_upload(client, dist, token)

    assert response.status_code == 200, response.content
    head = s3.head_object(Bucket=bucket, Key=path_of(dist))
    assert head["ContentLength"] == len(dist.content)
    assert head["ETag"].strip('"').endswith("-3")  # three 8 MiB parts
    stored = s3.get_object(Bucket=bucket, Key=path_of(dist))["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == dist.sha256
