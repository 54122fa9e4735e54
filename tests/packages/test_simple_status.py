"""PEP 792 in the simple API (the simple repository API spec, project detail):
``project-status`` in PEP 691 JSON, the ``pypi:project-status`` and
``pypi:project-status-reason`` meta tags in HTML; a quarantined project
answers 200 with its status and no file, from the cache and the fast path too."""

import json
from html.parser import HTMLParser

import pytest

from accounts.events import Actor
from moderation.services import project_quarantine, project_unquarantine
from packages import simple
from packages.project_status import project_status_set
from pypi_site.fastpath import cached_simple_answer
from tests.factories import add_file, make_release, make_wheel

pytestmark = pytest.mark.django_db

JSON = "application/vnd.pypi.simple.v1+json"
URL = "/simple/sample-project/"


class _Meta(HTMLParser):
    def __init__(self):
        super().__init__()
        self.meta: dict[str, str] = {}
        self.anchors = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta":
            self.meta[attrs["name"]] = attrs["content"]
        elif tag == "a":
            self.anchors += 1


def html(client, url=URL) -> _Meta:
    response = client.get(url)
    assert response.status_code == 200
    parser = _Meta()
    parser.feed(response.content.decode())
    return parser


def data(client, url=URL) -> dict:
    response = client.get(url, HTTP_ACCEPT=JSON)
    assert response.status_code == 200
    return json.loads(response.content)


@pytest.fixture
def published(project):
    add_file(make_release(project, "1.0"), make_wheel("Sample.Project", "1.0"))
    project.refresh_from_db()
    return project


@pytest.fixture
def change(owner, moderator, django_capture_on_commit_callbacks):
    """Run a status change with its after-commit purges, as a commit would."""

    def act(project, status, reason=""):
        with django_capture_on_commit_callbacks(execute=True):
            if status == "quarantined":
                project_quarantine(project=project, actor=Actor(moderator), reason=reason)
            elif status == "unquarantined":
                project_unquarantine(project=project, actor=Actor(moderator), reason="ok")
            else:
                project_status_set(
                    project=project, status=status, reason=reason, actor=Actor(owner)
                )

    return act


def test_an_active_project_carries_no_status(client, published):
    # Absent means active (the spec); active pages are as before.
    assert html(client).meta == {"pypi:repository-version": simple.API_VERSION}
    assert "project-status" not in data(client)


@pytest.mark.parametrize(
    ("status", "reason"),
    [("archived", ""), ("archived", "No more work"), ("deprecated", 'Use "new" & <better>')],
)
def test_archived_and_deprecated_keep_their_files(client, published, change, status, reason):
    # Read once first: the change must replace the cached pages.
    html(client), data(client)
    change(published, status, reason)

    page = html(client)
    expected_meta = {"pypi:repository-version": simple.API_VERSION, "pypi:project-status": status}
    if reason:
        expected_meta["pypi:project-status-reason"] = reason
    assert page.meta == expected_meta
    assert page.anchors == 1
    body = data(client)
    expected = {"status": status, **({"reason": reason} if reason else {})}
    assert body["project-status"] == expected
    assert [file["filename"] for file in body["files"]] == ["sample_project-1.0-py3-none-any.whl"]
    assert body["versions"] == ["1.0"]


def test_the_reason_is_escaped_in_html(client, published, change):
    change(published, "deprecated", 'a "quoted" <tag> & more')
    body = client.get(URL).content.decode()
    assert (
        '<meta name="pypi:project-status-reason" '
        'content="a &quot;quoted&quot; &lt;tag&gt; &amp; more">' in body
    )


def test_a_quarantined_project_answers_with_its_status_and_no_file(client, published, change):
    html(client), data(client)
    change(published, "quarantined", "Steals credentials")

    page = html(client)
    assert page.meta == {
        "pypi:repository-version": simple.API_VERSION,
        "pypi:project-status": "quarantined",
        "pypi:project-status-reason": "Steals credentials",
    }
    assert page.anchors == 0
    published.refresh_from_db()
    body = data(client)
    serial = published.last_serial
    assert body["meta"] == {"api-version": simple.API_VERSION, "_last-serial": serial}
    assert (body["name"], body["versions"], body["files"]) == ("sample-project", [], [])
    assert body["project-status"] == {"status": "quarantined", "reason": "Steals credentials"}
    # Served from the cache by the WSGI fast path too, like any page.
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": URL,
        "HTTP_ACCEPT": JSON,
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.url_scheme": "http",
    }
    headers, body = cached_simple_answer(environ)
    assert json.loads(body)["project-status"]["status"] == "quarantined"
    assert ("X-PyPI-Last-Serial", str(published.last_serial)) in headers
    # Its file is still not served.
    assert client.get(f"/packages/{published.releases.get().files.get().path}").status_code == 404

    change(published, "unquarantined")
    assert "project-status" not in data(client)
    assert html(client).anchors == 1


def test_a_quarantine_wins_over_the_stored_status(client, published, change):
    change(published, "deprecated", "Old")
    change(published, "quarantined", "Malware")
    assert data(client)["project-status"] == {"status": "quarantined", "reason": "Malware"}
    change(published, "unquarantined")
    assert data(client)["project-status"] == {"status": "deprecated", "reason": "Old"}


def test_unknown_names_are_still_404(client, db):
    assert client.get("/simple/nothing-here/").status_code == 404
