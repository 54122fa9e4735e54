"""The S3 bucket: file links that agree with where the objects are, a check
that it exists (health, uploads) and the command that creates it. Against a
real S3-compatible server (moto_server, as tests/packages/test_storage_s3.py)."""

import io
import json
import urllib.request
import uuid

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError

from packages.models import File
from packages.storage import files_storage, store_file
from tests.factories import make_wheel, post_upload
from tests.packages.test_simple import add_file
from tests.packages.test_storage_s3 import REGION, _free_port, s3_endpoint  # noqa: F401
from tests.pypi_site.test_settings import load

JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def s3_settings(settings, monkeypatch, tmp_path, s3_endpoint):  # noqa: F811
    """Point the "files" storage and FILES_URL at a new bucket as settings.py
    builds them from these variables; the bucket is not created."""

    def configure(endpoint=s3_endpoint, **env):
        bucket = f"files-{uuid.uuid4().hex[:12]}"
        built = load(
            monkeypatch,
            tmp_path,
            FILES_STORAGE="s3",
            AWS_STORAGE_BUCKET_NAME=bucket,
            AWS_S3_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_S3_REGION_NAME=env.pop("AWS_S3_REGION_NAME", REGION),
            **env,
        )
        settings.STORAGES = {**settings.STORAGES, "files": built.STORAGES["files"]}
        settings.FILES_URL = built.FILES_URL
        storages._storages.pop("files", None)
        return bucket

    yield configure
    storages._storages.pop("files", None)


def public_read(bucket: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read()


@pytest.mark.parametrize(
    "location, prefix",
    [(None, "packages/"), ("dists", "dists/"), ("", "")],
)
def test_files_url_at_the_bucket_gives_links_that_work(
    client,
    project,
    s3_settings,
    s3_endpoint,  # noqa: F811
    location,
    prefix,
):
    env = {} if location is None else {"AWS_LOCATION": location}
    bucket = s3_settings(FILES_URL=f"{s3_endpoint}/BUCKET/", **env)
    # FILES_URL is the bucket's own URL (path-style on this server).
    from django.conf import settings

    settings.FILES_URL = settings.FILES_URL.replace("BUCKET", bucket)
    call_command("create_bucket", stdout=io.StringIO())
    # Files on the bucket's URL: the bucket is readable by anyone, as the README says.
    files_storage().connection.meta.client.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps(public_read(bucket))
    )
    dist = make_wheel()
    wheel = add_file(project, dist)

    page = json.loads(client.get("/simple/sample-project/", headers={"Accept": JSON}).content)
    url = page["files"][0]["url"]

    assert url == f"{s3_endpoint}/{bucket}/{prefix}{wheel.path}"
    assert fetch(url) == dist.content
    assert fetch(f"{url}.metadata") == dist.metadata.encode()


def test_files_on_disk_are_linked_under_packages(client, project, settings):
    settings.FILES_URL = "https://files.example.org"
    wheel = add_file(project, make_wheel())
    page = json.loads(client.get("/simple/sample-project/", headers={"Accept": JSON}).content)
    assert page["files"][0]["url"] == f"https://files.example.org/packages/{wheel.path}"


def test_health_names_a_missing_bucket(client, db, s3_settings):
    bucket = s3_settings()
    response = client.get("/_health/")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"] == (
        f"error: The file store's bucket {bucket!r} does not exist; "
        "create it with `manage.py create_bucket`."
    )


def test_health_names_a_store_that_does_not_answer(client, db, s3_settings):
    s3_settings(endpoint=f"http://127.0.0.1:{_free_port()}")
    response = client.get("/_health/")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"].startswith(
        "error: The file store does not answer: Could not connect to the endpoint URL"
    )


def test_upload_to_a_missing_bucket_is_a_503_with_the_reason(client, token, s3_settings):
    bucket = s3_settings()
    response = post_upload(client, make_wheel(), token)
    assert response.status_code == 503
    message = (
        f"Uploads are unavailable: The file store's bucket {bucket!r} does not exist; "
        "create it with `manage.py create_bucket`."
    )
    assert message in response.content.decode()
    assert response["Content-Type"].startswith("text/plain")
    assert not File.objects.exists()


def test_create_bucket_creates_it_once_then_uploads_and_health_work(client, token, s3_settings):
    bucket = s3_settings()
    first, second = io.StringIO(), io.StringIO()

    call_command("create_bucket", stdout=first)
    call_command("create_bucket", stdout=second)

    assert first.getvalue() == f"Created the bucket {bucket!r}.\n"
    assert second.getvalue() == "The bucket exists already.\n"
    assert client.get("/_health/").status_code == 200
    assert post_upload(client, make_wheel(), token).status_code == 200


def test_create_bucket_in_another_region(db, s3_settings):
    bucket = s3_settings(AWS_S3_REGION_NAME="eu-west-1")
    call_command("create_bucket", stdout=io.StringIO())
    s3 = files_storage().connection.meta.client
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eu-west-1"


def test_create_bucket_without_s3_says_there_is_none():
    with pytest.raises(CommandError, match="FILES_STORAGE is not s3: there is no bucket"):
        call_command("create_bucket")


def test_a_failed_write_to_an_existing_bucket_keeps_its_own_error(db, s3_settings, tmp_path):
    s3_settings()
    call_command("create_bucket", stdout=io.StringIO())
    with pytest.raises(FileNotFoundError):
        store_file("aa/bb/cc/x.whl", str(tmp_path / "no-such-upload"))
