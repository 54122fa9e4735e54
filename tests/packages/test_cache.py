import multiprocessing

import pytest
from django.core.cache import cache

from packages import simple
from packages.cache import (
    LocalPages,
    local_pages,
    local_seconds,
    purge_project,
    simple_detail_key,
    simple_index_key,
)
from packages.models import Project
from packages.simple import CachedPage
from pypi_site.fastpath import cached_simple_answer
from tests.factories import add_file, make_release, make_wheel


def test_purge_deletes_both_formats_and_the_index():
    keys = [simple_detail_key("demo", "html"), simple_detail_key("demo", "json")]
    keys += [simple_index_key("html"), simple_index_key("json"), simple_detail_key("other", "html")]
    for key in keys:
        cache.set(key, "page")
    purge_project("demo")
    assert [cache.get(key) for key in keys] == [None, None, None, None, "page"]


def test_a_purge_in_another_worker_process_reaches_this_one():
    # gunicorn's workers are forked processes: the page this one cached must
    # be gone once another worker purged it (the embedded default included).
    cache.set(simple_detail_key("demo", "html"), "page")
    other_worker = multiprocessing.get_context("fork").Process(target=purge_project, args=("demo",))
    other_worker.start()
    other_worker.join(30)
    assert other_worker.exitcode == 0
    assert cache.get(simple_detail_key("demo", "html")) is None


# --- Each process's copies in front of the shared cache ----------------------------------


class Clock:
    """time.monotonic as the tests move it."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("packages.cache.monotonic", clock)
    return clock


@pytest.fixture
def shared_calls(monkeypatch):
    """Every read of the shared cache (Redis or the disk), by key."""
    calls = []
    read = cache.get

    def counted(key, *args, **kwargs):
        calls.append(key)
        return read(key, *args, **kwargs)

    monkeypatch.setattr(cache, "get", counted)
    return calls


def _publish(name="sample-project", version="1.0"):
    project = Project.objects.get_or_create(name=name, normalized_name=name)[0]
    add_file(make_release(project, version), make_wheel(name, version))


def _store_elsewhere(key, page):
    # What another server process does: drop the shared copy, store its own.
    cache.delete(key)
    cache.set(key, page)


def _other_process(target, *args):
    process = multiprocessing.get_context("fork").Process(target=target, args=args)
    process.start()
    process.join(30)
    assert process.exitcode == 0


@pytest.mark.django_db
def test_a_hot_page_costs_no_shared_cache_call(settings, clock, shared_calls):
    settings.PAGE_LOCAL_CACHE_SECONDS = 1
    _publish()
    rendered = simple.detail_page("sample-project", "html")
    shared_calls.clear()

    for _ in range(3):
        answer = cached_simple_answer(
            {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": "/simple/sample-project/",
                "HTTP_HOST": "127.0.0.1:8000",
                "wsgi.url_scheme": "http",
            }
        )
        assert answer[1] == rendered.body
        assert dict(answer[0])["X-PyPI-Last-Serial"] == rendered.serial
    assert shared_calls == []


@pytest.mark.django_db
def test_a_change_elsewhere_shows_here_once_the_copy_is_due(settings, clock, shared_calls):
    settings.PAGE_LOCAL_CACHE_SECONDS = 1
    key = simple_detail_key("demo", "html")
    old, new = CachedPage(b"old", "1", "1"), CachedPage(b"new", "2", "2")
    cache.set(key, old)
    assert simple.cached_detail_page("demo", "html") == old

    _other_process(_store_elsewhere, key, new)
    clock.now += 0.9
    assert simple.cached_detail_page("demo", "html") == old
    clock.now += 0.1
    assert simple.cached_detail_page("demo", "html") == new
    assert shared_calls == [key, key]

    # A purge made in this process drops its own copy at once.
    purge_project("demo")
    assert simple.cached_detail_page("demo", "html") is None


@pytest.mark.django_db
def test_no_copy_kept_when_switched_off(settings, shared_calls):
    settings.PAGE_LOCAL_CACHE_SECONDS = 0
    _publish()
    simple.detail_page("sample-project", "json")
    simple.detail_page("sample-project", "json")
    simple.cached_index_page("json")
    assert len(local_pages) == 0
    assert len(shared_calls) == 3


def test_copies_are_bounded_in_bytes_and_entries(settings, clock):
    settings.PAGE_LOCAL_CACHE_SECONDS = 1
    pages = LocalPages(max_bytes=10_000, max_entries=4)
    for index in range(6):
        pages.put(f"page{index}", index, 1_000)
    assert len(pages) == 4
    assert pages.get("page0") is None
    assert pages.get("page2") == 2  # now the most recently used

    pages.put("big", "big", 3_000)
    pages.put("big", "bigger", 3_000)  # replaced, counted once
    pages.put("huge", "huge", 10_000)  # more than the whole bound: never kept
    assert pages.size <= 10_000
    assert pages.get("huge") is None
    assert pages.get("big") == "bigger"
    assert pages.get("page2") == 2
    assert pages.get("page3") is None  # the least recently used went first

    clock.now += 1
    assert pages.get("big") is None  # due: dropped
    assert len(pages) == 3
    pages.clear()
    assert (len(pages), pages.size) == (0, 0)


def test_copies_live_less_than_the_edge_purge_echo(settings):
    # The echo purge takes from an edge a page fetched from a copy made before
    # the change: the copy must be gone by then.
    # With the defaults behind an edge: no copies (the echo comes after 1 s).
    settings.EDGE_PURGE_URLS = ["http://127.0.0.1:8001"]
    assert local_seconds() == 0
    settings.EDGE_PURGE_URLS = []
    assert local_seconds() == settings.PAGE_LOCAL_CACHE_SECONDS == 1
    settings.PAGE_LOCAL_CACHE_SECONDS = 5
    assert local_seconds() == 5  # no edge to purge: only this bound
    settings.EDGE_PURGE_URLS = ["http://127.0.0.1:8001"]
    settings.EDGE_PURGE_ECHO_SECONDS = 3
    assert local_seconds() == 2
    settings.EDGE_PURGE_ECHO_SECONDS = 0
    assert local_seconds() == 0
    settings.EDGE_PURGE_URLS = []
    settings.FASTLY_API_TOKEN, settings.FASTLY_SERVICE_ID = "token", "service"
    settings.EDGE_PURGE_ECHO_SECONDS = 2
    assert local_seconds() == 1
    settings.FASTLY_SERVICE_ID = ""
    assert local_seconds() == 5
