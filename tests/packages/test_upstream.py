"""packages.upstream: the simple-API client, against a real index on loopback."""

import hashlib
import io
import json
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.test import override_settings

from packages import upstream
from packages.upstream import NOT_MODIFIED, DigestMismatch, Upstream, UpstreamError
from tests.upstream_server import Answer, StaticIndex, dist

WHEEL = "demo-1.0-py3-none-any.whl"
SDIST = "demo-1.0.tar.gz"


@pytest.fixture
def index():
    with StaticIndex() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_breakers():
    cache.clear()


def client(index: StaticIndex, **kwargs) -> Upstream:
    return Upstream(index.simple_url, **kwargs)


def publish_demo(index: StaticIndex) -> None:
    index.publish(
        "demo",
        [
            dist(
                WHEEL,
                b"wheel bytes",
                requires_python=">=3.8",
                metadata=b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
                upload_time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            ),
            dist(SDIST, b"sdist bytes", yanked="broken build"),
            dist("demo-0.9.tar.gz", b"old", yanked=True),
            dist("demo-0.1.exe", b"not a distribution"),
        ],
    )


def test_a_json_page_gives_every_distribution_with_its_attributes(index):
    publish_demo(index)
    page = client(index).project_page("demo")
    assert page.normalized_name == "demo"
    assert page.serial == 1
    assert page.etag.startswith('"')
    by_name = {link.filename: link for link in page.links}
    assert sorted(by_name) == sorted(["demo-0.9.tar.gz", SDIST, WHEEL])  # the .exe is left out
    wheel = by_name[WHEEL]
    assert wheel.url == f"{index.base_url}/files/{WHEEL}"
    assert wheel.sha256 == hashlib.sha256(b"wheel bytes").hexdigest()
    assert wheel.requires_python == ">=3.8"
    assert (
        wheel.metadata_sha256
        == hashlib.sha256(b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n").hexdigest()
    )
    assert wheel.size == len(b"wheel bytes")
    assert wheel.upload_time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (wheel.yanked, wheel.yanked_reason) == (False, "")
    assert (by_name[SDIST].yanked, by_name[SDIST].yanked_reason) == (True, "broken build")
    assert (by_name["demo-0.9.tar.gz"].yanked, by_name["demo-0.9.tar.gz"].yanked_reason) == (
        True,
        "",
    )
    assert by_name[SDIST].metadata_sha256 == ""
    # PEP 691 was asked for first, by a client that says who it is.
    assert "application/vnd.pypi.simple.v1+json" in index.requests[0][1]["Accept"]
    assert index.requests[0][1]["User-Agent"].startswith("pypi-site mirror")


def test_an_html_only_index_gives_the_same_links_without_sizes_and_times():
    with StaticIndex(json_pages=False) as index:
        publish_demo(index)
        page = client(index).project_page("demo")
    by_name = {link.filename: link for link in page.links}
    assert sorted(by_name) == sorted(["demo-0.9.tar.gz", SDIST, WHEEL])
    wheel = by_name[WHEEL]
    assert wheel.url == f"{index.base_url}/files/{WHEEL}"
    assert wheel.requires_python == ">=3.8"  # the entity is decoded
    assert wheel.metadata_sha256
    assert (wheel.size, wheel.upload_time) == (None, None)
    assert (by_name[SDIST].yanked, by_name[SDIST].yanked_reason) == (True, "broken build")
    assert by_name["demo-0.9.tar.gz"].yanked is True
    assert page.serial is None


def test_links_without_a_sha256_or_with_a_bad_one_are_left_out(index):
    index.pages["/simple/odd/"] = {
        "html": Answer(
            200,
            b'<a href="/f/odd-1.0.tar.gz#md5=abc">odd-1.0.tar.gz</a>'
            b'<a href="/f/odd-1.1.tar.gz#sha256=xyz">odd-1.1.tar.gz</a>'
            b'<a href="/f/odd-1.2.tar.gz">odd-1.2.tar.gz</a><a>no href</a>'
            b'<a href="/f/odd-1.3.tar.gz#sha256=' + b"A" * 64 + b'">odd-1.3.tar.gz</a>',
            {"Content-Type": "text/html", "X-PyPI-Last-Serial": "77"},
        )
    }
    page = client(index).project_page("odd")
    # Upper-case hex is still a sha256: kept, lowered.
    assert [(link.filename, link.sha256) for link in page.links] == [("odd-1.3.tar.gz", "a" * 64)]
    assert page.serial == 77


def test_odd_json_entries_are_skipped_and_odd_fields_read_as_absent(index):
    good = {
        "filename": "odd-1.0.tar.gz",
        "url": "https://files.example/odd-1.0.tar.gz#frag",
        "hashes": {"sha256": "b" * 64},
        "size": True,
        "upload-time": "not a time",
        "requires-python": 3,
        "core-metadata": True,
    }
    naive_time = dict(good, filename="odd-1.1.tar.gz", **{"upload-time": "2026-01-01T00:00:00"})
    naive_time["hashes"] = {"sha256": "c" * 64}
    body = (
        b'{"meta": {"_last-serial": true}, "files": ['
        b'1, {"filename": "x"}, {"url": "u", "filename": "odd-2.0.tar.gz", "hashes": []}, '
        + json.dumps(good).encode()
        + b", "
        + json.dumps(naive_time).encode()
        + b"]}"
    )
    index.pages["/simple/odd/"] = {"json": Answer(200, body, {"Content-Type": upstream.V1_JSON})}
    page = client(index).project_page("odd")
    first, second = page.links
    assert first.url == "https://files.example/odd-1.0.tar.gz"
    assert (first.size, first.upload_time, first.requires_python) == (None, None, "")
    assert first.metadata_sha256 == ""  # offered without a digest: can't be checked
    assert second.upload_time == datetime(2026, 1, 1, tzinfo=UTC)
    assert page.serial is None


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"files": 3}', b'{"meta": {}}'],
)
def test_a_broken_json_page_is_an_error_saying_so(index, body):
    index.pages["/simple/odd/"] = {"json": Answer(200, body, {"Content-Type": upstream.V1_JSON})}
    with pytest.raises(UpstreamError, match="is not a PEP 691 page"):
        client(index).project_page("odd")


def test_an_unchanged_page_is_not_modified_and_a_missing_one_is_none(index):
    publish_demo(index)
    first = client(index).project_page("demo")
    assert client(index).project_page("demo", etag=first.etag) is NOT_MODIFIED
    assert index.requests[-1][1]["If-None-Match"] == first.etag
    assert client(index).project_page("nothing-here") is None


def test_a_redirected_page_is_followed_and_its_links_resolved_from_where_it_landed(index):
    publish_demo(index)
    index.files["/old/demo/"] = Answer(301, b"", {"Location": "/simple/demo/"})
    upstream_client = Upstream(f"{index.base_url}/old/")
    page = upstream_client.project_page("demo")
    assert page.links[0].url.startswith(f"{index.base_url}/files/")


def test_a_private_name_is_never_asked(index):
    publish_demo(index)
    upstream_client = client(index, private_patterns=["Demo*", "acme_*"])
    assert upstream_client.project_page("demo") is None
    assert upstream_client.project_page("acme-tools") is None
    assert index.requests == []


def test_is_private_reads_the_settings_and_normalizes_the_patterns():
    with override_settings(PRIVATE_NAME_PATTERNS=["ACME_*", "internal.lib"]):
        assert upstream.is_private("acme-tools")
        assert upstream.is_private("internal-lib")
        assert not upstream.is_private("acme")
    assert not upstream.is_private("acme-tools", [])


@pytest.mark.parametrize("status", [500, 503, 403, 401, 429, 400])
def test_an_answer_that_is_not_a_page_is_an_error(index, status):
    index.fail_with = status
    with pytest.raises(UpstreamError, match=f"answered {status}"):
        client(index).project_page("demo")


def test_an_unreachable_upstream_is_an_error_naming_it(index):
    index.stop()
    with pytest.raises(UpstreamError, match="could not be reached"):
        client(index).project_page("demo")


def test_a_slow_upstream_is_given_up_within_the_timeout(index):
    publish_demo(index)
    index.delay = 1.5
    with pytest.raises(UpstreamError, match="could not be reached"):
        client(index, timeout=0.3).project_page("demo")


def test_a_page_trickling_past_the_deadline_is_given_up(index, monkeypatch):
    publish_demo(index)
    # Read in tiny blocks, each under the read timeout, the whole over the deadline.
    monkeypatch.setattr(upstream, "READ_BLOCK", 1)
    clock = iter(range(0, 10_000, 3))
    monkeypatch.setattr(upstream.time, "monotonic", lambda: next(clock))
    with pytest.raises(UpstreamError, match="took too long"):
        client(index, timeout=5).project_page("demo")


def test_an_oversized_page_is_refused(index, monkeypatch):
    publish_demo(index)
    monkeypatch.setattr(upstream, "PAGE_MAX_BYTES", 100)
    with pytest.raises(UpstreamError, match="is over 100 bytes"):
        client(index).project_page("demo")


def test_the_breaker_opens_after_failures_in_a_row_and_asks_nothing_meanwhile(index):
    index.fail_with = 502
    upstream_client = client(index, breaker_failures=2, breaker_seconds=60)
    for _ in range(2):
        with pytest.raises(UpstreamError, match="answered 502"):
            upstream_client.project_page("demo")
    asked = len(index.requests)
    with pytest.raises(UpstreamError, match="failed 2 times in a row"):
        upstream_client.project_page("demo")
    with pytest.raises(UpstreamError, match="failed 2 times in a row"):
        upstream_client.download(
            f"{index.base_url}/files/x", sha256="0" * 64, max_bytes=9, into=io.BytesIO()
        )
    assert len(index.requests) == asked
    # Another process's client of the same upstream sees the same breaker.
    with pytest.raises(UpstreamError, match="in a row"):
        client(index, breaker_failures=2).project_page("demo")


def test_a_success_between_failures_keeps_the_breaker_closed(index):
    publish_demo(index)
    upstream_client = client(index, breaker_failures=2, breaker_seconds=60)
    index.fail_with = 500
    with pytest.raises(UpstreamError):
        upstream_client.project_page("demo")
    index.fail_with = None
    assert upstream_client.project_page("demo") is not None
    index.fail_with = 500
    with pytest.raises(UpstreamError, match="answered 500"):
        upstream_client.project_page("demo")


def test_the_breaker_closes_when_its_time_is_over(index):
    index.fail_with = 500
    upstream_client = client(index, breaker_failures=1, breaker_seconds=0)
    for _ in range(2):  # open for 0 s: every call is asked
        with pytest.raises(UpstreamError, match="answered 500"):
            upstream_client.project_page("demo")
    assert len(index.requests) == 2


def test_fetches_beyond_the_concurrency_bound_wait_then_give_up(index):
    publish_demo(index)
    upstream_client = client(index, max_concurrency=1, timeout=0.2)
    upstream_client._slots.acquire()  # another fetch holds the only slot
    try:
        with pytest.raises(UpstreamError, match="Too many requests"):
            upstream_client.project_page("demo")
    finally:
        upstream_client._slots.release()
    assert index.requests == []
    assert upstream_client.project_page("demo") is not None


def test_a_download_writes_the_checked_bytes(index):
    publish_demo(index)
    out = io.BytesIO()
    size = client(index).download(
        f"{index.base_url}/files/{WHEEL}",
        sha256=hashlib.sha256(b"wheel bytes").hexdigest().upper(),
        max_bytes=100,
        into=out,
    )
    assert (size, out.getvalue()) == (11, b"wheel bytes")
    assert index.requests[-1][1]["User-Agent"].startswith("pypi-site mirror")


def test_a_download_with_other_bytes_than_announced_is_refused(index):
    publish_demo(index)
    with pytest.raises(DigestMismatch, match="not the 0000"):
        client(index).download(
            f"{index.base_url}/files/{WHEEL}", sha256="0" * 64, max_bytes=100, into=io.BytesIO()
        )


def test_a_missing_or_oversized_file_is_an_error_but_not_a_breaker_failure(index):
    publish_demo(index)
    upstream_client = client(index, breaker_failures=1, breaker_seconds=60)
    with pytest.raises(UpstreamError, match="no longer has"):
        upstream_client.download(
            f"{index.base_url}/files/gone.whl", sha256="0" * 64, max_bytes=9, into=io.BytesIO()
        )
    with pytest.raises(UpstreamError, match="over the 5 bytes"):
        upstream_client.download(
            f"{index.base_url}/files/{WHEEL}", sha256="0" * 64, max_bytes=5, into=io.BytesIO()
        )
    assert upstream_client.project_page("demo") is not None  # the breaker stayed closed


def test_a_failing_download_is_a_breaker_failure(index):
    upstream_client = client(index, breaker_failures=1, breaker_seconds=60)
    index.fail_with = 503
    with pytest.raises(UpstreamError, match="answered 503"):
        upstream_client.download(
            f"{index.base_url}/files/x.whl", sha256="0" * 64, max_bytes=9, into=io.BytesIO()
        )
    index.stop()
    with pytest.raises(UpstreamError, match="in a row"):
        upstream_client.project_page("demo")
    cache.clear()
    with pytest.raises(UpstreamError, match="could not be reached"):
        upstream_client.download(
            f"{index.base_url}/files/x.whl", sha256="0" * 64, max_bytes=9, into=io.BytesIO()
        )


@pytest.mark.parametrize("json_pages", [True, False])
def test_the_project_list_comes_normalized_in_both_formats(json_pages):
    with StaticIndex(json_pages=json_pages) as index:
        index.publish("Zope.Interface", [])
        index.publish("demo", [])
        assert client(index).project_names() == ["demo", "zope-interface"]


def test_a_project_list_that_is_not_one_is_an_error(index):
    index.pages["/simple/"] = {
        "json": Answer(200, b'{"projects": 1}', {"Content-Type": upstream.V1_JSON})
    }
    with pytest.raises(UpstreamError, match="is not a PEP 691 page"):
        client(index).project_names()
    index.pages["/simple/"] = {"html": Answer(204, b"", {"Content-Type": "text/html"})}
    with pytest.raises(UpstreamError, match="answered 204"):
        client(index).project_names()


def test_configured_follows_the_settings(index):
    with override_settings(UPSTREAM_INDEX_URL=""):
        assert upstream.configured() is None
    with override_settings(UPSTREAM_INDEX_URL=index.simple_url, PRIVATE_NAME_PATTERNS=["acme-*"]):
        configured = upstream.configured()
        assert configured is upstream.configured()  # one client per process
        assert configured.base_url == index.simple_url
        assert configured.private_patterns == ("acme-*",)
        assert repr(configured) == f"Upstream({index.simple_url!r})"
    assert repr(NOT_MODIFIED) == "NOT_MODIFIED"
    assert Upstream("http://example.invalid/simple").base_url == "http://example.invalid/simple/"


def test_an_unreadable_wheel_name_and_serial_are_left_out(index):
    sha = "d" * 64
    index.pages["/simple/odd/"] = {
        "html": Answer(
            200,
            f'<a href="/f/odd.whl#sha256={sha}">odd.whl</a>'.encode(),
            {"Content-Type": "text/html", "X-PyPI-Last-Serial": "not a number"},
        )
    }
    page = client(index).project_page("odd")
    assert (page.links, page.serial) == ([], None)


def test_a_stopped_upstream_is_not_reached_through_a_kept_alive_connection(index):
    publish_demo(index)
    upstream_client = client(index)
    assert upstream_client.project_page("demo") is not None
    index.stop()
    with pytest.raises(UpstreamError, match="could not be reached"):
        upstream_client.project_page("demo")
