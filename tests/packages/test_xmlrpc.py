"""POST /pypi: the XML-RPC methods through the test client, answers read back
with the standard library's xmlrpc.client, as clients read them."""

import io
import xmlrpc.client
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.test import Client, RequestFactory

from accounts.events import SYSTEM
from packages import xmlrpc as rpc
from packages.downloads import download_summary
from packages.journal import journal_append
from packages.models import JournalEntry, Project, Release, Role
from packages.storage import file_url
from packages.views import xmlrpc as xmlrpc_views
from packages.views.xmlrpc import xmlrpc as xmlrpc_view
from tests.conftest import verified_user
from tests.factories import add_file, make_release, make_sdist, make_wheel

pytestmark = pytest.mark.django_db


def post(client, body: bytes, **extra):
    return client.post("/pypi", body, content_type="text/xml", **extra)


def answer(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    (result,), method = xmlrpc.client.loads(response.content)
    assert method is None
    return result


def call(client, method: str, *params):
    return answer(post(client, xmlrpc.client.dumps(params, method, allow_none=True).encode()))


def fault(response) -> tuple[int, str]:
    assert response.status_code in (200, 405)
    with pytest.raises(xmlrpc.client.Fault) as caught:
        xmlrpc.client.loads(response.content)
    return caught.value.faultCode, caught.value.faultString


def call_fault(client, method: str, *params) -> tuple[int, str]:
    return fault(post(client, xmlrpc.client.dumps(params, method, allow_none=True).encode()))


def journal(project, action, **fields):
    with transaction.atomic():
        return journal_append(project=project, action=action, actor=SYSTEM, **fields)


@pytest.fixture
def other(db, owner):
    other = Project.objects.create(name="Other_Thing", normalized_name="other-thing")
    Role.objects.create(project=other, user=owner, role_name=Role.Name.OWNER)
    return other


# --- Mirroring --------------------------------------------------------------------------


def test_changelog_last_serial_is_zero_on_an_empty_journal(client):
    assert call(client, "changelog_last_serial") == 0


def test_changelog_last_serial_is_the_newest_entry(client, project):
    journal(project, "create")
    last = journal(project, "new release", version="1.0")
    assert call(client, "changelog_last_serial") == last.id


def test_changelog_since_serial_lists_later_entries_in_order(client, project, other):
    first = journal(project, "create")
    second = journal(project, "new release", version="1.0")
    third = journal(other, "add py3 file x.whl", version="2.0", filename="x.whl")
    rows = call(client, "changelog_since_serial", first.id)
    assert rows == [
        ["Sample.Project", "1.0", int(second.submitted_at.timestamp()), "new release", second.id],
        ["Other_Thing", "2.0", int(third.submitted_at.timestamp()), "add py3 file x.whl", third.id],
    ]
    assert call(client, "changelog_since_serial", third.id) == []


def test_changelog_since_serial_stops_at_the_limit(client, project, monkeypatch):
    entries = [journal(project, f"step {n}") for n in range(3)]
    monkeypatch.setattr(rpc, "CHANGELOG_LIMIT", 2)
    rows = call(client, "changelog_since_serial", 0)
    assert [row[4] for row in rows] == [entries[0].id, entries[1].id]


def test_changelog_by_time_with_and_without_ids(client, project):
    old = journal(project, "create")
    new = journal(project, "new release", version="1.0")
    JournalEntry.objects.filter(pk=old.pk).update(submitted_at=datetime(2020, 1, 1, tzinfo=UTC))
    since = int(datetime(2021, 1, 1, tzinfo=UTC).timestamp())
    stamp = int(new.submitted_at.timestamp())
    assert call(client, "changelog", since) == [["Sample.Project", "1.0", stamp, "new release"]]
    assert call(client, "changelog", since, True) == [
        ["Sample.Project", "1.0", stamp, "new release", new.id]
    ]
    assert len(call(client, "changelog", 0, False)) == 2


def test_changelog_refuses_a_timestamp_out_of_range(client):
    body = (
        b"<?xml version='1.0'?><methodCall><methodName>changelog</methodName><params>"
        b"<param><value><int>99999999999999999999</int></value></param></params></methodCall>"
    )
    code, message = fault(post(client, body))
    assert code == rpc.INVALID_PARAMS
    assert "is not a timestamp" in message


def test_list_packages_with_serial_maps_display_names_to_serials(client, project, other):
    journal(project, "create")
    serial = journal(other, "create").id
    assert call(client, "list_packages_with_serial") == {
        "Other_Thing": serial,
        "Sample.Project": serial - 1,
    }
    assert call(client, "list_packages") == ["Other_Thing", "Sample.Project"]


def test_updated_releases_newest_first_since_a_timestamp(client, project, other):
    old = make_release(project, "0.1")
    Release.objects.filter(pk=old.pk).update(created_at=datetime(2020, 1, 1, tzinfo=UTC))
    make_release(project, "1.0")
    newest = make_release(other, "2.0")
    Release.objects.filter(pk=newest.pk).update(created_at=datetime.now(UTC) + timedelta(seconds=5))
    since = int(datetime(2021, 1, 1, tzinfo=UTC).timestamp())
    assert call(client, "updated_releases", since) == [
        ["Other_Thing", "2.0"],
        ["Sample.Project", "1.0"],
    ]


# --- Projects and releases ------------------------------------------------------------


def test_package_releases_latest_and_hidden(client, project):
    for version in ("1.0", "1.1"):
        make_release(project, version)
    make_release(project, "3.0b1", is_prerelease=True)
    make_release(project, "2.0", yanked=True, yanked_reason="broken")
    assert call(client, "package_releases", "sample.project") == ["1.1"]
    assert call(client, "package_releases", "Sample_Project", True) == [
        "3.0b1",
        "2.0",
        "1.1",
        "1.0",
    ]


def test_package_releases_latest_is_a_prerelease_when_only_those_are_offered(client, project):
    make_release(project, "1.0b1", is_prerelease=True)
    make_release(project, "1.0b2", is_prerelease=True)
    make_release(project, "1.0", yanked=True)
    assert call(client, "package_releases", "sample-project") == ["1.0b2"]


def test_package_releases_with_every_release_yanked(client, project):
    make_release(project, "1.0", yanked=True)
    assert call(client, "package_releases", "sample-project") == []
    assert call(client, "package_releases", "sample-project", True) == ["1.0"]


def test_package_releases_sorts_an_invalid_version_first(client, project):
    make_release(project, "1.0")
    Release.objects.create(
        project=project, version="not-a-version", canonical_version="x", metadata_version="2.1"
    )
    assert call(client, "package_releases", "sample-project", True) == ["1.0", "not-a-version"]


def test_package_releases_of_an_unknown_project(client):
    assert call(client, "package_releases", "nothing-here") == []


def test_release_urls_describe_each_file(client, project):
    release = make_release(project, "1.0", requires_python=">=3.9")
    wheel = make_wheel(version="1.0")
    sdist = make_sdist(version="1.0")
    wheel_row = add_file(release, wheel)
    add_file(release, sdist)
    rows = call(client, "release_urls", "Sample.Project", "1.0.0")
    assert [row["filename"] for row in rows] == sorted([wheel.filename, sdist.filename])
    row = next(row for row in rows if row["filename"] == wheel.filename)
    upload_time = wheel_row.upload_time.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    assert row == {
        "filename": wheel.filename,
        "packagetype": "bdist_wheel",
        "python_version": "py3",
        "size": len(wheel.content),
        "md5_digest": wheel.md5,
        "sha256_digest": wheel.sha256,
        "digests": {"md5": wheel.md5, "sha256": wheel.sha256, "blake2b_256": wheel.blake2_256},
        "has_sig": False,
        "upload_time": upload_time,
        "upload_time_iso_8601": upload_time,
        "comment_text": "",
        "downloads": -1,
        "path": wheel_row.path,
        "url": "http://testserver" + file_url(wheel_row.path),
        "requires_python": ">=3.9",
        "yanked": False,
        "yanked_reason": None,
    }
    sdist_row = next(row for row in rows if row["filename"] == sdist.filename)
    assert (sdist_row["packagetype"], sdist_row["python_version"]) == ("sdist", "source")


def test_release_urls_of_a_yanked_release_and_an_absolute_files_url(client, project, settings):
    settings.FILES_URL = "https://files.example.org"
    release = make_release(project, "1.0", yanked=True, yanked_reason="broken")
    row = add_file(release, make_wheel(version="1.0"))
    (answer_row,) = call(client, "release_urls", "sample-project", "1.0")
    assert answer_row["url"] == f"https://files.example.org/packages/{row.path}"
    assert (answer_row["yanked"], answer_row["yanked_reason"]) == (True, "broken")
    assert answer_row["requires_python"] is None


def test_release_urls_of_unknown_releases(client, project):
    assert call(client, "release_urls", "sample-project", "9.9") == []
    assert call(client, "release_urls", "nothing-here", "1.0") == []
    assert call(client, "release_urls", "sample-project", "not a version") == []


def test_release_data_in_the_legacy_shape(client, project):
    make_release(project, "0.9")
    make_release(
        project,
        "1.0",
        summary="A summary",
        description="Long text",
        description_content_type="text/markdown",
        author="Ann",
        author_email="ann@example.com",
        license_expression="MIT",
        keywords="one,two",
        platform=["linux", "mac"],
        classifiers=["Programming Language :: Python"],
        home_page="https://example.com",
        project_urls=[["Source", "https://example.com/src"]],
        requires_python=">=3.9",
        requires_dist=["attrs>=20"],
    )
    data = call(client, "release_data", "SAMPLE.project", "1.0")
    assert data == {
        "name": "Sample.Project",
        "version": "1.0",
        "stable_version": None,
        "bugtrack_url": None,
        "package_url": "http://testserver/project/Sample.Project/",
        "release_url": "http://testserver/project/Sample.Project/1.0/",
        "docs_url": None,
        "home_page": "https://example.com",
        "download_url": None,
        "project_url": ["Source, https://example.com/src"],
        "author": "Ann",
        "author_email": "ann@example.com",
        "maintainer": None,
        "maintainer_email": None,
        "summary": "A summary",
        "description": "Long text",
        "description_content_type": "text/markdown",
        "license": None,
        "license_expression": "MIT",
        "keywords": "one,two",
        "platform": "linux, mac",
        "classifiers": ["Programming Language :: Python"],
        "requires": [],
        "requires_dist": ["attrs>=20"],
        "provides": [],
        "provides_dist": [],
        "obsoletes": [],
        "obsoletes_dist": [],
        "requires_python": ">=3.9",
        "requires_external": [],
        "yanked": False,
        "yanked_reason": None,
        "_pypi_ordering": 1,
        "downloads": download_summary(project),
    }
    assert set(data["downloads"]) == {"last_day", "last_week", "last_month"}


def test_release_data_of_an_unknown_release(client, project):
    assert call(client, "release_data", "sample-project", "1.0") == {}


def test_release_data_strips_characters_xml_cannot_carry(client, project):
    make_release(project, "1.0", description="page one\x0cpage two\x1b", summary="ok \U0001f600")
    data = call(client, "release_data", "sample-project", "1.0")
    assert data["description"] == "page onepage two"
    assert data["summary"] == "ok \U0001f600"


def test_package_roles_owners_first(client, project, owner, maintainer):
    second_owner = verified_user("aaron")
    Role.objects.create(project=project, user=second_owner, role_name=Role.Name.OWNER)
    assert call(client, "package_roles", "Sample_Project") == [
        ["Owner", "aaron"],
        ["Owner", "olivia"],
        ["Maintainer", "max"],
    ]
    assert call(client, "package_roles", "nothing-here") == []


def test_user_packages_lists_roles(client, project, other, owner, maintainer):
    assert call(client, "user_packages", "olivia") == [
        ["Owner", "Other_Thing"],
        ["Owner", "Sample.Project"],
    ]
    assert call(client, "user_packages", "max") == [["Maintainer", "Sample.Project"]]
    assert call(client, "user_packages", "nobody") == []


def test_search_answers_the_public_index_fault(client, settings):
    settings.SITE_NAME = "Example Index"
    code, message = call_fault(client, "search", {"name": "requests"})
    assert code == -32500
    assert message == (
        "RuntimeError: Example Index no longer supports 'pip search' (or XML-RPC search). "
        "Please use http://testserver/search/ (via a browser) instead. See "
        "https://warehouse.pypa.io/api-reference/xml-rpc.html#deprecated-methods "
        "for more information."
    )
    assert call_fault(client, "search", {"name": "x"}, "or")[0] == -32500


# --- Faults -------------------------------------------------------------------------------


def test_unknown_method(client):
    assert call_fault(client, "system.multicall", []) == (
        -32601,
        "server error; requested method not found",
    )


@pytest.mark.parametrize(
    ("method", "params", "detail"),
    [
        ("changelog_last_serial", (1,), "too many positional arguments"),
        ("changelog_since_serial", (), "missing a required argument"),
        ("changelog_since_serial", ("5",), "since_serial: expected int, got str"),
        ("changelog_since_serial", (True,), "since_serial: expected int, got bool"),
        ("package_releases", ("x", 1), "show_hidden: expected bool, got int"),
        ("release_urls", ("x", 1.0), "version: expected str, got float"),
        ("search", ("requests",), "spec: expected dict, got str"),
    ],
)
def test_wrong_arguments(client, method, params, detail):
    code, message = call_fault(client, method, *params)
    assert code == -32602
    assert message.startswith("client error; ")
    assert detail in message


ENTITY_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<methodCall><methodName>package_roles</methodName>
<params><param><value><string>&lol2;</string></value></param></params></methodCall>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE call [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>package_roles</methodName>
<params><param><value><string>&secret;</string></value></param></params></methodCall>"""


@pytest.mark.parametrize(
    "body",
    [
        b"not xml at all",
        b"",
        b"<methodCall><methodName>list_packages</methodName>",
        b"<methodCall><methodName>x</methodName><params><param><value><int>one</int>"
        b"</value></param></params></methodCall>",
        ENTITY_BOMB,
        EXTERNAL_ENTITY,
        b'<?xml version="1.0"?><!DOCTYPE methodCall><methodCall>'
        b"<methodName>list_packages</methodName></methodCall>",
    ],
    ids=["text", "empty", "truncated", "bad-int", "entity-bomb", "external-entity", "doctype"],
)
def test_unparseable_or_unsafe_requests_are_parse_faults(client, body):
    assert fault(post(client, body)) == (-32700, "parse error; not well formed")


def test_a_document_that_is_no_call(client):
    body = xmlrpc.client.dumps((1,), methodresponse=True).encode()
    code, message = fault(post(client, body))
    assert code == -32600
    assert "not a methodCall" in message


def test_get_is_not_allowed(client):
    response = client.get("/pypi")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert fault(response)[0] == -32600


def test_a_body_over_the_limit_is_refused_unread(client, monkeypatch):
    monkeypatch.setattr(rpc, "MAX_REQUEST_BYTES", 100)
    body = xmlrpc.client.dumps(("x" * 200,), "package_roles").encode()
    code, message = fault(post(client, body))
    assert code == -32600
    assert "larger than 100 bytes" in message


def refused_body_request(body: bytes, declared: int):
    stream = io.BytesIO(body)
    request = RequestFactory().generic(
        "POST",
        "/pypi",
        content_type="text/xml",
        CONTENT_LENGTH=str(declared),
        **{"wsgi.input": stream},
    )
    return request, stream


def test_a_body_over_the_limit_is_read_to_its_end_before_the_fault(db):
    # xmlrpc.client sends the whole body before it reads the answer: a server
    # that answers with most of it unread resets the connection, and the client
    # saw a broken pipe instead of the fault (tests/e2e/test_xmlrpc_live.py).
    body = b"<methodCall>" + b"x" * (3 * rpc.MAX_REQUEST_BYTES)
    request, stream = refused_body_request(body, len(body))
    assert "larger than" in fault(xmlrpc_view(request))[1]
    assert stream.tell() == len(body)


def test_a_body_over_the_drain_limit_is_not_read(db, monkeypatch):
    monkeypatch.setattr(xmlrpc_views, "DRAIN_MAX_BYTES", 2 * rpc.MAX_REQUEST_BYTES)
    body = b"x" * (3 * rpc.MAX_REQUEST_BYTES)
    request, stream = refused_body_request(body, len(body))
    assert "larger than" in fault(xmlrpc_view(request))[1]
    assert stream.tell() == 0


def test_a_body_within_the_limit_is_answered(client, monkeypatch):
    body = xmlrpc.client.dumps((), "list_packages").encode()
    monkeypatch.setattr(rpc, "MAX_REQUEST_BYTES", len(body))
    assert answer(post(client, body)) == []


def test_a_malformed_content_length_reads_as_no_body(db):
    request = RequestFactory().post(
        "/pypi", b"<methodCall/>", content_type="text/xml", CONTENT_LENGTH="many"
    )
    assert fault(xmlrpc_view(request))[0] == -32700


def test_calls_need_no_csrf_token(db):
    client = Client(enforce_csrf_checks=True)
    assert call(client, "list_packages") == []


def test_an_error_inside_a_method_is_an_application_fault(client, monkeypatch, caplog):
    def broken(request):
        raise RuntimeError("database on fire")

    monkeypatch.setitem(rpc.METHODS, "list_packages", broken)
    assert call_fault(client, "list_packages") == (-32500, "application error")
    assert "XML-RPC call failed" in caplog.text


# --- Hostile arguments -------------------------------------------------------------------


def raw_call(client, method: str, *values: str):
    """A call written by hand: xmlrpc.client refuses to send ints beyond 32 bits."""
    params = "".join(f"<param><value>{value}</value></param>" for value in values)
    body = f"<methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>"
    return post(client, body.encode())


@pytest.mark.parametrize(("number", "entries"), [(2**63, 0), (10**30, 0), (-(10**30), 1)])
def test_serials_beyond_the_column_are_answered(client, project, number, entries):
    journal(project, "create")
    rows = answer(raw_call(client, "changelog_since_serial", f"<int>{number}</int>"))
    assert len(rows) == entries


@pytest.mark.parametrize("method", ["changelog", "updated_releases"])
def test_timestamps_beyond_any_date_are_client_errors(client, method):
    code, message = fault(raw_call(client, method, f"<int>{10**30}</int>"))
    assert code == -32602
    assert "is not a timestamp" in message


@pytest.mark.parametrize(
    ("method", "values"),
    [
        ("package_releases", ["<string>sample-project\n</string>"]),
        ("package_roles", ["<string>sample-project\n</string>"]),
        ("release_urls", ["<string>sample-project</string>", "<string>1.0\n</string>"]),
        ("release_data", ["<string>sample-project</string>", f"<string>{'9' * 10_000}</string>"]),
        ("user_packages", [f"<string>{'u' * 10_000}</string>"]),
    ],
)
def test_names_no_row_could_hold_find_nothing(client, project, method, values):
    make_release(project, "1.0")
    assert answer(raw_call(client, method, *values)) in ([], {})


def test_a_nul_cannot_reach_a_method(client):
    # XML 1.0 has no NUL, not even as a reference: the parser refuses the call.
    code, _ = fault(raw_call(client, "package_releases", "<string>a&#0;b</string>"))
    assert code == -32700


# --- Numbers beyond 32 bits in answers --------------------------------------------------


def test_release_urls_of_a_file_of_2_gib_or_more_carry_its_size(client, project):
    release = make_release(project, "1.0")
    add_file(release, make_wheel(project.name, "1.0"))
    release.files.update(size=3 * 2**30)
    response = post(client, xmlrpc.client.dumps((project.name, "1.0"), "release_urls").encode())
    assert b"<i8>3221225472</i8>" in response.content
    [url] = answer(response)
    assert url["size"] == 3 * 2**30


@pytest.mark.parametrize("number", [2**31 - 1, -(2**31), 2**31, 2**63 - 1, -(2**63)])
def test_answers_carry_every_64_bit_int(number):
    (result,), _method = xmlrpc.client.loads(rpc.dumps_result([number, True, "x"]))
    assert result == [number, True, "x"]


@pytest.mark.parametrize("number", [2**63, -(2**63) - 1])
def test_an_int_beyond_64_bits_in_an_answer_is_a_fault_saying_so(number):
    with pytest.raises(xmlrpc.client.Fault) as caught:
        rpc.dumps_result({"size": number})
    assert caught.value.faultCode == rpc.APPLICATION_ERROR
    assert caught.value.faultString == f"server error; {number} is too large for XML-RPC"
