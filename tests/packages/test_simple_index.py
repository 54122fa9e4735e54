"""/simple/ for many projects: streamed from the database chunk by chunk, the
same bytes as one whole document, in memory bounded by the page itself."""

import hashlib
import json
import tracemalloc

import pytest
from django.core.cache import cache

from packages import simple
from packages.cache import simple_index_key
from packages.models import JournalEntry, Project

JSON = "application/vnd.pypi.simple.v1+json"


def make_projects(count: int) -> list[tuple[str, str, int]]:
    """``count`` visible projects and one quarantined; (name, normalized, serial) by name."""
    rows = [(f"Project_{index:05}", f"project-{index:05}", index * 7) for index in range(count)]
    Project.objects.bulk_create(
        Project(name=name, normalized_name=normalized, last_serial=serial)
        for name, normalized, serial in rows
    )
    Project.objects.create(
        name="hidden", normalized_name="hidden", quarantined_at="2024-01-01T00:00:00Z"
    )
    JournalEntry.objects.create(name="x", action="create", id=count * 7 + 1)
    return rows


@pytest.mark.parametrize("count", [0, 1, 5, 6])
def test_index_across_chunk_boundaries_is_the_whole_document(client, db, monkeypatch, count):
    # 5 and 6 rows in chunks of 2: a last chunk partly filled, and one full.
    monkeypatch.setattr(simple, "INDEX_CHUNK_ROWS", 2)
    rows = make_projects(count)
    serial = count * 7 + 1

    html = client.get("/simple/")
    data = client.get("/simple/", headers={"Accept": JSON})

    assert (
        html.content
        == (
            "<!DOCTYPE html>\n<html>\n  <head>\n"
            '    <meta name="pypi:repository-version" content="1.5">\n'
            "    <title>Simple index</title>\n  </head>\n  <body>\n"
            + "".join(f'    <a href="/simple/{normal}/">{name}</a>\n' for name, normal, _ in rows)
            + "  </body>\n</html>\n"
        ).encode()
    )
    assert (
        data.content
        == json.dumps(
            {
                "meta": {"api-version": "1.5", "_last-serial": serial},
                "projects": [{"name": name, "_last-serial": last} for name, _, last in rows],
            },
            separators=(",", ":"),
        ).encode()
    )
    for response in (html, data):
        digest = hashlib.blake2b(response.content, digest_size=16).hexdigest()
        assert response["ETag"] == f'"{digest}"'
        assert response["X-PyPI-Last-Serial"] == str(serial)


def test_index_names_are_escaped_in_html_and_json(client, db):
    Project.objects.create(name='a"b<c>', normalized_name="a-b-c")

    html = client.get("/simple/").content
    data = json.loads(client.get("/simple/", headers={"Accept": JSON}).content)

    assert b'<a href="/simple/a-b-c/">a&quot;b&lt;c&gt;</a>' in html
    assert data["projects"] == [{"name": 'a"b<c>', "_last-serial": 0}]


def test_index_is_built_in_memory_bounded_by_its_pages(db, monkeypatch):
    # Before: every project as a tuple, an HTML fragment and a JSON dict at
    # once, several times the pages' size (and growing with the projects).
    # Now: the two bodies, the cache's serialized copy of them, and one chunk.
    monkeypatch.setattr(simple, "INDEX_CHUNK_ROWS", 100)
    make_projects(6000)
    simple.index_page("html")  # the code paths' own first-use allocations
    cache.clear()
    simple.local_pages.clear()

    tracemalloc.start()
    try:
        page = simple.index_page("html")
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    pages = len(page.body) + len(cache.get(simple_index_key("json")).body)
    assert pages > 500_000
    assert peak < 3 * pages
