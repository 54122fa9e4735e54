"""packages.search: the index kept from releases, and the queries over it.

Tests marked ``on_postgresql`` run PostgreSQL's own SQL (full text, trigrams)
and are skipped on SQLite. The ``plain`` fixture makes search take the plain
backend whatever the database, so that backend is tested under PostgreSQL too.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.paginator import Paginator
from django.db import connection
from packaging.utils import canonicalize_name

from packages import search as search_module
from packages.models import Classifier, Project, Release, SearchDocument
from packages.search import (
    MAX_DESCRIPTION_BYTES,
    MAX_QUERY_LENGTH,
    SearchResults,
    clean_query,
    normalize_query,
    search,
    search_index_update,
    suggest_names,
)
from tests.factories import make_release

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's full-text and trigram search"
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
DJANGO = "Framework :: Django"
PY3 = "Programming Language :: Python :: 3"
MIT = "License :: OSI Approved :: MIT License"


def indexed(name: str, version: str = "1.0", *, days: int = 0, **fields) -> Project:
    """A project whose release ``version`` was made ``days`` after T0, indexed."""
    project, _ = Project.objects.get_or_create(
        normalized_name=canonicalize_name(name), defaults={"name": name}
    )
    release = make_release(project, version, **fields)
    Release.objects.filter(pk=release.pk).update(created_at=T0 + timedelta(days=days))
    search_index_update(project)
    return project


def names(results) -> list[str]:
    return [document.name for document in results]


@pytest.fixture
def plain(monkeypatch):
    """Search through the plain backend (SQLite's), whatever the database."""

    class PlainConnection:
        vendor = "sqlite"

    monkeypatch.setattr(search_module, "connection", PlainConnection())


@pytest.fixture(params=["native", "plain"])
def any_backend(request):
    """Each behaviour every backend must have, once per backend."""
    if request.param == "plain":
        request.getfixturevalue("plain")
    return request.param


# --- The index -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_document_holds_the_latest_release():
    project = Project.objects.create(name="Widget.Tools", normalized_name="widget-tools")
    make_release(project, "1.0", summary="Old summary")
    latest = make_release(
        project,
        "2.0",
        summary="Tools for widgets",
        keywords="widget,tools",
        description="Long text about widgets.",
        author="Ada Lovelace",
        author_email="ada@example.com",
        maintainer="",
        maintainer_email="grace@example.com",
        classifiers=[PY3, MIT],
    )
    search_index_update(project)

    document = SearchDocument.objects.get(project=project)
    assert (document.name, document.normalized_name, document.version) == (
        "Widget.Tools",
        "widget-tools",
        "2.0",
    )
    assert document.summary == "Tools for widgets"
    assert document.keywords == "widget,tools"
    assert document.description == "Long text about widgets."
    assert document.people == "Ada Lovelace ada@example.com grace@example.com"
    assert document.released_at == latest.created_at
    assert document.created_at == project.created_at
    assert sorted(document.classifiers.values_list("name", flat=True)) == [MIT, PY3]
    assert str(document) == "Widget.Tools"


@pytest.mark.django_db
def test_a_yanked_latest_release_gives_way_to_the_previous_one():
    project = indexed("widget", "1.0", summary="One")
    release = make_release(project, "2.0", summary="Two")
    search_index_update(project)
    assert SearchDocument.objects.get(project=project).version == "2.0"

    Release.objects.filter(pk=release.pk).update(yanked=True)
    search_index_update(project)
    document = SearchDocument.objects.get(project=project)
    assert (document.version, document.summary) == ("1.0", "One")


@pytest.mark.django_db
def test_classifiers_follow_the_latest_release_and_rows_are_shared():
    first = indexed("widget", "1.0", classifiers=[PY3, DJANGO])
    indexed("gadget", "1.0", classifiers=[PY3])
    indexed("widget", "2.0", classifiers=[PY3, MIT])

    document = SearchDocument.objects.get(project=first)
    assert sorted(document.classifiers.values_list("name", flat=True)) == [MIT, PY3]
    # One row per classifier, whoever uses it; an unused one stays for later.
    assert sorted(Classifier.objects.values_list("name", flat=True)) == [DJANGO, MIT, PY3]


@pytest.mark.django_db
def test_twenty_classifiers_take_a_fixed_number_of_queries(django_assert_max_num_queries):
    project = Project.objects.create(name="widget", normalized_name="widget")
    many = [f"Topic :: Widgets :: Kind {number}" for number in range(20)]
    make_release(project, "1.0", classifiers=many)
    with django_assert_max_num_queries(12):
        search_index_update(project)
    document = SearchDocument.objects.get(project=project)
    assert document.classifiers.count() == 20


@pytest.mark.django_db
def test_the_stored_description_is_capped_without_a_broken_character():
    description = "x" * (MAX_DESCRIPTION_BYTES - 1) + "é" + "tail"
    project = indexed("widget", description=description)
    stored = SearchDocument.objects.get(project=project).description
    assert stored == "x" * (MAX_DESCRIPTION_BYTES - 1)


@pytest.mark.django_db
def test_deleting_the_last_release_removes_the_document():
    project = indexed("widget")
    Release.objects.filter(project=project).delete()
    search_index_update(project)
    assert not SearchDocument.objects.filter(project=project).exists()
    search_index_update(project)  # nothing left to delete: no error
    assert search("widget").count() == 0


@pytest.mark.django_db
def test_a_new_release_is_found_at_once():
    project = indexed("widget", "1.0", summary="Widgets")
    assert search("sprocket").count() == 0
    indexed("widget", "2.0", summary="Widgets and sprockets")
    assert names(search("sprocket")) == ["widget"]
    assert search("sprocket")[0].project_id == project.pk


# --- Queries: every backend ------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "   ", "\x00"])
@pytest.mark.django_db
def test_an_empty_query_without_classifiers_finds_nothing(any_backend, query):
    indexed("widget", summary="Widgets")
    results = search(query)
    assert results.count() == 0
    assert list(results) == []
    assert Paginator(results, 20).page(1).object_list == []


@pytest.mark.django_db
def test_classifiers_alone_list_documents_having_all_of_them_newest_first(any_backend):
    indexed("old-both", classifiers=[PY3, DJANGO], days=1)
    indexed("new-both", classifiers=[PY3, DJANGO, MIT], days=5)
    indexed("only-py3", classifiers=[PY3], days=9)
    assert names(search("", classifiers=[PY3, DJANGO])) == ["new-both", "old-both"]
    assert names(search("", classifiers=[PY3])) == ["only-py3", "new-both", "old-both"]
    assert names(search("  ", classifiers=[DJANGO, DJANGO])) == ["new-both", "old-both"]


@pytest.mark.django_db
def test_an_unknown_classifier_matches_nothing(any_backend):
    indexed("widget", summary="Widgets", classifiers=[PY3])
    assert search("", classifiers=[PY3, "Not :: A :: Classifier"]).count() == 0
    assert search("widget", classifiers=["Not :: A :: Classifier"]).count() == 0


@pytest.mark.django_db
def test_a_query_and_classifiers_both_filter(any_backend):
    indexed("widget-django", summary="Widgets for Django", classifiers=[PY3, DJANGO])
    indexed("widget-plain", summary="Widgets", classifiers=[PY3])
    indexed("gadget-django", summary="Gadgets", classifiers=[PY3, DJANGO])
    assert names(search("widgets", classifiers=[DJANGO, PY3])) == ["widget-django"]


@pytest.mark.django_db
def test_the_exact_name_comes_first_even_when_others_say_it_more(any_backend):
    for number in range(3):
        indexed(
            f"lib{number}",
            summary="widget widget widget",
            keywords="widget",
            description="widget " * 50,
            days=10 + number,
        )
    indexed("widget", summary="Something else entirely", days=0)
    results = names(search("widget"))
    assert results[0] == "widget"
    assert sorted(results[1:]) == ["lib0", "lib1", "lib2"]


@pytest.mark.parametrize("query", ["Flask_SQLAlchemy", "flask.sqlalchemy", "FLASK-SQLALCHEMY"])
@pytest.mark.django_db
def test_the_exact_name_is_compared_normalized(any_backend, query):
    indexed("Flask-SQLAlchemy", summary="Adds SQLAlchemy support to Flask")
    indexed("flask-sqlalchemy-extras", summary="More for Flask-SQLAlchemy")
    assert names(search(query))[0] == "Flask-SQLAlchemy"


@pytest.mark.django_db
def test_a_part_of_a_compound_name_finds_it(any_backend):
    indexed("requests-oauthlib", summary="OAuthlib authentication support for Requests.")
    indexed("zope.interface", summary="Interfaces for Python")
    assert names(search("oauthlib")) == ["requests-oauthlib"]
    assert names(search("interface")) == ["zope.interface"]


@pytest.mark.django_db
def test_name_beats_summary_beats_description(any_backend):
    # The newest in the description, the oldest in the name: the order comes
    # from where the word is, not from the dates.
    indexed("description-one", description="All about the zebra.", days=30)
    indexed("keywords-one", keywords="zebra,stripes", days=20)
    indexed("summary-one", summary="A zebra library", days=10)
    indexed("zebra-tools", summary="Tools", days=0)
    results = names(search("zebra"))
    assert results[0] == "zebra-tools"
    assert set(results[1:3]) == {"summary-one", "keywords-one"}
    assert results[3] == "description-one"


@pytest.mark.django_db
def test_order_by_date_puts_the_latest_release_first(any_backend):
    indexed("zebra", summary="The zebra itself", days=1)
    indexed("zebra-tools", summary="Zebra tools", days=3)
    indexed("stripes", description="Made for the zebra.", days=2)
    assert names(search("zebra", order="date")) == ["zebra-tools", "stripes", "zebra"]
    # Any other order is relevance.
    assert names(search("zebra", order="popularity"))[0] == "zebra"


@pytest.mark.django_db
def test_pages_through_the_paginator_cover_every_result_once(any_backend):
    for number in range(45):
        indexed(f"widget-{number:02d}", summary=f"Widget number {number}", days=number)
    paginator = Paginator(search("widget"), 20)
    assert (paginator.count, paginator.num_pages) == (45, 3)
    pages = [names(paginator.page(number).object_list) for number in (1, 2, 3)]
    assert [len(page) for page in pages] == [20, 20, 5]
    every = [name for page in pages for name in page]
    assert sorted(every) == [f"widget-{number:02d}" for number in range(45)]


@pytest.mark.parametrize(
    "query",
    [
        "'; DROP TABLE packages_project; --",
        "%",
        "_",
        "\\",
        "a & b | !c",
        "(((",
        '"unclosed',
        ":*",
        "-",
        "or",
        "<->",
        "zebra\x00",
        "%s %(name)s",
    ],
)
@pytest.mark.django_db
def test_sql_and_tsquery_syntax_in_a_query_is_only_text(any_backend, query):
    indexed("zebra", summary="The zebra")
    indexed("widget", summary="100% widgets")
    results = search(query)
    found = names(results)
    assert len(found) == results.count()
    assert Project.objects.count() == 2
    if query in {"%", "_", "%s %(name)s"}:
        # LIKE wildcards are escaped: "%" finds the one summary with a "%".
        assert found in ([], ["widget"])
        assert "zebra" not in found
    if query == "zebra\x00":
        assert found == ["zebra"]


@pytest.mark.django_db
def test_a_long_query_is_cut_and_still_works(any_backend):
    indexed("widget", summary="Widgets")
    query = "widget " * 43  # 301 characters
    assert len(query) > 300
    assert names(search(query)) == ["widget"]
    assert names(search("widget" + " x" * 150)) == []  # the words that stay must match
    assert search("w" * 300).count() == 0


@pytest.mark.parametrize(
    ("query", "cleaned"),
    [
        (" widget\x00 ", "widget"),
        ("wid\x1bget\x7f\x01", "widget"),
        ("two\twords", "two\twords"),
        ("a" * 199 + " bcd", "a" * 199),
        ("a" * 200 + " bcd", "a" * 200),
        ("a" * 250, "a" * 200),
        ("ab " * 100, ("ab " * 67).strip()),
    ],
)
def test_queries_are_cut_at_a_word(query, cleaned):
    assert clean_query(query) == cleaned


# --- SearchResults ---------------------------------------------------------------------


@pytest.mark.django_db
def test_results_are_counted_up_to_the_cap(monkeypatch, any_backend):
    monkeypatch.setattr(search_module, "MAX_RESULTS", 3)
    for number in range(5):
        indexed(f"widget-{number}", days=number)
    results = search("widget", order="date")
    assert (results.count(), len(results), results.capped) == (3, 3, True)
    assert names(results) == ["widget-4", "widget-3", "widget-2"]
    assert names(results[2:10]) == ["widget-2"]
    assert results[10:20] == []
    assert search("widget-1").capped is False


@pytest.mark.django_db
def test_results_take_indexes_and_refuse_steps():
    for number in range(3):
        indexed(f"widget-{number}", days=number)
    results = search("widget", order="date")
    assert results[0].name == "widget-2"
    assert results[2].name == "widget-0"
    with pytest.raises(IndexError):
        results[3]
    with pytest.raises(IndexError):
        results[-1]
    with pytest.raises(ValueError, match="no step"):
        results[::2]


@pytest.mark.django_db
def test_results_walk_their_parts_in_order():
    first = SearchDocument.objects.none()
    indexed("a", days=1)
    indexed("b", days=2)
    indexed("c", days=3)
    everything = SearchDocument.objects.order_by("name")
    results = SearchResults(
        everything.filter(name="c"), first, everything.exclude(name="c"), everything.none()
    )
    assert results.count() == 3
    assert names(results) == ["c", "a", "b"]
    assert names(results[1:2]) == ["a"]
    assert names(results[1:]) == ["a", "b"]
    assert names(results[0:1]) == ["c"]


def test_queries_are_normalized_like_names():
    assert normalize_query("  Flask_SQLAlchemy ") == "flask-sqlalchemy"
    assert normalize_query("flask  sqlalchemy") == "flask-sqlalchemy"
    assert normalize_query("-._") == ""
    assert MAX_QUERY_LENGTH == 200


# --- Queries: the plain backend (SQLite's), on any database ----------------------------


@pytest.mark.django_db
def test_plain_every_word_must_match_somewhere(plain):
    indexed("zebra", summary="Striped")
    indexed("zebra-tools", description="Tools for the quagga too")
    indexed("quagga", summary="Extinct")
    assert names(search("zebra quagga")) == ["zebra-tools"]
    assert names(search("ZEBRA")) == ["zebra", "zebra-tools"]


@pytest.mark.django_db
def test_plain_ranks_exact_then_prefix_then_by_field(plain):
    indexed("a-zebra", summary="Contains it in the name", days=1)
    indexed("zebra-tools", days=2)
    indexed("people", author="Zebra Crossing", days=3)
    indexed("summary", summary="A zebra", days=4)
    indexed("readme", description="zebra", days=5)
    indexed("zebra", days=6)
    assert names(search("zebra")) == [
        "zebra",
        "zebra-tools",
        "a-zebra",
        "summary",
        "people",
        "readme",
    ]


@pytest.mark.django_db
def test_plain_finds_a_name_written_with_other_separators(plain):
    indexed("zope.interface", summary="Interfaces")
    assert names(search("zope_interface")) == ["zope.interface"]
    assert names(search("zope interface")) == ["zope.interface"]


@pytest.mark.django_db
def test_plain_suggestions_are_prefixes_only(plain):
    indexed("requests")
    indexed("requests-oauthlib")
    assert suggest_names("request") == ["requests", "requests-oauthlib"]
    assert suggest_names("reqeusts") == []


# --- Queries: PostgreSQL ---------------------------------------------------------------


@on_postgresql
@pytest.mark.django_db
def test_postgresql_finds_a_misspelt_name():
    indexed("requests", summary="HTTP for Humans.")
    indexed("flask", summary="A simple framework for building complex web applications.")
    assert names(search("reqeusts")) == ["requests"]
    assert names(search("reqeusts", order="date")) == ["requests"]
    assert names(search("flaks")) == ["flask"]


@on_postgresql
@pytest.mark.django_db
def test_postgresql_looks_for_similar_names_only_when_few_documents_match():
    indexed("requests", summary="HTTP for Humans.")
    indexed("requesta", summary="Unrelated")
    # An exact name: no similar names around it.
    assert names(search("requests")) == ["requests"]
    # A word many projects hold: no similar names either.
    for number in range(search_module.TYPO_FALLBACK_BELOW):
        indexed(f"client-{number}", summary="Makes a requesto")
    assert "requesta" not in names(search("requesto"))
    assert search("requesto").count() == search_module.TYPO_FALLBACK_BELOW


@on_postgresql
@pytest.mark.django_db
def test_postgresql_stems_words():
    indexed("parsers", summary="Parsing library")
    indexed("widget", description="It parses widgets.")
    assert names(search("parser")) == ["parsers"]
    assert names(search("parse")) == ["parsers", "widget"]


@on_postgresql
@pytest.mark.django_db
def test_postgresql_ranks_names_by_how_well_they_match():
    indexed("zebra-crossing-tools-extra", summary="Zebra")
    indexed("zebra-crossing", summary="Zebra")
    indexed("crossing", summary="A zebra crossing", days=10)
    assert names(search("zebra crossing")) == [
        "zebra-crossing",
        "zebra-crossing-tools-extra",
        "crossing",
    ]


@on_postgresql
@pytest.mark.django_db
def test_postgresql_terms_may_be_spread_over_the_fields():
    # The name holds one term, the description the other: still part 1.
    indexed("zebra", description="It comes with a quagga.", days=0)
    indexed("stripes", summary="Zebra and quagga", days=5)
    indexed("horses", description="Zebra and quagga", days=9)
    indexed("zebra-two", summary="No other animal", days=9)
    assert names(search("zebra quagga")) == ["zebra", "stripes", "horses"]


@on_postgresql
@pytest.mark.django_db
def test_postgresql_excludes_a_term_with_a_minus():
    indexed("zebra", summary="Striped", description="Not a quagga.")
    indexed("zebra-tools", summary="Tools")
    indexed("stripes", summary="Zebra stripes")
    assert names(search("zebra -quagga")) == ["zebra-tools", "stripes"]


@on_postgresql
@pytest.mark.django_db
def test_postgresql_quoted_phrases():
    indexed("one", summary="zebra crossing")
    indexed("two", summary="crossing zebra")
    assert names(search('"zebra crossing"')) == ["one"]


@on_postgresql
@pytest.mark.django_db
def test_postgresql_a_stop_word_name_is_still_found_exactly():
    indexed("this", summary="A project named after a stop word")
    indexed("that", summary="Another one")
    assert names(search("this")) == ["this"]


@on_postgresql
@pytest.mark.django_db
def test_postgresql_suggestions_add_similar_names_after_prefixes():
    indexed("requests")
    indexed("requests-toolbelt")
    indexed("requestz")
    indexed("flask")
    assert suggest_names("requests") == ["requests", "requests-toolbelt", "requestz"]
    assert suggest_names("reqeusts") == ["requests"]
    assert suggest_names("requests", limit=2) == ["requests", "requests-toolbelt"]


@on_postgresql
@pytest.mark.django_db
def test_postgresql_migration_0003_reverses_and_applies_again():
    from django.db.migrations.executor import MigrationExecutor

    def columns() -> set[str]:
        with connection.cursor() as cursor:
            description = connection.introspection.get_table_description(
                cursor, "packages_searchdocument"
            )
        return {column.name for column in description}

    wanted = {"search_vector", "search_head", "search_name"}
    assert wanted <= columns()
    executor = MigrationExecutor(connection)
    executor.migrate([("packages", "0002_search_and_rendered_descriptions")])
    assert not wanted & columns()
    executor = MigrationExecutor(connection)
    executor.migrate([("packages", "0003_search_postgresql")])
    assert wanted <= columns()
    # The later migrations (quarantine columns among them) went back too.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    indexed("zebra", summary="Stripes")
    assert names(search("stripes")) == ["zebra"]


# --- Suggestions -----------------------------------------------------------------------


@pytest.mark.django_db
def test_suggestions_start_with_the_normalized_prefix_shortest_first(any_backend):
    indexed("Flask-SQLAlchemy")
    indexed("flask")
    indexed("Flask_Login")
    indexed("django")
    assert suggest_names("Flask") == ["flask", "Flask_Login", "Flask-SQLAlchemy"]
    # (PostgreSQL adds similar names after those starting with the prefix.)
    assert suggest_names("flask_s")[:1] == ["Flask-SQLAlchemy"]
    assert suggest_names("FLASK", limit=1) == ["flask"]


@pytest.mark.parametrize("prefix", ["", "  ", "-", "\x00"])
@pytest.mark.django_db
def test_no_suggestions_for_nothing(any_backend, prefix):
    indexed("flask")
    assert suggest_names(prefix) == []


@pytest.mark.django_db
def test_no_suggestions_when_none_are_wanted():
    indexed("flask")
    assert suggest_names("fl", limit=0) == []
