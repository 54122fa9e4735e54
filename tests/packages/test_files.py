"""/packages/...: distribution files and PEP 658 metadata files."""

import logging

import pytest
from django.core.files.base import ContentFile
from django.http import FileResponse
from django.utils.http import http_date

from packages.models import File
from packages.storage import file_path, files_storage, metadata_path
from packages.views import files
from tests.factories import make_sdist, make_wheel
from tests.packages.test_simple import UPLOADED, add_file

IMMUTABLE = "public, max-age=31536000, immutable"


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def dist():
    return make_wheel(requires_python=">=3.8")


@pytest.fixture
def wheel(project, dist) -> File:
    return add_file(project, dist)


def test_wheel_download(client, wheel, dist):
    response = client.get(f"/packages/{wheel.path}")

    assert response.status_code == 200
    assert body(response) == dist.content
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Length"] == str(len(dist.content))
    assert response["ETag"] == f'"{dist.sha256}"'
    assert response["Last-Modified"] == http_date(UPLOADED.timestamp())
    assert response["Cache-Control"] == IMMUTABLE
    assert "Content-Encoding" not in response


def test_download_streams_a_real_file(rf, wheel):
    # A file object with a descriptor lets gunicorn's wsgi.file_wrapper use
    # sendfile. (The test client rewraps the stream, so call the view itself.)
    response = files.serve(rf.get(f"/packages/{wheel.path}"), wheel.path)

    assert isinstance(response, FileResponse)
    assert response.file_to_stream.fileno() >= 0
    response.close()


def test_sdist_download_is_gzip_without_content_encoding(client, project):
    dist = make_sdist()
    sdist = add_file(project, dist)

    response = client.get(f"/packages/{sdist.path}")

    assert body(response) == dist.content
    assert response["Content-Type"] == "application/gzip"
    assert "Content-Encoding" not in response


def test_metadata_download(client, wheel, dist):
    response = client.get(f"/packages/{wheel.path}.metadata")

    assert response.status_code == 200
    assert body(response) == dist.metadata.encode()
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Length"] == str(len(dist.metadata.encode()))
    assert response["ETag"] == f'"{wheel.metadata_sha256_digest}"'
    assert response["Cache-Control"] == IMMUTABLE


def test_metadata_of_file_without_metadata_is_404(client, project):
    dist = make_wheel()
    wheel = add_file(project, dist, with_metadata=False)
    # Even an object stored under the name is not served without the row's digest.
    files_storage().save(metadata_path(wheel.path), ContentFile(dist.metadata.encode()))

    assert client.get(f"/packages/{wheel.path}.metadata").status_code == 404


def test_stored_object_without_row_is_404(client, db):
    dist = make_wheel()
    path = file_path(blake2_256_digest=dist.blake2_256, filename=dist.filename)
    files_storage().save(path, ContentFile(dist.content))
    files_storage().save(metadata_path(path), ContentFile(b"Metadata-Version: 2.1\n"))

    response = client.get(f"/packages/{path}")

    assert response.status_code == 404
    assert response.content == b"404 Not Found"
    assert client.get(f"/packages/{path}.metadata").status_code == 404


def test_row_without_stored_object_is_404(client, project, caplog):
    wheel = add_file(project, make_wheel(), store=False)

    with caplog.at_level(logging.ERROR, logger="packages.views.files"):
        response = client.get(f"/packages/{wheel.path}")

    assert response.status_code == 404
    assert wheel.path in caplog.text


def test_path_outside_the_layout_is_404(client, db):
    assert client.get("/packages/aa/bb/short/file.whl").status_code == 404


@pytest.mark.parametrize("suffix", ["", ".metadata"])
def test_if_none_match_not_modified(client, wheel, suffix):
    etag = client.get(f"/packages/{wheel.path}{suffix}")["ETag"]

    response = client.get(f"/packages/{wheel.path}{suffix}", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"] == IMMUTABLE


def test_if_modified_since_not_modified(client, wheel):
    # Browsers send back the Last-Modified they got, to the second.
    last_modified = client.get(f"/packages/{wheel.path}")["Last-Modified"]

    response = client.get(f"/packages/{wheel.path}", headers={"If-Modified-Since": last_modified})

    assert response.status_code == 304


def test_if_modified_since_earlier_downloads(client, wheel):
    response = client.get(
        f"/packages/{wheel.path}",
        headers={"If-Modified-Since": http_date(UPLOADED.timestamp() - 60)},
    )

    assert response.status_code == 200


def test_if_none_match_other_etag_downloads(client, wheel, dist):
    response = client.get(f"/packages/{wheel.path}", headers={"If-None-Match": '"other"'})

    assert response.status_code == 200
    assert body(response) == dist.content


def test_if_match_failure_is_412(client, wheel):
    response = client.get(f"/packages/{wheel.path}", headers={"If-Match": '"other"'})

    assert response.status_code == 412
    assert response["ETag"] == f'"{wheel.sha256_digest}"'


def test_head_file(client, wheel, dist):
    response = client.head(f"/packages/{wheel.path}")

    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Length"] == str(len(dist.content))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["ETag"] == f'"{dist.sha256}"'


def test_head_metadata(client, wheel, dist):
    response = client.head(f"/packages/{wheel.path}.metadata")

    assert response.status_code == 200
    assert response["Content-Length"] == str(len(dist.metadata.encode()))


def test_other_methods_not_allowed(client, wheel):
    response = client.post(f"/packages/{wheel.path}")

    assert response.status_code == 405


def test_simple_page_links_download(client, wheel, dist):
    # The href of the simple page, without its fragment, is the download.
    page = client.get("/simple/sample-project/").content.decode()
    href = page.split('href="', 1)[1].split("#", 1)[0]

    assert body(client.get(href)) == dist.content


# --- FILES_URL on another origin; downloads sandboxed (helper-F) --------------------


def test_download_is_sandboxed(client, wheel):
    response = client.get(f"/packages/{wheel.path}")

    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_files_on_another_origin_are_not_served_on_the_pages_host(client, settings, wheel):
    settings.FILES_URL = "https://files.example.com"

    response = client.get(f"/packages/{wheel.path}")
    head = client.head(f"/packages/{wheel.path}.metadata")

    assert response.status_code == 302
    assert response["Location"] == f"https://files.example.com/packages/{wheel.path}"
    assert head.status_code == 302
    assert head["Location"] == f"https://files.example.com/packages/{wheel.path}.metadata"


@pytest.mark.parametrize(
    "host", ["files.example.com", "FILES.example.com:443", "files.example.com:80"]
)
def test_files_host_itself_serves_them(client, settings, wheel, dist, host):
    # The same app answering to the FILES_URL name as well.
    settings.FILES_URL = "https://files.example.com"
    settings.ALLOWED_HOSTS = ["files.example.com", "testserver"]

    response = client.get(f"/packages/{wheel.path}", HTTP_HOST=host)

    assert response.status_code == 200
    assert body(response) == dist.content


def test_files_host_with_a_port(client, settings, wheel):
    settings.FILES_URL = "http://127.0.0.1:9000"
    settings.ALLOWED_HOSTS = ["127.0.0.1"]

    assert client.get(f"/packages/{wheel.path}", HTTP_HOST="127.0.0.1:9000").status_code == 200
    assert client.get(f"/packages/{wheel.path}", HTTP_HOST="127.0.0.1:8000").status_code == 302


def test_fast_path_leaves_files_on_another_origin_to_django(settings, wheel):
    from pypi_site.fastpath import file_answer

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": f"/packages/{wheel.path}",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.url_scheme": "http",
    }
    served = file_answer(environ)
    served[1].close()
    settings.FILES_URL = "https://files.example.com"

    assert file_answer(environ) is None
