"""The WSGI fast path answers cached simple pages exactly as Django would."""

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import DatabaseError

from accounts.events import Actor
from packages.models import File, Release
from packages.services import release_yank
from packages.storage import file_path, files_storage
from pypi_site import fastpath
from pypi_site.fastpath import SimpleFastPath, cached_simple_answer, file_answer
from tests.factories import add_file, make_release, make_wheel

pytestmark = pytest.mark.django_db

JSON = "application/vnd.pypi.simple.v1+json"
LATEST_JSON = "application/vnd.pypi.simple.latest+json"
LATEST_HTML = "application/vnd.pypi.simple.latest+html"


@pytest.fixture
def published(project):
    dist = make_wheel("sample-project", "1.0")
    add_file(make_release(project, "1.0"), dist)
    return dist


def environ(path="/simple/sample-project/", **extra):
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.url_scheme": "http",
        **extra,
    }


@pytest.mark.parametrize(
    "path, accept",
    [
        ("/simple/sample-project/", None),
        ("/simple/sample-project/", JSON),
        ("/simple/", None),
        ("/simple/", JSON),
        ("/simple/sample-project/", LATEST_JSON),
        ("/simple/", LATEST_HTML),
    ],
)
def test_cached_answer_matches_django(client, published, path, accept):
    headers = {"Accept": accept} if accept else {}
    django_response = client.get(path, headers=headers)  # renders and caches
    extra = {"HTTP_ACCEPT": accept} if accept else {}
    answer = cached_simple_answer(environ(path, **extra))
    assert answer is not None
    fast_headers, body = answer
    assert body == django_response.content
    assert dict(fast_headers) == dict(django_response.items())


@pytest.mark.parametrize(
    "accept, expected",
    [
        (LATEST_JSON, JSON),
        (LATEST_HTML, "application/vnd.pypi.simple.v1+html; charset=utf-8"),
    ],
)
def test_latest_is_answered_with_the_concrete_type(client, published, accept, expected):
    # PEP 691: the answer names the version it holds, never "latest".
    client.get("/simple/sample-project/", headers={"Accept": JSON})  # caches both formats
    headers, _body = cached_simple_answer(environ(HTTP_ACCEPT=accept))
    assert dict(headers)["Content-Type"] == expected


def test_head_has_length_but_no_body(client, published):
    client.get("/simple/sample-project/")
    headers, body = cached_simple_answer(environ(REQUEST_METHOD="HEAD"))
    assert body == b""
    assert int(dict(headers)["Content-Length"]) > 0


def test_miss_goes_to_django(published):
    assert cached_simple_answer(environ()) is None


def test_project_change_is_never_served_stale(
    client, published, owner, django_capture_on_commit_callbacks
):
    client.get("/simple/sample-project/")
    with django_capture_on_commit_callbacks(execute=True):
        release_yank(release=Release.objects.get(), reason="broken", actor=Actor(owner))
    assert cached_simple_answer(environ()) is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"REQUEST_METHOD": "POST"},
        {"QUERY_STRING": "format=" + JSON},
        {"HTTP_IF_NONE_MATCH": '"x"'},
        {"HTTP_IF_MODIFIED_SINCE": "Sat, 01 Jan 2000 00:00:00 GMT"},
        {"wsgi.url_scheme": "https"},
        {"HTTP_HOST": "evil.example"},
        {"HTTP_HOST": ""},
        {"PATH_INFO": "/simple/Sample.Project/"},
        {"PATH_INFO": "/simple/sample-project"},
        {"PATH_INFO": "/admin/"},
    ],
)
def test_anything_unusual_goes_to_django(client, published, overrides):
    client.get("/simple/sample-project/")
    assert cached_simple_answer(environ(**overrides)) is None


def test_wsgi_wrapper_answers_hits_and_passes_the_rest(client, published):
    client.get("/simple/sample-project/")
    calls = []

    def django_app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        start_response("404 Not Found", [])
        return [b"django"]

    started = []
    app = SimpleFastPath(django_app)
    body = app(environ(), lambda status, headers: started.append(status))
    assert started == ["200 OK"]
    assert published.filename.encode() in b"".join(body)
    assert app(environ("/other/"), lambda status, headers: started.append(status)) == [b"django"]
    assert calls == ["/other/"]


def test_security_headers_follow_settings(settings):
    fastpath._security_headers.cache_clear()
    settings.SECURE_CONTENT_TYPE_NOSNIFF = False
    settings.SECURE_REFERRER_POLICY = None
    settings.SECURE_CROSS_ORIGIN_OPENER_POLICY = None
    try:
        assert fastpath._security_headers() == (("X-Frame-Options", "DENY"),)
    finally:
        fastpath._security_headers.cache_clear()


# --- downloads ----------------------------------------------------------------------


def file_environ(dist, suffix="", **extra):
    path = file_path(blake2_256_digest=dist.blake2_256, filename=dist.filename) + suffix
    return environ(f"/packages/{path}", **extra)


def test_download_matches_django(client, published):
    env = file_environ(published)
    django_response = client.get(env["PATH_INFO"])
    headers, handle = file_answer(env)
    with handle:
        assert handle.read() == published.content
    assert dict(headers) == dict(django_response.items())


def test_metadata_download_matches_django(client, published):
    metadata = published.metadata.encode()
    stored = File.objects.get()
    stored.metadata_sha256_digest = hashlib.sha256(metadata).hexdigest()
    stored.save()
    files_storage().save(stored.path + ".metadata", ContentFile(metadata))
    env = file_environ(published, ".metadata")
    django_response = client.get(env["PATH_INFO"])
    headers, handle = file_answer(env)
    with handle:
        assert handle.read() == metadata
    assert dict(headers) == dict(django_response.items())


@pytest.mark.parametrize(
    "overrides",
    [
        {"REQUEST_METHOD": "HEAD"},
        {"HTTP_RANGE": "bytes=0-10"},
        {"HTTP_IF_NONE_MATCH": '"x"'},
        {"QUERY_STRING": "x=1"},
        {"PATH_INFO": "/packages/source/s/sample/x.tar.gz"},
    ],
)
def test_unusual_downloads_go_to_django(published, overrides):
    assert file_answer(file_environ(published, **overrides)) is None


@pytest.mark.parametrize("suffix", ["\x00", "\n", "x" * 300])
def test_a_filename_no_row_could_hold_is_not_looked_up(
    published, suffix, django_assert_num_queries
):
    # Django's file route refuses it too (a 404); PostgreSQL would refuse the NUL.
    with django_assert_num_queries(0):
        assert file_answer(file_environ(published, suffix)) is None


def test_stored_object_without_a_row_goes_to_django(published):
    File.objects.all().delete()
    assert file_answer(file_environ(published)) is None


def test_row_without_a_stored_object_goes_to_django(published):
    files_storage().delete(File.objects.get().path)
    assert file_answer(file_environ(published)) is None


def test_object_store_downloads_go_to_django(published, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "files": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    storages._storages.pop("files", None)
    assert file_answer(file_environ(published)) is None


def test_database_error_hands_over_to_django(published, monkeypatch):
    closed = []

    def broken(path):
        raise DatabaseError("server closed the connection")

    monkeypatch.setattr(fastpath.files, "lookup", broken)
    monkeypatch.setattr(fastpath.connection, "close", lambda: closed.append(True))
    assert file_answer(file_environ(published)) is None
    assert closed == [True]


def test_wsgi_wrapper_sends_files_with_the_servers_file_wrapper(published):
    wrapped = []

    def file_wrapper(handle, block_size):
        wrapped.append(block_size)
        return handle

    app = SimpleFastPath(lambda environ, start_response: [b"django"])
    statuses = []
    handle = app(
        file_environ(published, **{"wsgi.file_wrapper": file_wrapper}),
        lambda s, h: statuses.append(s),
    )
    with handle:
        assert handle.read() == published.content
    assert statuses == ["200 OK"] and wrapped == [256 * 1024]


def test_wsgi_wrapper_without_file_wrapper_streams_blocks(published):
    app = SimpleFastPath(lambda environ, start_response: [b"django"])
    body = app(file_environ(published), lambda status, headers: None)
    assert b"".join(body) == published.content
