"""The web pages: home, project and release pages, redirects, profiles, help,
error pages and their cache headers (packages.pages, packages.views.pages)."""

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from django.urls import reverse
from django.views import defaults

from accounts.models import User
from packages import pages
from packages.models import Project, Release, Role
from packages.search import search_index_update
from packages.storage import file_url
from tests.factories import add_file, make_release, make_sdist, make_wheel

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


class _Page(HTMLParser):
    """What the accessibility rules and the assertions below look at."""

    def __init__(self, html: str):
        super().__init__()
        self.ids: list[str] = []
        self.headings: list[int] = []
        self.links: list[dict] = []
        self.assets: list[str] = []
        self.inputs: list[dict] = []
        self.labels_for: set[str] = set()
        self.landmarks: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "a":
            self.links.append(attrs)
        if tag == "link" and attrs.get("rel") == "stylesheet":
            self.assets.append(attrs["href"])
        if tag == "script" and "src" in attrs:
            self.assets.append(attrs["src"])
        if tag in ("input", "select") and attrs.get("type") != "hidden":
            self.inputs.append(attrs)
        if tag == "label" and "for" in attrs:
            self.labels_for.add(attrs["for"])
        if tag in ("header", "main", "footer", "nav", "aside"):
            self.landmarks.append(tag)

    def hrefs(self) -> list[str]:
        return [link.get("href", "") for link in self.links]


def parse(response) -> _Page:
    return _Page(response.content.decode())


def assert_well_formed(response) -> _Page:
    """The rules a browser audit checks first: one h1, headings that don't skip
    a level, unique ids, labelled inputs, the landmarks, assets of our own."""
    page = parse(response)
    assert page.headings.count(1) == 1, page.headings
    for previous, current in zip(page.headings, page.headings[1:], strict=False):
        assert current <= previous + 1, page.headings
    assert len(page.ids) == len(set(page.ids)), sorted(page.ids)
    assert all(field.get("id") in page.labels_for for field in page.inputs), page.inputs
    assert {"header", "main", "footer"} <= set(page.landmarks)
    assert all(asset.startswith("/static/") for asset in page.assets), page.assets
    return page


def release(project, version, *, days=0, **fields):
    made = make_release(project, version, **fields)
    Release.objects.filter(pk=made.pk).update(created_at=T0 + timedelta(days=days))
    made.refresh_from_db()
    return made


# --- Home ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_home_shows_counts_newest_projects_and_latest_releases(client, project, owner):
    old = release(project, "1.0", days=0, summary="Old summary")
    add_file(old, make_wheel("sample-project", "1.0"))
    add_file(old, make_sdist("sample-project", "1.0"))
    release(project, "2.0", days=5, summary="Newest <script>summary</script>")
    release(project, "2.1", days=6, yanked=True)
    release(project, "3.0a1", days=7, is_prerelease=True, summary="Preview")
    search_index_update(project)
    bare = Project.objects.create(name="Bare", normalized_name="bare")
    User.objects.create_user("gone", is_active=False)

    response = client.get("/")

    assert response.status_code == 200
    page = assert_well_formed(response)
    text = response.content.decode()
    assert re.search(r">2</span> projects", text)
    assert re.search(r">4</span> releases", text)
    assert re.search(r">2</span> files", text)
    assert re.search(r">2</span> users", text)  # the inactive account isn't counted
    assert "Newest &lt;script&gt;summary&lt;/script&gt;" in text
    assert "<script>summary" not in text
    newest = [p.normalized_name for p in response.context["newest_projects"]]
    assert newest == ["bare", "sample-project"]
    assert response.context["newest_projects"][0] == pages.ProjectSummary(
        name="Bare", normalized_name="bare", created_at=bare.created_at
    )
    releases = [r.version for r in response.context["latest_releases"]]
    assert releases == ["3.0a1", "2.0", "1.0"]  # the yanked 2.1 is left out
    assert "/project/sample-project/3.0a1/" in page.hrefs()
    assert 'badge--pre">pre-release' in text
    assert "/search/suggest/" in text


@pytest.mark.django_db
def test_home_counts_come_from_the_cache_between_refreshes(
    client, project, django_assert_num_queries
):
    client.get("/")
    Project.objects.create(name="Later", normalized_name="later")
    with django_assert_num_queries(2):  # the two lists; no COUNT(*)
        response = client.get("/")
    assert response.context["counts"]["projects"] == 1
    cache.delete(pages.COUNTS_CACHE_KEY)
    assert client.get("/").context["counts"]["projects"] == 2


@pytest.mark.django_db
def test_home_empty_index(client):
    response = client.get("/")
    text = response.content.decode()
    assert "No projects yet" in text
    assert "No releases yet" in text
    assert_well_formed(response)


# --- Project page: which release -------------------------------------------------------


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        # (version, is_prerelease, yanked)
        ([("1.0", False, False), ("2.0", False, False)], "2.0"),
        ([("1.0", False, False), ("2.0b1", True, False)], "1.0"),
        ([("1.0", False, False), ("2.0", False, True)], "1.0"),
        ([("1.0b1", True, False), ("1.0b2", True, False)], "1.0b2"),
        ([("1.0b1", True, False), ("1.0", False, True)], "1.0b1"),
        ([("1.0", False, True), ("2.0", False, True)], "2.0"),
        # PEP 440 order, not upload order: 1.10 is newer than 1.9.
        ([("1.10", False, False), ("1.9", False, False)], "1.10"),
    ],
)
@pytest.mark.django_db
def test_project_page_shows_the_latest_release(client, project, versions, expected):
    for days, (version, pre, yanked) in enumerate(versions):
        release(project, version, days=days, is_prerelease=pre, yanked=yanked)
    response = client.get("/project/sample-project/")
    assert response.status_code == 200
    assert response.context["release"].version == expected
    assert f'package-header__version">{expected}</span>' in response.content.decode()


@pytest.mark.parametrize(
    ("versions", "shown", "command"),
    [
        ([("1.0", False), ("2.0", False)], "2.0", "pip install Sample.Project"),
        ([("1.0", False), ("2.0", False)], "1.0", "pip install Sample.Project==1.0"),
        ([("1.0", False), ("2.0b1", True)], "2.0b1", "pip install Sample.Project==2.0b1"),
        # Only pre-releases: the latest is one, and pip needs the pin to take it.
        ([("2.0b1", True)], "2.0b1", "pip install Sample.Project==2.0b1"),
    ],
)
@pytest.mark.django_db
def test_install_command_pins_what_pip_would_not_pick(client, project, versions, shown, command):
    for days, (version, pre) in enumerate(versions):
        release(project, version, days=days, is_prerelease=pre)
    response = client.get(f"/project/sample-project/{shown}/")
    text = response.content.decode()
    assert f'data-copy-label="Copy the pip install command">{command}</code>' in text
    index = "http://testserver/simple/"
    requirement = command.removeprefix("pip install ")
    assert f"pip install --index-url {index} {requirement}</code>" in text
    assert f"uv pip install --index-url {index} {requirement}</code>" in text


@pytest.mark.django_db
def test_project_page_content(client, project, owner, maintainer):
    User.objects.filter(pk=maintainer.pk).update(is_active=False)
    latest = release(
        project,
        "1.0",
        summary="Does <b>things</b>",
        description_html='<p>Rendered <em>README</em></p><pre class="highlight">x</pre>',
        license_expression="MIT OR Apache-2.0",
        license="MIT License, the whole text",
        requires_python=">=3.9",
        author="Ann <script>alert(1)</script>",
        author_email="ann@example.com",
        maintainer="Mo",
        maintainer_email="mo@example.com",
        keywords="sample demo",
        classifiers=[
            "Programming Language :: Python :: 3",
            "Programming Language :: Python :: 3.12",
            "License :: OSI Approved :: MIT License",
            "Private",
        ],
        project_urls=[["Source", "https://example.com/src"], ["Bad", "javascript:alert(1)"]],
        home_page="https://example.com/",
        download_url="https://example.com/src",
    )
    wheel = add_file(latest, make_wheel("sample-project", "1.0"))
    sdist = add_file(latest, make_sdist("sample-project", "1.0"))

    response = client.get("/project/sample-project/")

    assert response.status_code == 200
    page = assert_well_formed(response)
    text = response.content.decode()
    assert "<title>Sample.Project · Package Index</title>" in text
    assert 'content="Does &lt;b&gt;things&lt;/b&gt;"' in text
    assert '<p class="package-header__summary">Does &lt;b&gt;things&lt;/b&gt;</p>' in text
    assert (
        '<div class="description"><p>Rendered <em>README</em></p><pre class="highlight">x</pre>'
        in text
    )
    assert "/static/css/highlight.css" in text
    assert '<a href="/project/sample-project/report/">Report this project</a>' in text
    # Files: the sdist first, each with its link, size, type, tag and both hashes.
    assert text.index(sdist.filename) < text.index(wheel.filename)
    for file in (sdist, wheel):
        assert file_url(file.path) in page.hrefs()
        assert f">{file.sha256_digest}</code>" in text
        assert f">{file.blake2_256_digest}</code>" in text
    assert '<td data-label="Type">Source</td>' in text
    assert '<td data-label="Type">Wheel</td>' in text
    assert '<td data-label="Python">py3</td>' in text
    assert '<td data-label="Python">source</td>' in text
    assert f'datetime="{wheel.upload_time.isoformat()}"' in text
    # Sidebar: the expression wins over the license text.
    assert '<code class="license-expression">MIT OR Apache-2.0</code>' in text
    assert "the whole text" not in text
    assert "<code>&gt;=3.9</code>" in text
    assert "Ann &lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script>alert" not in text
    assert "ann@example.com" in text
    assert "mo@example.com" in text
    assert "sample demo" in text
    assert '<h3 class="sidebar__subtitle">Programming Language</h3>' in text
    assert '<a href="/search/?c=Programming%20Language%20%3A%3A%20Python%20%3A%3A%203.12">' in text
    assert ">Python :: 3.12</a>" in text
    assert '<a href="/search/?c=Private">Private</a>' in text
    external = [link for link in page.links if link.get("rel") == "nofollow ugc"]
    assert [(link["href"]) for link in external] == [
        "https://example.com/src",
        "https://example.com/",
    ]
    assert "javascript:" not in text
    # Maintainers: active users only, linking their profiles.
    assert "/user/olivia/" in page.hrefs()
    assert "/user/max/" not in page.hrefs()
    assert reverse("simple-detail", args=["sample-project"]) in page.hrefs()
    assert reverse("rss-project-releases", args=["sample-project"]) in page.hrefs()
    assert 'badge--latest">latest version' in text


@pytest.mark.django_db
def test_release_history_marks_prereleases_and_yanked_with_reason(client, project):
    release(project, "1.0", days=0)
    release(project, "1.1", days=1, yanked=True, yanked_reason="Broken <import>")
    release(project, "1.2", days=2, yanked=True)
    release(project, "2.0rc1", days=3, is_prerelease=True)

    response = client.get("/project/sample-project/")

    text = response.content.decode()
    history = text[text.index('id="history"') :]
    versions = re.findall(r'class="release-list__version" href="[^"]+"[^>]*>([^<]+)<', history)
    assert versions == ["2.0rc1", "1.2", "1.1", "1.0"]
    assert history.count('badge--yanked">yanked') == 2
    assert history.count('badge--pre">pre-release') == 1
    assert "Yanked: Broken &lt;import&gt;" in history
    assert 'href="/project/sample-project/1.0/" aria-current="page"' in history
    assert 'datetime="2024-03-01T12:00:00+00:00"' in history


@pytest.mark.django_db
def test_yanked_release_page_says_so_with_its_reason(client, project):
    release(project, "1.0", days=0)
    release(project, "1.1", days=1, yanked=True, yanked_reason="Deletes files")
    release(project, "1.2", days=2, yanked=True)

    text = client.get("/project/sample-project/1.1/").content.decode()
    assert "This release has been yanked." in text
    assert "Reason given: Deletes files" in text
    assert "The version installed by default is" in text
    assert '<a href="/project/sample-project/1.0/">1.0</a>' in text

    text = client.get("/project/sample-project/1.2/").content.decode()
    assert "No reason was given." in text

    text = client.get("/project/sample-project/").content.decode()
    assert "This release has been yanked." not in text
    assert "The version installed by default is" not in text


@pytest.mark.django_db
def test_prerelease_page_says_so(client, project):
    release(project, "1.0", days=0)
    release(project, "2.0b1", days=1, is_prerelease=True)
    text = client.get("/project/sample-project/2.0b1/").content.decode()
    assert "This is a pre-release." in text
    assert 'badge--pre">pre-release' in text
    assert "badge--latest" not in text


@pytest.mark.django_db
def test_project_without_description_or_files(client, project):
    release(project, "1.0")
    text = client.get("/project/sample-project/").content.decode()
    assert "has not provided a description" in text
    assert "This release has no files." in text
    assert "Project links" not in text


@pytest.mark.django_db
def test_project_without_releases(client, project):
    response = client.get("/project/sample-project/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "This project has no releases." in text
    assert "pip install" not in text
    assert "Release history" not in text
    assert_well_formed(response)


@pytest.mark.django_db
def test_project_without_maintainers(client):
    project = Project.objects.create(name="orphan", normalized_name="orphan")
    release(project, "1.0")
    assert "None listed." in client.get("/project/orphan/").content.decode()


@pytest.mark.django_db
def test_maintainers_owners_first(client, project, outsider):
    Role.objects.create(project=project, user=outsider, role_name=Role.Name.OWNER)
    release(project, "1.0")
    response = client.get("/project/sample-project/")
    names = [role.user.username for role in response.context["page"].maintainers]
    assert names == ["olivia", "oscar", "max"]


@pytest.mark.django_db
def test_project_page_query_count_is_constant(client, project, django_assert_max_num_queries):
    for number in range(30):
        made = release(project, f"1.{number}", days=number)
        add_file(made, make_wheel("sample-project", f"1.{number}"))
        add_file(made, make_sdist("sample-project", f"1.{number}"))
    for username in ("a1", "a2", "a3"):
        user = User.objects.create_user(username)
        Role.objects.create(project=project, user=user, role_name=Role.Name.MAINTAINER)

    # One of them: the download figures (then cached for a few minutes); one
    # the namespace grant (packages.namespaces); one the advisories
    # (packages.advisories); one the provenance (packages.attestations).
    with django_assert_max_num_queries(9):
        response = client.get("/project/sample-project/")
    assert len(response.context["page"].history) == 30
    with django_assert_max_num_queries(10):
        response = client.get("/project/sample-project/1.3/")
    assert response.context["release"].version == "1.3"
    assert len(response.context["page"].files) == 2


# --- Sidebar rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"license_expression": " MIT ", "license": "BSD"}, pages.License("MIT", "", True)),
        ({"license": "BSD-3-Clause"}, pages.License("BSD-3-Clause")),
        (
            {"license": "MIT License\n\nPermission is hereby granted"},
            pages.License("MIT License", "MIT License\n\nPermission is hereby granted"),
        ),
        (
            {"license": "x" * 100},
            pages.License("x" * 79 + "…", "x" * 100),
        ),
        (
            {"classifiers": ["License :: OSI Approved :: MIT License", "License :: Other"]},
            pages.License("MIT License, Other"),
        ),
        ({"classifiers": ["Programming Language :: Python"]}, None),
    ],
)
def test_release_license(fields, expected):
    assert pages.release_license(Release(**fields)) == expected


@pytest.mark.django_db
def test_long_license_text_is_cut_with_the_full_text_folded(client, project):
    release(project, "1.0", license="Custom License\nLine two <b>")
    text = client.get("/project/sample-project/").content.decode()
    assert "<dd>\n          Custom License\n" in text
    assert '<summary>Full license text</summary>\n            <pre tabindex="0">' in text
    assert "Line two &lt;b&gt;" in text


def test_project_links_keep_web_urls_once_in_order():
    made = Release(
        project_urls=[
            ["Documentation", "https://docs.example.com"],
            ["", "https://example.com/unlabelled"],
            ["Tracker", "http://[::1"],  # not a URL: urlsplit refuses it
            ["Data", "data:text/html,hi"],
            ["Relative", "/somewhere"],
            "not a pair",
            ["too", "many", "items"],
            ["Docs again", "https://docs.example.com"],
        ],
        home_page=" https://example.com ",
        download_url="",
    )
    assert pages.project_links(made) == [
        pages.ProjectLink("Documentation", "https://docs.example.com"),
        pages.ProjectLink("https://example.com/unlabelled", "https://example.com/unlabelled"),
        pages.ProjectLink("Homepage", "https://example.com"),
    ]


def test_group_classifiers_keeps_the_order_given():
    groups = pages.group_classifiers(["Topic :: A", "Framework :: B", "Topic :: C", "Typing"])
    assert [(group.name, group.slug) for group in groups] == [
        ("Topic", "topic"),
        ("Framework", "framework"),
        ("Typing", "typing"),
    ]
    assert groups[0].classifiers == [
        {"name": "Topic :: A", "label": "A"},
        {"name": "Topic :: C", "label": "C"},
    ]
    assert groups[2].classifiers == [{"name": "Typing", "label": "Typing"}]


# --- Redirects and 404s ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/project/Sample.Project/", "/project/sample-project/"),
        ("/project/sample_project/", "/project/sample-project/"),
        ("/project/Sample.Project/1.0/", "/project/sample-project/1.0/"),
        # The stored spelling of the version (canonical match).
        ("/project/sample-project/1.0.0/", "/project/sample-project/1.0/"),
        ("/project/SAMPLE-project/1.0.0/", "/project/sample-project/1.0/"),
        ("/project/sample-project/v1.0/", "/project/sample-project/1.0/"),
        ("/pypi/sample-project/", "/project/sample-project/"),
        ("/pypi/Sample_Project/", "/project/sample-project/"),
        ("/pypi/Sample_Project/1.0/", "/project/sample-project/1.0/"),
        ("/pypi/sample-project/1.0.0/", "/project/sample-project/1.0/"),
    ],
)
@pytest.mark.django_db
def test_old_and_odd_urls_redirect_permanently(client, project, path, location):
    release(project, "1.0")
    response = client.get(path)
    assert response.status_code == 301
    assert response["Location"] == location
    assert client.get(location).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/project/nothing-here/",
        "/project/Nothing_Here/",  # would normalize, but there is nothing to find
        "/project/not a name!/",
        "/project/sample-project/9.9/",
        "/project/sample-project/not-a-version/",
        "/project/Sample.Project/9.9/",
        "/pypi/nothing-here/",
        "/pypi/nothing-here/1.0/",
        "/pypi/sample-project/9.9/",
        "/user/nobody/",
        "/user/retired/",  # inactive
    ],
)
@pytest.mark.django_db
def test_unknown_things_are_a_friendly_404(client, project, path):
    User.objects.create_user("retired", is_active=False)
    release(project, "1.0")
    response = client.get(path)
    assert response.status_code == 404
    assert "404.html" in [template.name for template in response.templates]
    page = assert_well_formed(response)
    assert "Page not found" in response.content.decode()
    assert "not-found-q" in page.labels_for
    assert "Cache-Control" not in response


@pytest.mark.django_db
def test_release_page_of_a_project_without_releases_is_404(client, project):
    assert client.get("/project/sample-project/1.0/").status_code == 404


@pytest.mark.parametrize(
    "path", ["/", "/project/sample-project/", "/pypi/sample-project/", "/help/", "/search/"]
)
@pytest.mark.django_db
def test_pages_refuse_writes(client, project, path):
    assert client.post(path).status_code == 405


# --- Profiles --------------------------------------------------------------------------


@pytest.mark.django_db
def test_user_profile_lists_projects_with_roles(client, project, owner, maintainer):
    owner.first_name = "Olivia"
    owner.last_name = "<i>Owner</i>"
    owner.save()
    release(project, "1.0", summary="Sample summary")
    search_index_update(project)
    other = Project.objects.create(name="Another", normalized_name="another")
    Role.objects.create(project=other, user=owner, role_name=Role.Name.MAINTAINER)

    response = client.get("/user/olivia/")

    assert response.status_code == 200
    assert_well_formed(response)
    text = response.content.decode()
    assert "Olivia &lt;i&gt;Owner&lt;/i&gt;" in text
    assert f'datetime="{owner.date_joined.isoformat()}"' in text
    assert "2 projects" in text
    summaries = response.context["profile"].projects
    assert [(s.name, s.role, s.version, s.summary) for s in summaries] == [
        ("Another", "Maintainer", "", ""),
        ("Sample.Project", "Owner", "1.0", "Sample summary"),
    ]
    assert 'href="/project/another/"' in text
    assert 'badge--role">Owner' in text


@pytest.mark.django_db
def test_user_profile_without_projects(client, outsider, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        response = client.get("/user/oscar/")
    assert "0 projects" in response.content.decode()
    assert "does not maintain any project yet" in response.content.decode()


# --- Help ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_help_has_the_anchors_error_messages_link_to(client, settings):
    # The same words as the upload's refusals (packages.upload.human_size).
    settings.UPLOAD_MAX_BYTES = 50 * 1024 * 1024
    settings.PROJECT_MAX_BYTES = 2_500_000_000
    response = client.get("/help/")
    assert response.status_code == 200
    page = assert_well_formed(response)
    for anchor in (
        "file-name-reuse",
        "file-size-limit",
        "project-size-limit",
        "project-name",
        "classifiers",
        "yanked",
        "apitoken",
        "installing",
        "publishing",
        "verified-email",
        "two-factor",
        "collaborators",
    ):
        assert anchor in page.ids
        assert f"#{anchor}" in page.hrefs()
    text = response.content.decode()
    assert "<strong>50.0 MB</strong>" in text
    assert "<strong>2.3 GB (2,500,000,000 bytes)</strong>" in text
    assert "pip install --index-url http://testserver/simple/ PROJECT" in text
    assert "uv pip install --index-url http://testserver/simple/ PROJECT" in text
    assert "twine upload --repository-url http://testserver/legacy/ dist/*" in text
    assert "uv publish --publish-url http://testserver/legacy/" in text
    assert "python manage.py create_api_token USERNAME --project NAME" in text
    assert "python manage.py yank_release PROJECT VERSION" in text
    assert "__token__" in text
    assert 'href="/manage/account/tokens/"' in text
    assert "index-url = http://testserver/simple/" in text
    assert 'url = "http://testserver/simple/"' in text
    assert response["Cache-Control"] == "public, max-age=3600"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("manage", "upload", "says"),
    [
        (True, False, "Uploading with an API token does not need it here"),
        (True, True, "uploading with an API token needs 2FA on the token owner"),
        (False, False, "where the operator has turned that on"),
    ],
)
def test_help_says_what_this_index_requires_of_2fa(client, settings, manage, upload, says):
    settings.REQUIRE_2FA_TO_MANAGE, settings.REQUIRE_2FA_TO_UPLOAD = manage, upload
    text = client.get("/help/").content.decode()
    assert says in text
    assert 'href="/account/two-factor/"' in text


# --- Caching ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/", "/project/sample-project/", "/project/sample-project/1.0/", "/user/olivia/", "/help/"],
)
@pytest.mark.django_db
def test_anonymous_pages_are_public_with_etag_and_304(client, project, path):
    release(project, "1.0")
    response = client.get(path)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("public, max-age=")
    assert "Cookie" in response["Vary"]
    etag = response["ETag"]
    again = client.get(path, headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert client.get(path, headers={"if-none-match": '"other"'}).status_code == 200
    head = client.head(path)
    assert head.status_code == 200
    assert head["Cache-Control"] == response["Cache-Control"]


@pytest.mark.django_db
def test_signed_in_pages_are_private(client, project, owner):
    release(project, "1.0")
    client.force_login(owner)
    response = client.get("/project/sample-project/")
    assert response["Cache-Control"] == "private, no-cache"
    assert "Cookie" in response["Vary"]


@pytest.mark.django_db
def test_redirects_do_not_get_page_cache_headers(client, project):
    release(project, "1.0")
    response = client.get("/project/Sample.Project/")
    assert response.status_code == 301
    assert "max-age=60" not in response.get("Cache-Control", "")


@pytest.mark.django_db
def test_project_page_changes_etag_when_a_release_is_added(client, project):
    release(project, "1.0")
    etag = client.get("/project/sample-project/")["ETag"]
    release(project, "1.1", days=1)
    response = client.get("/project/sample-project/", headers={"if-none-match": etag})
    assert response.status_code == 200
    assert response["ETag"] != etag


# --- Error pages and the base template -------------------------------------------------


def test_server_error_page_needs_nothing_that_may_have_failed(settings):
    # Not even the static files manifest (the production storage, none collected).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    settings.STATIC_ROOT = "/nonexistent"
    response = defaults.server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong" in text
    assert '<main id="content">' in text
    assert "/static/" not in text


def test_forbidden_page():
    request = RequestFactory().get("/")
    response = defaults.permission_denied(request, PermissionError())
    assert response.status_code == 403
    assert "You can't do that here" in response.content.decode()


@pytest.mark.django_db
def test_base_template_landmarks_and_assets(client):
    response = client.get("/help/")
    text = response.content.decode()
    page = parse(response)
    assert '<html lang="en">' in text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert '<a class="skip-link" href="#content">' in text
    assert '<main id="content"' in text
    assert '<nav class="site-nav" aria-label="Main">' in text
    assert '<nav aria-label="Footer">' in text
    assert page.assets == ["/static/css/site.css", "/static/js/site.js"]
    assert '<script src="/static/js/site.js" defer>' in text
    assert "/simple/" in page.hrefs()
    assert "/rss/updates.xml" in page.hrefs()
    assert "/rss/packages.xml" in page.hrefs()
    assert 'for="header-q"' in text
