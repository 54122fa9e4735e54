"""/packages/<python_version>/<letter>/<name>/<filename>: old file URLs redirect
to where the file is, by the public index's URL-translation rules."""

import pytest

from packages.storage import file_url
from tests.factories import add_file, make_release, make_sdist, make_wheel

pytestmark = pytest.mark.django_db


@pytest.fixture
def files(project):
    release = make_release(project, "1.0")
    return {
        "sdist": add_file(release, make_sdist(version="1.0")),
        "wheel": add_file(release, make_wheel(version="1.0")),
    }


def assert_redirects_to(response, file):
    assert response.status_code == 302
    assert response["Location"] == file_url(file.path)
    assert response["Cache-Control"] == "max-age=604800, public"


@pytest.mark.parametrize(
    "url",
    [
        "/packages/source/s/sample-project/sample_project-1.0.tar.gz",
        "/packages/source/S/Sample.Project/sample_project-1.0.tar.gz",
        "/packages/source/s/Sample.Project/sample_project-1.0.tar.gz",
        # The normalized filename, as the public index also accepts it.
        "/packages/source/s/sample_project/sample-project-1.tar.gz",
    ],
)
def test_sdist_urls_redirect(client, files, url):
    assert_redirects_to(client.get(url), files["sdist"])


@pytest.mark.parametrize(
    "url",
    [
        "/packages/py3/s/sample-project/sample_project-1.0-py3-none-any.whl",
        "/packages/py3/s/sample-project/sample-project-1-py3-none-any.whl",
    ],
)
def test_wheel_urls_redirect(client, files, url):
    assert_redirects_to(client.get(url), files["wheel"])


def test_head_redirects_too(client, files):
    response = client.head("/packages/source/s/sample-project/sample_project-1.0.tar.gz")
    assert_redirects_to(response, files["sdist"])


def test_redirect_to_an_absolute_files_url(client, files, settings):
    settings.FILES_URL = "https://files.example.org"
    response = client.get("/packages/py3/s/sample-project/sample_project-1.0-py3-none-any.whl")
    assert response.status_code == 302
    assert response["Location"] == f"https://files.example.org/packages/{files['wheel'].path}"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # The letter must be the name's first character.
        ("/packages/source/x/sample-project/sample_project-1.0.tar.gz", "bucket"),
        # A wheel is not under "source", an sdist not under "py3".
        ("/packages/source/s/sample-project/sample_project-1.0-py3-none-any.whl", "no file"),
        ("/packages/py3/s/sample-project/sample_project-1.0.tar.gz", "no file"),
        ("/packages/source/s/sample-project/sample_project-2.0.tar.gz", "no file"),
        ("/packages/source/n/nothing-here/nothing_here-1.0.tar.gz", "no file"),
        # No signatures are kept.
        ("/packages/source/s/sample-project/sample_project-1.0.tar.gz.asc", "no file"),
        # Another project's file is not found under this one's name.
        ("/packages/source/o/other/sample_project-1.0.tar.gz", "no file"),
    ],
)
def test_not_found(client, files, url, reason):
    response = client.get(url)
    assert response.status_code == 404
    assert reason in response.content.decode()


def test_post_is_not_allowed(client, files):
    response = client.post("/packages/source/s/sample-project/sample_project-1.0.tar.gz")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("stored", "normalized", "python_version"),
    [
        # Build tag kept, name and version normalized.
        (
            "Sample.Project-1.0.0-2-py3-none-any.whl",
            "sample-project-1-2-py3-none-any.whl",
            "py3",
        ),
        ("Sample.Project-1.0.zip", "sample-project-1.zip", "source"),
    ],
)
def test_normalized_filenames(client, project, stored, normalized, python_version):
    release = make_release(project, "1.0")
    dist = (make_wheel if stored.endswith(".whl") else make_sdist)(version="1.0", filename=stored)
    file = add_file(release, dist)
    base = f"/packages/{python_version}/s/sample-project/"
    assert_redirects_to(client.get(base + normalized), file)
    assert_redirects_to(client.get(base + stored), file)


@pytest.mark.parametrize("stored", ["not-a-wheel.whl", "odd.tar.gz", "sample_project-1.0.egg"])
def test_unparseable_filenames_match_only_as_they_are(client, project, stored):
    release = make_release(project, "1.0")
    dist = (make_wheel if stored.endswith(".whl") else make_sdist)(version="1.0", filename=stored)
    file = add_file(release, dist)
    python_version = "py3" if stored.endswith(".whl") else "source"
    assert_redirects_to(client.get(f"/packages/{python_version}/s/sample-project/{stored}"), file)
    assert client.get("/packages/py3/s/sample-project/other.whl").status_code == 404
