"""The WSGI fast path answers cached simple pages exactly as Django would."""

import pytest
from django.core.files.base import ContentFile

from packages.models import File, Release
from packages.services import release_yank
from packages.storage import file_path, files_storage
from pypi_site import fastpath
from pypi_site.fastpath import SimpleFastPath, cached_simple_answer
from tests.factories import make_wheel

pytestmark = pytest.mark.django_db

JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def published(project, owner):
    dist = make_wheel("sample-project", "1.0")
    release = Release.objects.create(
        project=project, version="1.0", canonical_version="1", metadata_version="2.1"
    )
    path = file_path(blake2_256_digest=dist.blake2_256, filename=dist.filename)
    files_storage().save(path, ContentFile(dist.content))
    File.objects.create(
        release=release,
        filename=dist.filename,
        packagetype="bdist_wheel",
        python_version="py3",
        size=len(dist.content),
        md5_digest=dist.md5,
        sha256_digest=dist.sha256,
        blake2_256_digest=dist.blake2_256,
        path=path,
    )
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
        release_yank(release=Release.objects.get(), reason="broken", actor=owner)
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
