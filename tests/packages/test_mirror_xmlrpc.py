"""XML-RPC and the journal with a pull-through mirror (packages.xmlrpc,
packages.mirrored): what lists projects and changes stays local, so a mirror of
this index copies this index and not the upstream through it; a mirrored name's
releases and files are answered from the rows held here, never by a fetch."""

import xmlrpc.client

import pytest

from packages import mirror
from packages.models import JournalEntry, Project, UpstreamProject
from tests.factories import add_file, make_release, make_sdist
from tests.packages.mirror_rows import demo_project, mirror_on, upstream_file, upstream_project
from tests.upstream_server import StaticIndex, dist

pytestmark = pytest.mark.django_db

BASE = "http://testserver"


def call(client, method: str, *params):
    body = xmlrpc.client.dumps(params, method, allow_none=True).encode()
    response = client.post("/pypi", body, content_type="text/xml")
    assert response.status_code == 200
    (result,), _method = xmlrpc.client.loads(response.content)
    return result


@pytest.fixture
def demo(settings):
    mirror_on(settings)
    return demo_project()


@pytest.fixture
def local(owner):
    project = Project.objects.create(name="Ours", normalized_name="ours")
    add_file(make_release(project, "1.0"), make_sdist("Ours", "1.0"))
    return project


# --- What stays local ----------------------------------------------------------------------


def test_the_project_lists_name_local_projects_only(client, demo, local):
    assert call(client, "package_releases", "demo") == ["2.0"]  # mirrored here
    assert call(client, "list_packages") == ["Ours"]
    assert list(call(client, "list_packages_with_serial")) == ["Ours"]
    assert call(client, "updated_releases", 0) == [["Ours", "1.0"]]


def test_fetching_from_the_upstream_leaves_the_journal_alone(client, settings, local):
    with StaticIndex() as upstream:
        mirror_on(settings, upstream.simple_url)
        upstream.publish("fetched", [dist("fetched-1.0.tar.gz", b"sdist")])
        upstream.publish("viewed", [dist("viewed-1.0.tar.gz", b"another sdist")])
        before = call(client, "changelog_last_serial")
        entries = JournalEntry.objects.count()

        assert mirror.refresh("fetched").exists
        # The project page and the JSON API fetch a name never asked for too.
        assert client.get("/pypi/viewed/json").status_code == 200

    assert JournalEntry.objects.count() == entries
    assert call(client, "changelog_last_serial") == before
    names = {row[0] for row in call(client, "changelog_since_serial", 0)}
    assert names == {"Ours"}
    assert call(client, "list_packages") == ["Ours"]


# --- A mirrored name's releases and files --------------------------------------------------


def test_package_releases_of_a_mirrored_name(client, demo):
    # The latest: neither yanked (1.1) nor a pre-release (2.1rc1).
    assert call(client, "package_releases", "demo") == ["2.0"]
    assert call(client, "package_releases", "Demo", True) == ["2.1rc1", "2.0", "1.1", "1.0"]


def test_package_releases_falls_back_to_a_pre_release_then_to_nothing(client, settings):
    mirror_on(settings)
    project = upstream_project("early")
    upstream_file(project, "early-1.0.tar.gz", yanked=True)
    upstream_file(project, "early-2.0b1.tar.gz")

    assert call(client, "package_releases", "early") == ["2.0b1"]

    project.files.update(yanked=True)
    assert call(client, "package_releases", "early") == []
    assert call(client, "package_releases", "early", True) == ["2.0b1", "1.0"]


def test_release_urls_of_a_mirrored_version(client, demo):
    file = demo.files.get(filename="demo-1.1.tar.gz")

    urls = call(client, "release_urls", "demo", "1.1.0")

    uploaded = "2024-03-01T12:30:45.123456Z"
    assert urls == [
        {
            "filename": "demo-1.1.tar.gz",
            "packagetype": "sdist",
            "python_version": "source",
            "size": file.size,
            "md5_digest": "",
            "sha256_digest": file.sha256_digest,
            "digests": {"md5": "", "sha256": file.sha256_digest, "blake2b_256": ""},
            "has_sig": False,
            "upload_time": uploaded,
            "upload_time_iso_8601": uploaded,
            "comment_text": "",
            "downloads": -1,
            "path": "",
            "url": BASE + mirror.mirror_file_url(file),
            "requires_python": None,
            "yanked": True,
            "yanked_reason": "Broken build",
        }
    ]
    wheels = call(client, "release_urls", "demo", "1.0")
    assert [(row["packagetype"], row["python_version"]) for row in wheels] == [
        ("bdist_wheel", "py3"),
        ("sdist", "source"),
    ]
    assert wheels[0]["requires_python"] == ">=3.8"


def test_a_size_the_upstream_left_out_is_nil(client, demo):
    upstream_file(demo, "demo-3.0.tar.gz", size=None)

    (row,) = call(client, "release_urls", "demo", "3.0")

    assert row["size"] is None


@pytest.mark.parametrize("version", ["9.9", "not a version", "1" * 5000])
def test_release_urls_of_an_unknown_version_is_empty(client, demo, version):
    assert len(call(client, "release_urls", "demo", "2.0")) == 2
    assert call(client, "release_urls", "demo", version) == []


def test_release_data_of_a_mirrored_name_is_empty(client, demo):
    # No core metadata is held for it (the JSON API says the same with its nulls).
    assert call(client, "package_releases", "demo") == ["2.0"]
    assert call(client, "release_data", "demo", "2.0") == {}
    assert call(client, "package_roles", "demo") == []


def test_a_local_name_answers_from_the_local_project_only(client, settings, owner):
    mirror_on(settings)
    upstream = upstream_project("ours")
    upstream_file(upstream, "ours-99.0.tar.gz")
    assert call(client, "package_releases", "ours", True) == ["99.0"]

    project = Project.objects.create(name="Ours", normalized_name="ours")
    add_file(make_release(project, "1.0"), make_sdist("Ours", "1.0"))

    assert call(client, "package_releases", "ours", True) == ["1.0"]
    assert call(client, "release_urls", "ours", "99.0") == []


def test_nothing_is_fetched_for_an_xmlrpc_call(client, settings):
    with StaticIndex() as upstream:
        mirror_on(settings, upstream.simple_url)
        upstream.publish("never-asked", [dist("never_asked-1.0.tar.gz", b"sdist")])

        assert call(client, "package_releases", "never-asked") == []
        assert call(client, "release_urls", "never-asked", "1.0") == []

        assert upstream.requests == []
        assert not UpstreamProject.objects.exists()
        # Once something else fetched it, the rows held answer.
        assert client.get("/project/never-asked/").status_code == 200
        assert call(client, "package_releases", "never-asked") == ["1.0"]
