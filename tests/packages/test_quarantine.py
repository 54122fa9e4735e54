"""A quarantined project vanishes from every public surface and API, its files
are not served and uploads to it are refused; released from quarantine, it is
back everywhere at once. A removed project vanishes the same way. PEP 792: its
simple page and project page still answer, saying it is quarantined and
offering no file (tests/packages/test_simple_status.py), so those surfaces
count it as shown only when they offer its file.

Each surface is checked for a project that stays visible too, so a surface that
went blank for everyone would fail here as well.
"""

import xmlrpc.client
from dataclasses import dataclass

import pytest
from django.db import connection
from django.utils import timezone

from accounts.events import Actor
from accounts.tokens import api_token_create
from moderation.services import project_quarantine, project_unquarantine
from packages import pages
from packages import search as search_module
from packages import upload as upload_module
from packages.models import File, Project, Release, SearchDocument
from packages.services import project_delete
from packages.storage import files_storage, metadata_path
from pypi_site.fastpath import cached_simple_answer, file_answer
from tests.conftest import give_two_factor
from tests.factories import Dist, make_wheel, post_upload

pytestmark = pytest.mark.django_db

JSON = "application/vnd.pypi.simple.v1+json"
DJANGO = "Framework :: Django"


@dataclass(frozen=True)
class Target:
    """One published project, as the surfaces are asked about it."""

    name: str
    normalized: str
    path: str  # its wheel's storage path

    @property
    def link(self) -> str:
        return f"/project/{self.normalized}/"


def wheel(name: str, version: str = "1.0", summary: str = "Zebrafish toolkit") -> Dist:
    return make_wheel(name, version, summary=summary, extra_headers=(("Classifier", DJANGO),))


@pytest.fixture
def secret(owner):
    return api_token_create(user=owner).secret


@pytest.fixture
def published(client, project, secret, django_capture_on_commit_callbacks):
    """Sample.Project 1.0 (with its PEP 658 metadata), uploaded through /legacy/
    and indexed for search (after the commit)."""
    with django_capture_on_commit_callbacks(execute=True):
        assert post_upload(client, wheel("Sample.Project"), secret).status_code == 200
    return Target("Sample.Project", "sample-project", File.objects.get().path)


@pytest.fixture
def bystander(client, published, secret, django_capture_on_commit_callbacks):
    """Another of olivia's projects, which nothing here hides."""
    with django_capture_on_commit_callbacks(execute=True):
        assert post_upload(
            client, wheel("other-project", summary="Zebrafish helpers"), secret
        ).status_code
    return Target(
        "other-project",
        "other-project",
        File.objects.get(release__project__normalized_name="other-project").path,
    )


@pytest.fixture
def quarantine(published, moderator, django_capture_on_commit_callbacks):
    """Quarantine Sample.Project, running the after-commit purges as a commit would."""

    def act() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            project_quarantine(
                project=Project.objects.get(normalized_name=published.normalized),
                actor=Actor(user=moderator),
                reason="Steals credentials (report #1).",
            )

    return act


@pytest.fixture
def release(published, moderator, django_capture_on_commit_callbacks):
    def act() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            project_unquarantine(
                project=Project.objects.get(normalized_name=published.normalized),
                actor=Actor(user=moderator),
                reason="False alarm: the report was mistaken.",
            )

    return act


@pytest.fixture
def remove(published, moderator, django_capture_on_commit_callbacks):
    def act() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            project_delete(
                project=Project.objects.get(normalized_name=published.normalized),
                actor=Actor(moderator),
            )

    return act


# --- The surfaces ------------------------------------------------------------------------


def found(response) -> bool:
    """Whether an answer shows the thing asked for: a page or a redirect to it,
    as opposed to a 404 (anything else is a failure of its own)."""
    assert response.status_code in (200, 301, 302, 404), response.status_code
    return response.status_code != 404


def offers(response, target: Target) -> bool:
    """Whether a page offers the target's file. PEP 792: a quarantined
    project's simple page and project page answer (200, saying so) without it."""
    return found(response) and target.path in response.content.decode()


def listed(response, target: Target) -> bool:
    assert response.status_code == 200
    return target.link in response.content.decode()


def rpc(client, method: str, *params):
    body = xmlrpc.client.dumps(params, method)
    response = client.post("/pypi", body, content_type="text/xml")
    ((result,), _method) = xmlrpc.client.loads(response.content)
    return result


SURFACES = {
    "simple index HTML": lambda c, t: (
        f"/simple/{t.normalized}/" in c.get("/simple/").content.decode()
    ),
    "simple index JSON": lambda c, t: (
        t.name in [p["name"] for p in c.get("/simple/", HTTP_ACCEPT=JSON).json()["projects"]]
    ),
    "simple page HTML": lambda c, t: offers(c.get(f"/simple/{t.normalized}/"), t),
    "simple page JSON": lambda c, t: offers(c.get(f"/simple/{t.normalized}/", HTTP_ACCEPT=JSON), t),
    "simple page, other spelling": lambda c, t: offers(c.get(f"/simple/{t.name}/", follow=True), t),
    "file": lambda c, t: found(c.get(f"/packages/{t.path}")),
    "file HEAD": lambda c, t: found(c.head(f"/packages/{t.path}")),
    "metadata file": lambda c, t: found(c.get(f"/packages/{metadata_path(t.path)}")),
    "JSON API project": lambda c, t: found(c.get(f"/pypi/{t.normalized}/json")),
    "JSON API release": lambda c, t: found(c.get(f"/pypi/{t.normalized}/1.0/json")),
    "project page": lambda c, t: offers(c.get(t.link), t),
    "release page": lambda c, t: found(c.get(f"{t.link}1.0/")),
    "legacy project URL": lambda c, t: found(c.get(f"/pypi/{t.normalized}/")),
    "legacy release URL": lambda c, t: found(c.get(f"/pypi/{t.normalized}/1.0/")),
    "user profile": lambda c, t: listed(c.get("/user/olivia/"), t),
    "home page": lambda c, t: listed(c.get("/"), t),
    "home: newest projects": lambda c, t: (
        t.normalized in [p.normalized_name for p in pages.newest_projects()]
    ),
    "home: latest releases": lambda c, t: (
        t.normalized in [r.project.normalized_name for r in pages.latest_releases()]
    ),
    "search": lambda c, t: listed(c.get("/search/", {"q": "zebrafish"}), t),
    "search by name": lambda c, t: listed(c.get("/search/", {"q": t.normalized}), t),
    "search by date": lambda c, t: listed(
        c.get("/search/", {"q": "zebrafish", "order": "date"}), t
    ),
    "search by classifier": lambda c, t: listed(c.get("/search/", {"c": DJANGO}), t),
    "search suggestions": lambda c, t: (
        t.name
        in [
            s["name"]
            for s in c.get("/search/suggest/", {"q": t.normalized[:3]}).json()["suggestions"]
        ]
    ),
    "RSS latest releases": lambda c, t: (
        f"{t.link}1.0/" in c.get("/rss/updates.xml").content.decode()
    ),
    "XML-RPC list_packages": lambda c, t: t.name in rpc(c, "list_packages"),
    "XML-RPC list_packages_with_serial": lambda c, t: t.name in rpc(c, "list_packages_with_serial"),
    "XML-RPC package_releases": lambda c, t: rpc(c, "package_releases", t.name) == ["1.0"],
    "XML-RPC release_urls": lambda c, t: bool(rpc(c, "release_urls", t.name, "1.0")),
    "XML-RPC release_data": lambda c, t: bool(rpc(c, "release_data", t.name, "1.0")),
    "XML-RPC package_roles": lambda c, t: bool(rpc(c, "package_roles", t.name)),
    "XML-RPC user_packages": lambda c, t: (
        t.name in [name for _role, name in rpc(c, "user_packages", "olivia")]
    ),
    "XML-RPC updated_releases": lambda c, t: [t.name, "1.0"] in rpc(c, "updated_releases", 0),
    "legacy file URL": lambda c, t: found(
        c.get(f"/packages/py3/{t.name[0]}/{t.name}/{t.path.rsplit('/', 1)[1]}")
    ),
    "RSS newest projects": lambda c, t: t.link in c.get("/rss/packages.xml").content.decode(),
    "RSS project feed": lambda c, t: found(c.get(f"/rss/project/{t.normalized}/releases.xml")),
    "RSS project feed, other spelling": lambda c, t: found(
        c.get(f"/rss/project/{t.name}/releases.xml")
    ),
}


@pytest.mark.parametrize("surface", SURFACES)
def test_quarantine_hides_the_project_and_release_brings_it_back(
    client, published, bystander, quarantine, release, surface
):
    shows = SURFACES[surface]
    # Asked before and after each change: a page cached in one state must not
    # be served in the other.
    assert shows(client, published)
    assert shows(client, bystander)
    quarantine()
    assert not shows(client, published)
    assert shows(client, bystander)
    release()
    assert shows(client, published)
    assert shows(client, bystander)


@pytest.mark.parametrize("surface", SURFACES)
def test_a_removed_project_vanishes(client, published, bystander, remove, surface):
    shows = SURFACES[surface]
    assert shows(client, published)
    remove()
    assert not shows(client, published)
    assert shows(client, bystander)


# --- The WSGI fast path ------------------------------------------------------------------


def environ(path: str, **extra) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.url_scheme": "http",
        **extra,
    }


def test_cached_simple_pages_stop_being_served_at_quarantine(
    client, published, quarantine, release
):
    for accept in ({}, {"HTTP_ACCEPT": JSON}):
        client.get("/simple/sample-project/", **accept)  # rendered and cached
        client.get("/simple/", **accept)
        assert cached_simple_answer(environ("/simple/sample-project/", **accept)) is not None
        assert b"Sample.Project" in cached_simple_answer(environ("/simple/", **accept))[1]
    quarantine()
    for accept in ({}, {"HTTP_ACCEPT": JSON}):
        assert cached_simple_answer(environ("/simple/sample-project/", **accept)) is None
        assert cached_simple_answer(environ("/simple/", **accept)) is None
    for accept in ({}, {"HTTP_ACCEPT": JSON}):
        # PEP 792: the page answers, with the quarantined status and no file.
        response = client.get("/simple/sample-project/", **accept)
        assert response.status_code == 200
        assert b"quarantined" in response.content
        assert b"sample_project-1.0" not in response.content
        client.get("/simple/", **accept)
        # The index is cached again, without the project; so is the project's
        # page, as it now is.
        assert b"Sample.Project" not in cached_simple_answer(environ("/simple/", **accept))[1]
        cached = cached_simple_answer(environ("/simple/sample-project/", **accept))[1]
        assert b"quarantined" in cached
        assert b"sample_project-1.0" not in cached
    release()
    assert cached_simple_answer(environ("/simple/")) is None
    assert cached_simple_answer(environ("/simple/sample-project/")) is None
    client.get("/simple/")
    client.get("/simple/sample-project/")
    assert b"Sample.Project" in cached_simple_answer(environ("/simple/"))[1]
    assert b"sample_project-1.0" in cached_simple_answer(environ("/simple/sample-project/"))[1]


def fast_download(path: str) -> bool:
    answer = file_answer(environ(f"/packages/{path}"))
    if answer is None:
        return False
    answer[1].close()
    return True


def test_the_fast_path_serves_no_file_of_a_quarantined_project(published, quarantine, release):
    wheel_path, meta_path = published.path, metadata_path(published.path)
    assert fast_download(wheel_path)
    assert fast_download(meta_path)
    quarantine()
    assert not fast_download(wheel_path)
    assert not fast_download(meta_path)
    # Still stored: a release from quarantine serves them again.
    assert files_storage().exists(wheel_path)
    release()
    assert fast_download(wheel_path)
    assert fast_download(meta_path)


# --- Uploads -----------------------------------------------------------------------------


def assert_refused(response, status: int, message: str) -> None:
    assert response.status_code == status, response.content
    assert message in response.reason_phrase
    assert message in response.content.decode()


def test_upload_to_a_quarantined_project_is_refused_and_says_why(
    client, published, secret, quarantine, release
):
    quarantine()
    dist = wheel("Sample.Project", "2.0")
    response = post_upload(client, dist, secret)
    assert_refused(response, 403, "Project 'Sample.Project' is quarantined")
    assert "/manage/project/sample-project/" in response.reason_phrase
    assert "/help/#quarantine" in response.reason_phrase
    assert not Release.objects.filter(version="2.0").exists()
    assert list(File.objects.values_list("filename", flat=True)) == [published.path.split("/")[-1]]
    # An identical re-upload of an existing file is refused too, not "already stored".
    response = post_upload(client, wheel("Sample.Project"), secret)
    assert_refused(response, 403, "is quarantined")
    release()
    assert post_upload(client, dist, secret).status_code == 200
    assert Release.objects.filter(version="2.0").exists()


def test_an_outsider_is_not_told_of_the_quarantine(client, published, outsider, quarantine):
    quarantine()
    secret = api_token_create(user=outsider).secret
    response = post_upload(client, wheel("Sample.Project", "2.0"), secret)
    assert_refused(response, 403, "The user 'oscar' isn't allowed to upload")
    assert "quarantine" not in response.content.decode()


def test_a_quarantine_during_the_upload_is_caught_under_the_lock(
    client, published, secret, monkeypatch
):
    check_duplicate = upload_module.check_duplicate

    def quarantined_meanwhile(upload):
        # A moderator acts after the permission check, before the commit.
        Project.objects.filter(pk=upload.project.pk).update(
            quarantined_at=timezone.now(), quarantine_reason="Malware."
        )
        return check_duplicate(upload)

    monkeypatch.setattr(upload_module, "check_duplicate", quarantined_meanwhile)
    dist = wheel("Sample.Project", "2.0")
    response = post_upload(client, dist, secret)
    assert_refused(response, 403, "Project 'Sample.Project' is quarantined")
    assert not File.objects.filter(filename=dist.filename).exists()
    assert not any(name.endswith(dist.filename) for name in _stored_names(files_storage())), (
        "the objects this upload stored must be deleted"
    )


def _stored_names(storage, folder: str = "") -> list[str]:
    dirs, names = storage.listdir(folder)
    found = [f"{folder}/{name}".lstrip("/") for name in names]
    for sub in dirs:
        found += _stored_names(storage, f"{folder}/{sub}".lstrip("/"))
    return found


# --- Selectors ---------------------------------------------------------------------------


@pytest.fixture(params=["native", "plain"])
def backend(request, monkeypatch):
    """Search through the database's own backend, and through the plain one."""
    if request.param == "plain":

        class PlainConnection:
            vendor = "sqlite"

        monkeypatch.setattr(search_module, "connection", PlainConnection())
    return request.param


def test_search_and_suggestions_leave_out_quarantined_projects(
    published, bystander, quarantine, release, backend
):
    def found_names(**kwargs) -> set[str]:
        return {doc.normalized_name for doc in search_module.search("zebrafish", **kwargs)}

    assert found_names() == found_names(order="date") == {"sample-project", "other-project"}
    quarantine()
    assert found_names() == found_names(order="date") == {"other-project"}
    assert [d.normalized_name for d in search_module.search("", classifiers=[DJANGO])] == [
        "other-project"
    ]
    assert search_module.suggest_names("sam") == []
    # The document is kept, for the release from quarantine.
    assert SearchDocument.objects.filter(normalized_name="sample-project").exists()
    release()
    assert found_names() == {"sample-project", "other-project"}
    assert search_module.suggest_names("sam") == ["Sample.Project"]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's trigram search of similar names"
)
def test_a_quarantined_name_is_nobodys_for_similar_names(
    client, published, secret, quarantine, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert post_upload(client, wheel("sample-projekt"), secret).status_code == 200
    projekt = Project.objects.get(normalized_name="sample-projekt").pk
    # A query that is a visible project's exact name looks for no similar names ...
    assert search_module._typo_ids("sample-project", "sample-project") == []
    quarantine()
    # ... but a quarantined project's name is nobody's: similar names are looked
    # for, and the search leaves out the quarantined project itself.
    assert projekt in search_module._typo_ids("sample-project", "sample-project")
    assert search_module.suggest_names("sample-projec", 5) == ["sample-projekt"]
    found = [doc.normalized_name for doc in search_module.search("sample-project")]
    assert found == ["sample-projekt"]


def test_site_counts_and_classifier_counts_leave_out_quarantined_projects(
    published, bystander, quarantine
):
    assert pages.site_counts()["projects"] == 2
    assert pages.classifiers_in_use()[0].classifiers[0]["count"] == 2
    quarantine()
    # Both are cached for a few minutes: a fresh count leaves the project out.
    pages.cache.clear()
    assert pages.site_counts()["projects"] == 1
    assert pages.classifiers_in_use()[0].classifiers[0]["count"] == 1


def test_the_owners_pages_can_still_find_a_quarantined_project(published, quarantine):
    quarantine()
    assert Project.objects.visible().by_name("Sample.Project") is None
    found = Project.objects.by_name("Sample.Project")
    assert found.normalized_name == "sample-project"
    assert found.quarantine_reason == "Steals credentials (report #1)."


def test_visible_is_the_projects_not_quarantined(published, bystander, quarantine):
    quarantine()
    assert list(Project.objects.visible().values_list("normalized_name", flat=True)) == [
        "other-project"
    ]
    assert Project.objects.count() == 2


def test_owners_see_why_on_the_management_pages(client, published, owner, quarantine):
    give_two_factor(owner)
    quarantine()
    client.force_login(owner)
    page = client.get("/manage/project/sample-project/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "This project is quarantined" in text
    assert "The moderators' reason (shown publicly): Steals credentials (report #1)." in text
    assert 'href="/help/#quarantine"' in text
    # The public page exists (PEP 792: it says the project is quarantined, and why).
    assert 'href="/project/sample-project/"' in text
    assert "its files are not served" in text
    listing = client.get("/manage/projects/").content.decode()
    assert "Quarantined</span>" in listing
