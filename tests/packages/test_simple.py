"""The simple repository API: /simple/ and /simple/<name>/ (PEP 503, 691, 592,
629, 658/714, 700)."""

import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from django.core.cache import cache

from packages import simple
from packages.cache import purge_project, simple_detail_key, simple_index_key
from packages.models import File, JournalEntry, Project
from tests import factories
from tests.factories import Dist, make_release, make_sdist, make_wheel

JSON = "application/vnd.pypi.simple.v1+json"
V1_HTML = "application/vnd.pypi.simple.v1+html"
LATEST_JSON = "application/vnd.pypi.simple.latest+json"
LATEST_HTML = "application/vnd.pypi.simple.latest+html"
PIP_ACCEPT = f"{JSON}, {V1_HTML}; q=0.1, text/html; q=0.01"
UPLOADED = datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)


def add_file(
    project: Project,
    dist: Dist,
    *,
    version: str = "1.0",
    with_metadata: bool | None = None,
    store: bool = True,
    upload_time: datetime = UPLOADED,
    after_commit: bool = True,
    **release_fields,
) -> File:
    """A committed file of ``version``; a wheel gets PEP 658 metadata unless told."""
    if with_metadata is None:
        with_metadata = dist.filename.endswith(".whl")
    return factories.add_file(
        make_release(project, version, **release_fields),
        dist,
        with_metadata=with_metadata,
        store=store,
        after_commit=after_commit,
        upload_time=upload_time,
    )


class _Links(HTMLParser):
    """Collects the anchors and meta tags of a simple page."""

    def __init__(self):
        super().__init__()
        self.anchors: list[tuple[dict, str]] = []
        self.meta: dict[str, str] = {}
        self._current: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._current = dict(attrs)
        elif tag == "meta":
            values = dict(attrs)
            self.meta[values["name"]] = values["content"]

    def handle_data(self, data):
        if self._current is not None:
            self.anchors.append((self._current, data))
            self._current = None


def parse(response) -> _Links:
    parser = _Links()
    parser.feed(response.content.decode())
    return parser


def get_json(client, url: str, **headers):
    response = client.get(url, headers={"Accept": JSON, **headers})
    assert response["Content-Type"] == JSON
    return json.loads(response.content)


@pytest.fixture
def wheel(project) -> File:
    return add_file(project, make_wheel(), requires_python=">=3.8")


@pytest.fixture
def sdist(project, wheel) -> File:
    return add_file(project, make_sdist())


# --- Detail page: HTML -----------------------------------------------------------


def test_detail_html_lists_files_with_all_attributes(client, wheel, sdist):
    response = client.get("/simple/sample-project/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = parse(response)
    assert page.meta == {"pypi:repository-version": "1.5"}
    assert page.anchors == [
        (
            {
                "href": f"/packages/{wheel.path}#sha256={wheel.sha256_digest}",
                "data-requires-python": ">=3.8",
                "data-dist-info-metadata": f"sha256={wheel.metadata_sha256_digest}",
                "data-core-metadata": f"sha256={wheel.metadata_sha256_digest}",
            },
            wheel.filename,
        ),
        (
            {
                "href": f"/packages/{sdist.path}#sha256={sdist.sha256_digest}",
                "data-requires-python": ">=3.8",
            },
            sdist.filename,
        ),
    ]
    assert b"<title>Links for sample-project</title>" in response.content


def test_detail_html_escapes_requires_python(client, project):
    add_file(project, make_wheel(), requires_python='>=3.8,<4,!="3.9"')

    body = client.get("/simple/sample-project/").content.decode()

    assert 'data-requires-python="&gt;=3.8,&lt;4,!=&quot;3.9&quot;"' in body


def test_detail_html_omits_optional_attributes(client, project):
    add_file(project, make_sdist())

    ((attrs, _text),) = parse(client.get("/simple/sample-project/")).anchors

    assert set(attrs) == {"href"}


@pytest.mark.parametrize(
    ("reason", "expected"),
    [("", ""), ('Broken <build> & "bad" metadata', 'Broken <build> & "bad" metadata')],
)
def test_detail_html_marks_yanked_files(client, project, reason, expected):
    add_file(project, make_wheel(), yanked=True, yanked_reason=reason)

    response = client.get("/simple/sample-project/")

    ((attrs, _text),) = parse(response).anchors
    assert attrs["data-yanked"] == expected
    assert b'data-yanked="' in response.content
    assert b"<build>" not in response.content


def test_detail_html_with_v1_html_type(client, wheel):
    response = client.get("/simple/sample-project/", headers={"Accept": V1_HTML})

    assert response["Content-Type"] == f"{V1_HTML}; charset=utf-8"
    assert response.content == client.get("/simple/sample-project/").content


# --- Detail page: JSON -----------------------------------------------------------


def test_detail_json_shape(client, project, wheel, sdist):
    data = get_json(client, "/simple/sample-project/")

    metadata = {"sha256": wheel.metadata_sha256_digest}
    project.refresh_from_db()
    assert data == {
        "meta": {"api-version": "1.5", "_last-serial": project.last_serial},
        "name": "sample-project",
        "versions": ["1.0"],
        "files": [
            {
                "filename": wheel.filename,
                "url": f"/packages/{wheel.path}",
                "hashes": {"sha256": wheel.sha256_digest},
                "requires-python": ">=3.8",
                "core-metadata": metadata,
                "dist-info-metadata": metadata,
                "yanked": False,
                "size": wheel.size,
                "upload-time": "2024-01-01T00:00:00.123456Z",
                # PEP 740: null without attestations (tests/packages/test_attestations.py).
                "provenance": None,
            },
            {
                "filename": sdist.filename,
                "url": f"/packages/{sdist.path}",
                "hashes": {"sha256": sdist.sha256_digest},
                "requires-python": ">=3.8",
                "core-metadata": False,
                "dist-info-metadata": False,
                "yanked": False,
                "size": sdist.size,
                "upload-time": "2024-01-01T00:00:00.123456Z",
                "provenance": None,
            },
        ],
        # PEP 752: null when no namespace grant covers the name (packages.namespaces).
        "namespace": None,
    }


def test_detail_json_without_requires_python_is_null(client, project):
    add_file(project, make_wheel())

    (entry,) = get_json(client, "/simple/sample-project/")["files"]

    assert entry["requires-python"] is None


@pytest.mark.parametrize(("reason", "expected"), [("", True), ("Security hole", "Security hole")])
def test_detail_json_yanked(client, project, reason, expected):
    add_file(project, make_wheel(), yanked=True, yanked_reason=reason)

    (entry,) = get_json(client, "/simple/sample-project/")["files"]

    assert entry["yanked"] == expected


def test_detail_json_upload_time_is_utc(client, project):
    add_file(
        project,
        make_wheel(),
        upload_time=datetime(2024, 6, 1, 12, 30, 5, tzinfo=UTC),
    )

    (entry,) = get_json(client, "/simple/sample-project/")["files"]

    assert entry["upload-time"] == "2024-06-01T12:30:05.000000Z"


def test_detail_versions_sorted_by_version_including_releases_without_files(client, project):
    for version in ["2.0rc1", "1.10", "1.0.post1", "1.9"]:
        make_release(project, version)
    add_file(project, make_wheel(version="1.0"), version="1.0")

    data = get_json(client, "/simple/sample-project/")

    assert data["versions"] == ["1.0", "1.0.post1", "1.9", "1.10", "2.0rc1"]
    assert [entry["filename"] for entry in data["files"]] == ["sample_project-1.0-py3-none-any.whl"]


def test_detail_project_without_releases(client, project):
    data = get_json(client, "/simple/sample-project/")

    assert (data["versions"], data["files"]) == ([], [])
    assert parse(client.get("/simple/sample-project/")).anchors == []


def test_detail_files_sorted_by_filename(client, project):
    for tag in ["py3-none-win32", "py3-none-any", "py3-none-macosx_11_0_arm64"]:
        add_file(project, make_wheel(tag=tag))
    add_file(project, make_sdist())

    files = get_json(client, "/simple/sample-project/")["files"]

    names = [entry["filename"] for entry in files]
    assert names == sorted(names)
    assert len(names) == 4


def test_detail_serial_comes_from_project(client, project, wheel):
    Project.objects.filter(pk=project.pk).update(last_serial=42)

    response = client.get("/simple/sample-project/", headers={"Accept": JSON})

    assert response["X-PyPI-Last-Serial"] == "42"
    assert json.loads(response.content)["meta"]["_last-serial"] == 42


def test_detail_links_point_at_files_url(client, settings, wheel):
    settings.FILES_URL = "https://files.example.com"

    (entry,) = get_json(client, "/simple/sample-project/")["files"]
    ((attrs, _text),) = parse(client.get("/simple/sample-project/")).anchors

    assert entry["url"] == f"https://files.example.com/packages/{wheel.path}"
    assert attrs["href"].startswith(f"https://files.example.com/packages/{wheel.path}#sha256=")


# --- Negotiation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "text/html; charset=utf-8"),
        ("", "text/html; charset=utf-8"),
        ("*/*", "text/html; charset=utf-8"),
        ("text/html", "text/html; charset=utf-8"),
        (V1_HTML, f"{V1_HTML}; charset=utf-8"),
        (JSON, JSON),
        (PIP_ACCEPT, JSON),
        ("application/*", f"{V1_HTML}; charset=utf-8"),
        (f"text/html;q=0.5, {JSON};q=0.9", JSON),
        (f"text/html;q=0.9, {JSON};q=0.5", "text/html; charset=utf-8"),
        (f"text/html;q=0, {JSON};q=0.1", JSON),
        (f"*/*;q=0.1, {JSON}", JSON),
        (f"{JSON};q=0.1, */*;q=0.5", "text/html; charset=utf-8"),
        ("image/png", "text/html; charset=utf-8"),
        ("application/vnd.pypi.simple.v2+json", "text/html; charset=utf-8"),
        ("text/html,application/xhtml+xml,*/*;q=0.8", "text/html; charset=utf-8"),
        # PEP 691's "latest" meta version: answered with the concrete type.
        (LATEST_JSON, JSON),
        (LATEST_HTML, f"{V1_HTML}; charset=utf-8"),
        (f"{LATEST_JSON}, {LATEST_HTML};q=0.5", JSON),
        (f"{LATEST_JSON};q=0.2, {LATEST_HTML}", f"{V1_HTML}; charset=utf-8"),
        (f"{LATEST_JSON};q=0.5, text/html", "text/html; charset=utf-8"),
        (f"{LATEST_JSON}, text/html;q=0.5", JSON),
        (f"{JSON};q=0.5, {LATEST_HTML}", f"{V1_HTML}; charset=utf-8"),
        ("application/vnd.pypi.simple.latest+xml", "text/html; charset=utf-8"),
    ],
)
@pytest.mark.parametrize("url", ["/simple/", "/simple/sample-project/"])
def test_negotiation(client, project, url, accept, expected):
    headers = {} if accept is None else {"Accept": accept}

    response = client.get(url, headers=headers)

    assert response.status_code == 200
    assert response["Content-Type"] == expected
    assert response["Vary"] == "Accept"


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (JSON, JSON),
        (V1_HTML, f"{V1_HTML}; charset=utf-8"),
        ("text/html", "text/html; charset=utf-8"),
        (LATEST_JSON, JSON),
        (LATEST_HTML, f"{V1_HTML}; charset=utf-8"),
    ],
)
def test_format_parameter_overrides_accept(client, project, fmt, expected):
    response = client.get(
        "/simple/sample-project/", {"format": fmt}, headers={"Accept": "text/html"}
    )

    assert response["Content-Type"] == expected


def test_unknown_format_parameter_falls_back_to_accept(client, project):
    response = client.get("/simple/sample-project/", {"format": "xml"}, headers={"Accept": JSON})

    assert response["Content-Type"] == JSON


def test_other_query_parameters_are_ignored(client, project):
    response = client.get("/simple/", {"page": "2"}, headers={"Accept": JSON})

    assert response["Content-Type"] == JSON


# --- Headers, conditional requests, methods ---------------------------------------------


@pytest.mark.parametrize("accept", ["text/html", JSON])
def test_detail_headers(client, settings, project, wheel, accept):
    settings.SIMPLE_CACHE_SECONDS = 123

    response = client.get("/simple/sample-project/", headers={"Accept": accept})

    assert response["Cache-Control"] == "max-age=123, public"
    assert response["Surrogate-Key"] == "simple simple-sample-project"
    assert response["Access-Control-Allow-Origin"] == "*"
    project.refresh_from_db()
    assert response["X-PyPI-Last-Serial"] == str(project.last_serial)
    assert response["Vary"] == "Accept"
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')


def test_etag_differs_per_representation(client, wheel):
    etags = {
        accept: client.get("/simple/sample-project/", headers={"Accept": accept})["ETag"]
        for accept in ["text/html", V1_HTML, JSON]
    }

    assert len(set(etags.values())) == 3


def test_etag_changes_with_content(client, project, wheel):
    before = client.get("/simple/sample-project/")["ETag"]
    add_file(project, make_sdist())
    purge_project("sample-project")

    assert client.get("/simple/sample-project/")["ETag"] != before


@pytest.mark.parametrize("accept", ["text/html", V1_HTML, JSON])
@pytest.mark.parametrize("weak", [False, True])
def test_conditional_get_not_modified(client, project, wheel, accept, weak):
    first = client.get("/simple/sample-project/", headers={"Accept": accept})
    etag = f"W/{first['ETag']}" if weak else first["ETag"]

    response = client.get(
        "/simple/sample-project/",
        headers={"Accept": accept, "If-None-Match": f'"other", {etag}'},
    )

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == first["ETag"]
    project.refresh_from_db()
    assert response["X-PyPI-Last-Serial"] == str(project.last_serial)
    assert response["Cache-Control"] == first["Cache-Control"]
    assert response["Vary"] == "Accept"


def test_conditional_get_with_other_etag_gets_the_page(client, wheel):
    response = client.get("/simple/sample-project/", headers={"If-None-Match": '"stale"'})

    assert response.status_code == 200
    assert wheel.filename.encode() in response.content


def test_conditional_get_on_index(client, project):
    etag = client.get("/simple/")["ETag"]

    assert client.get("/simple/", headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize("url", ["/simple/", "/simple/sample-project/"])
@pytest.mark.parametrize("accept", ["text/html", JSON])
def test_head(client, wheel, url, accept):
    get = client.get(url, headers={"Accept": accept})

    response = client.head(url, headers={"Accept": accept})

    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Length"] == str(len(get.content))
    assert response["Content-Type"] == get["Content-Type"]
    assert response["ETag"] == get["ETag"]


@pytest.mark.parametrize("url", ["/simple/", "/simple/sample-project/"])
def test_other_methods_not_allowed(client, project, url):
    response = client.post(url)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


# --- Names: redirect and 404 ----------------------------------------------------------


@pytest.mark.parametrize("name", ["Sample.Project", "sample_project", "SAMPLE--project", "a._-B"])
def test_non_normalized_name_redirects(client, project, name):
    response = client.get(f"/simple/{name}/")

    expected = "a-b" if name == "a._-B" else "sample-project"
    assert response.status_code == 301
    assert response["Location"] == f"/simple/{expected}/"
    assert response["Access-Control-Allow-Origin"] == "*"


def test_redirect_keeps_query_string(client, project):
    response = client.get("/simple/Sample_Project/", {"format": JSON})

    assert response.status_code == 301
    assert response["Location"] == f"/simple/sample-project/?{urlencode({'format': JSON})}"


def test_redirect_then_page(client, wheel):
    response = client.get("/simple/Sample.Project/", follow=True)

    assert response.status_code == 200
    assert response.redirect_chain == [("/simple/sample-project/", 301)]


@pytest.mark.parametrize("name", ["unknown", "no-such-project"])
def test_unknown_project_is_404(client, db, name):
    response = client.get(f"/simple/{name}/")

    assert response.status_code == 404
    assert response.content == b"404 Not Found"
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Surrogate-Key"] == f"simple simple-{name}"


@pytest.mark.parametrize("name", ["-leading", "trailing-", "with space", "ünïcode", "a" * 201])
def test_invalid_name_is_404(client, db, name):
    response = client.get(f"/simple/{name}/")

    assert response.status_code == 404


# --- Index ------------------------------------------------------------------------


@pytest.fixture
def projects(db):
    alpha = Project.objects.create(name="Alpha_Lib", normalized_name="alpha-lib", last_serial=3)
    zeta = Project.objects.create(name="zeta", normalized_name="zeta", last_serial=7)
    for serial in range(1, 8):
        JournalEntry.objects.create(name="x", action="create", id=serial)
    return alpha, zeta


def test_index_html(client, projects):
    response = client.get("/simple/")

    assert response.status_code == 200
    page = parse(response)
    assert page.meta == {"pypi:repository-version": "1.5"}
    assert page.anchors == [
        ({"href": "/simple/alpha-lib/"}, "Alpha_Lib"),
        ({"href": "/simple/zeta/"}, "zeta"),
    ]
    assert response["X-PyPI-Last-Serial"] == "7"
    assert response["Surrogate-Key"] == "simple simple-index"


def test_index_json(client, projects):
    data = get_json(client, "/simple/")

    assert data == {
        "meta": {"api-version": "1.5", "_last-serial": 7},
        "projects": [
            {"name": "Alpha_Lib", "_last-serial": 3},
            {"name": "zeta", "_last-serial": 7},
        ],
    }


def test_index_empty(client, db):
    response = client.get("/simple/", headers={"Accept": JSON})

    assert json.loads(response.content)["projects"] == []
    assert response["X-PyPI-Last-Serial"] == "0"


# --- Cache: served without the database, purged after a change ----------------------


def test_cached_page_needs_no_query(client, wheel, django_assert_num_queries):
    first = client.get("/simple/sample-project/")
    client.get("/simple/")

    with django_assert_num_queries(0):
        second = client.get("/simple/sample-project/")
        json_page = client.get("/simple/sample-project/", headers={"Accept": JSON})
        client.get("/simple/")
        client.get("/simple/", headers={"Accept": JSON})
        client.get("/simple/")

    assert second.content == first.content
    assert json_page["Content-Type"] == JSON


def test_one_render_fills_both_formats(client, project, wheel):
    client.get("/simple/sample-project/", headers={"Accept": JSON})

    html = cache.get(simple_detail_key("sample-project", "html"))
    cached_json = cache.get(simple_detail_key("sample-project", "json"))
    assert wheel.filename.encode() in html.body
    assert json.loads(cached_json.body)["name"] == "sample-project"
    project.refresh_from_db()
    assert cached_json.serial == str(project.last_serial)


@pytest.mark.parametrize("count", [1, 50])
def test_detail_query_count_is_constant(client, project, django_assert_num_queries, count):
    for index in range(count):
        add_file(project, make_wheel(version=f"1.{index}"), version=f"1.{index}")

    # Project, releases, files, its namespace grant, then the serial again
    # (the purge race check).
    with django_assert_num_queries(5):
        response = client.get("/simple/sample-project/", headers={"Accept": JSON})

    assert len(json.loads(response.content)["files"]) == count


def test_index_query_count(client, projects, django_assert_num_queries):
    # Projects, the serial, then the serial again (the purge race check).
    with django_assert_num_queries(3):
        client.get("/simple/")


def test_purge_makes_new_file_visible(client, project, wheel):
    client.get("/simple/sample-project/")
    sdist = add_file(project, make_sdist(), after_commit=False)

    stale = client.get("/simple/sample-project/", headers={"Accept": JSON})
    purge_project("sample-project")
    fresh = client.get("/simple/sample-project/", headers={"Accept": JSON})

    assert sdist.filename not in [entry["filename"] for entry in json.loads(stale.content)["files"]]
    assert sdist.filename in [entry["filename"] for entry in json.loads(fresh.content)["files"]]


def test_purge_makes_new_project_visible_in_index(client, project):
    client.get("/simple/")
    Project.objects.create(name="Newcomer", normalized_name="newcomer")

    assert b"Newcomer" not in client.get("/simple/").content
    purge_project("newcomer")
    assert b"Newcomer" in client.get("/simple/").content
    assert cache.get(simple_index_key("json")) is not None


def test_page_older_than_the_committed_serial_is_not_kept(client, monkeypatch, wheel):
    # A change committed (and purged) while the page was being rendered: the
    # serial read after storing differs, so the stale page is dropped again.
    monkeypatch.setattr(simple, "_project_serial", lambda normalized_name: 99)

    response = client.get("/simple/sample-project/")

    assert response.status_code == 200
    assert cache.get(simple_detail_key("sample-project", "html")) is None
    assert cache.get(simple_detail_key("sample-project", "json")) is None


def test_deleted_project_is_not_kept_in_cache(monkeypatch, project):
    monkeypatch.setattr(simple, "_project_serial", lambda normalized_name: None)

    assert simple.detail_page("sample-project", "json") is not None
    assert cache.get(simple_detail_key("sample-project", "json")) is None


def test_project_serial_of_missing_project(db):
    assert simple._project_serial("missing") is None
