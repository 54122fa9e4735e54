"""The search page and the classifier browse, over real search documents
(packages.search.search_index_update), on SQLite and PostgreSQL alike."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from packages import pages
from packages.models import Classifier, Project, Release
from packages.search import search_index_update
from tests.factories import make_release
from tests.packages.test_pages import assert_well_formed

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
DJANGO = "Framework :: Django"
PY3 = "Programming Language :: Python :: 3"
MIT = "License :: OSI Approved :: MIT License"


def indexed(name: str, *, summary: str = "", classifiers=(), days: int = 0) -> Project:
    normalized = name.lower().replace("_", "-").replace(".", "-")
    project = Project.objects.create(name=name, normalized_name=normalized)
    made = make_release(project, "1.0", summary=summary, classifiers=list(classifiers))
    Release.objects.filter(pk=made.pk).update(created_at=T0 + timedelta(days=days))
    search_index_update(project)
    return project


@pytest.fixture
def widgets(db):
    """45 projects matching "widget": 3 pages; every third one is for Django."""
    return [
        indexed(
            f"widget-{number:02d}",
            summary=f"Widget number {number}",
            classifiers=[PY3, DJANGO] if number % 3 == 0 else [PY3],
            days=number,
        )
        for number in range(45)
    ]


def result_names(response) -> list[str]:
    return [document.name for document in response.context["results"]]


# --- Empty and no-result states --------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?q=", "?q=+++", "?c=", "?order=date"])
@pytest.mark.django_db
def test_empty_query_shows_hints_not_results(client, widgets, query):
    response = client.get(f"/search/{query}")
    assert response.status_code == 200
    assert response.context["results"] is None
    assert_well_formed(response)
    text = response.content.decode()
    assert "What are you looking for?" in text
    assert 'href="/classifiers/"' in text
    assert "projects found" not in text
    assert response["Cache-Control"] == "public, max-age=60"


@pytest.mark.django_db
def test_no_results_state(client, widgets):
    response = client.get("/search/?q=zzyzx&c=" + DJANGO)
    assert response.status_code == 200
    assert_well_formed(response)
    text = response.content.decode()
    assert "No projects found" in text
    assert "Nothing matches “zzyzx” with 1 filter." in text
    assert "Remove a filter above." in text


@pytest.mark.django_db
def test_no_results_without_filters(client, widgets):
    text = client.get("/search/?q=zzyzx").content.decode()
    assert "Nothing matches “zzyzx”." in text
    assert "Remove a filter" not in text


# --- Results and pagination ------------------------------------------------------------


@pytest.mark.django_db
def test_results_show_name_version_summary_and_date(client, widgets):
    indexed("Gadget", summary="A <script>gadget</script> tool", days=3)
    response = client.get("/search/?q=gadget")
    assert response.status_code == 200
    assert_well_formed(response)
    text = response.content.decode()
    assert "1 project found" in text
    assert '<a href="/project/gadget/">Gadget</a>' in text
    assert '<span class="project-item__version">1.0</span>' in text
    assert "A &lt;script&gt;gadget&lt;/script&gt; tool" in text
    assert "<script>gadget" not in text
    assert 'datetime="2024-03-04T12:00:00+00:00"' in text
    assert "<title>Search results for “gadget” · Package Index</title>" in text
    assert 'value="gadget"' in text
    assert "Pagination" not in text  # one page only


@pytest.mark.django_db
def test_twenty_results_a_page_with_links_keeping_the_search(client, widgets):
    response = client.get(f"/search/?q=widget&order=date&c={PY3}")
    assert response.status_code == 200
    page = assert_well_formed(response)
    text = response.content.decode()
    assert "45 projects found" in text
    assert ", page 1 of 3" in text
    assert len(result_names(response)) == 20
    # Newest release first.
    assert result_names(response)[:2] == ["widget-44", "widget-43"]
    assert '<ol class="card-list" start="1">' in text
    links = [href for href in page.hrefs() if href.startswith("?")]
    pagination = response.context["pagination"]
    assert pagination["previous"] is None
    assert [item["number"] for item in pagination["pages"]] == [1, 2, 3]
    assert parse_qs(pagination["next"][1:]) == {
        "q": ["widget"],
        "c": [PY3],
        "order": ["date"],
        "page": ["2"],
    }
    assert pagination["next"] in links
    assert 'aria-current="page"><span class="visually-hidden">Page </span>1</a>' in text

    second = client.get("/search/" + pagination["next"])
    assert second.context["results"].number == 2
    assert (
        second.context["pagination"]["previous"]
        == "?q=widget&c=Programming+Language+%3A%3A+Python+%3A%3A+3&order=date"
    )
    assert result_names(second)[0] == "widget-24"
    assert '<ol class="card-list" start="21">' in second.content.decode()
    assert 'rel="prev"' in second.content.decode()
    assert 'rel="next"' in second.content.decode()

    last = client.get("/search/?q=widget&order=date&page=3")
    assert len(result_names(last)) == 5
    assert last.context["pagination"]["next"] is None
    assert 'rel="next"' not in last.content.decode()


@pytest.mark.parametrize(
    ("page", "expected"),
    [("abc", 1), ("", 1), ("1.5", 1), ("99", 3), ("-1", 3), ("0", 3), ("2", 2)],
)
@pytest.mark.django_db
def test_bad_page_numbers_give_the_first_or_last_page(client, widgets, page, expected):
    response = client.get(f"/search/?q=widget&page={page}")
    assert response.status_code == 200
    assert response.context["results"].number == expected


@pytest.mark.django_db
def test_order_relevance_is_the_default_and_unknown_orders_are_ignored(client, widgets):
    indexed("widget", summary="The widget itself", days=-5)
    response = client.get("/search/?q=widget&order=sideways")
    assert response.status_code == 200
    # The exact name first, whatever its date.
    assert result_names(response)[0] == "widget"
    assert '<option value="relevance" selected>' in response.content.decode()
    assert "sideways" not in response.context["pagination"]["next"]

    by_date = client.get("/search/?q=widget&order=date")
    assert result_names(by_date)[0] == "widget-44"
    assert '<option value="date" selected>' in by_date.content.decode()


# --- Classifier filters ----------------------------------------------------------------


@pytest.mark.django_db
def test_classifier_filters_show_as_removable_chips_and_hidden_inputs(client, widgets):
    response = client.get(f"/search/?q=widget&c={DJANGO}&c={PY3}&order=date")
    assert response.status_code == 200
    page = assert_well_formed(response)
    text = response.content.decode()
    assert "15 projects found" in text
    assert all(int(name[-2:]) % 3 == 0 for name in result_names(response))
    assert f'<input type="hidden" name="c" value="{DJANGO}">' in text
    assert f'<input type="hidden" name="c" value="{PY3}">' in text
    assert '<span class="chip__label">Framework :: Django</span>' in text
    assert "Remove the filter Framework :: Django" in text
    removes = [href for href in page.hrefs() if href.startswith("/search/?")]
    assert [parse_qs(href.split("?", 1)[1]) for href in removes] == [
        {"q": ["widget"], "c": [PY3], "order": ["date"]},
        {"q": ["widget"], "c": [DJANGO], "order": ["date"]},
    ]


@pytest.mark.django_db
def test_classifier_filter_alone_lists_its_projects(client, widgets):
    response = client.get(f"/search/?c={DJANGO}")
    assert response.context["results"].paginator.count == 15
    # The only chip's removal leads back to the empty search.
    assert '<a class="chip__remove" href="/search/">' in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", ["c=%1B", "c=A%7FB", "c=" + "x" * 3000, "q=%1B", "q=a%01b&c=%1B&order=%1B&page=%1B"]
)
def test_hostile_parameters_are_searched_without_them(client, widgets, query):
    # (A NUL never gets this far: common.http.refuse_nul_in_query.)
    response = client.get(f"/search/?{query}")
    assert response.status_code == 200
    search = response.context["search"]
    control = ("\x01", "\x1b", "\x7f")
    assert not any(c in value for c in control for value in (search.q, *search.classifiers))
    assert all(len(value) <= 255 for value in search.classifiers)


def test_control_characters_are_dropped_from_the_parameters():
    request = pages.SearchRequest.from_query(QueryDict("q=wid%00get%1B&c=A%00B&c=%00"))
    assert (request.q, request.classifiers) == ("widget", ("AB",))


def test_search_request_cleans_its_parameters():
    params = QueryDict(mutable=True)
    params["q"] = "  many   spaced\twords "
    params.setlist("c", [" A :: B ", "A :: B", "", *(f"C{n}" for n in range(20))])
    params["order"] = "date"
    request = pages.SearchRequest.from_query(params)
    assert request.q == "many spaced words"
    assert request.classifiers == ("A :: B", *(f"C{n}" for n in range(9)))
    assert request.order == "date"
    assert not request.is_empty
    assert pages.SearchRequest.from_query(QueryDict("q=" + "x" * 500)).q == "x" * 200
    assert pages.SearchRequest.from_query(QueryDict("order=date")).is_empty


def test_query_string():
    request = pages.SearchRequest(q="a b", classifiers=("X :: Y", "Z"), order="")
    assert request.query_string() == "q=a+b&c=X+%3A%3A+Y&c=Z"
    assert request.query_string(page=1) == "q=a+b&c=X+%3A%3A+Y&c=Z"
    assert request.query_string(page=4, without="Z") == "q=a+b&c=X+%3A%3A+Y&page=4"
    assert pages.SearchRequest(classifiers=("Z",)).query_string(without="Z") == ""


def test_pagination_elides_far_pages():
    request = pages.SearchRequest(q="x")
    page = Paginator(range(1000), 20).get_page(25)
    links = pages.search_pagination(request, page)
    numbers = [item.get("number", "…") for item in links["pages"]]
    assert numbers == [1, "…", 23, 24, 25, 26, 27, "…", 50]
    assert [item["number"] for item in links["pages"] if item.get("current")] == [25]
    assert links["previous"] == "?q=x&page=24"
    assert links["next"] == "?q=x&page=26"
    assert pages.search_pagination(request, Paginator(range(5), 20).get_page(1)) is None
    assert pages.search_pagination(request, None) is None


@pytest.mark.django_db
def test_search_page_query_count_does_not_grow_with_results(client, widgets):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"/search/?q=widget&c={PY3}&page=2")
        assert len(result_names(response)) == 20
        return len(captured)

    before = queries()
    for number in range(45, 90):
        indexed(f"widget-{number:02d}", classifiers=[PY3])
    # What search itself asks (the classifiers' ids, names like the query)
    # plus the count and the page, however many documents match.
    assert queries() == before <= 6


@pytest.mark.django_db
def test_search_page_304(client, widgets):
    response = client.get("/search/?q=widget")
    assert "Cookie" in response["Vary"]
    again = client.get("/search/?q=widget", headers={"if-none-match": response["ETag"]})
    assert again.status_code == 304


# --- Classifier browse -----------------------------------------------------------------


@pytest.mark.django_db
def test_classifier_browse_groups_counts_and_links(client, widgets):
    indexed("Licensed", classifiers=[MIT, PY3])
    Classifier.objects.create(name="Topic :: Unused")  # in no document: not listed

    response = client.get("/classifiers/")

    assert response.status_code == 200
    page = assert_well_formed(response)
    text = response.content.decode()
    groups = response.context["groups"]
    assert [group.name for group in groups] == ["Framework", "License", "Programming Language"]
    assert groups[2].classifiers == [{"name": PY3, "label": "Python :: 3", "count": 46}]
    assert groups[0].classifiers[0]["count"] == 15
    assert "/search/?c=Framework%20%3A%3A%20Django" in page.hrefs()
    assert "#programming-language" in page.hrefs()
    assert "programming-language" in page.ids
    assert "15 projects" in text
    assert "1 project<" in text
    assert "Unused" not in text
    assert response["Cache-Control"] == "public, max-age=60"

    followed = client.get("/search/?c=Framework%20%3A%3A%20Django")
    assert followed.context["results"].paginator.count == 15


@pytest.mark.django_db
def test_classifier_counts_are_cached(client, widgets, django_assert_max_num_queries):
    client.get("/classifiers/")
    indexed("Late", classifiers=[MIT])
    with django_assert_max_num_queries(0):
        response = client.get("/classifiers/")
    assert "License" not in [group.name for group in response.context["groups"]]
    cache.delete(pages.CLASSIFIERS_CACHE_KEY)
    response = client.get("/classifiers/")
    assert "License" in [group.name for group in response.context["groups"]]


@pytest.mark.django_db
def test_classifier_browse_empty(client):
    response = client.get("/classifiers/")
    assert "No project declares a classifier yet." in response.content.decode()
    assert_well_formed(response)


@pytest.mark.django_db
def test_a_search_with_more_results_than_counted_says_more_than(client, widgets, monkeypatch):
    # Counting stops at MAX_RESULTS (packages.search): the page must not give
    # the cap as the number of matches.
    monkeypatch.setattr("packages.search.MAX_RESULTS", 40)
    page = client.get("/search/?q=widget").content.decode()
    assert "More than 40 projects found" in page
    page = client.get("/search/?q=widget-07").content.decode()
    assert "1 project found" in page and "More than" not in page
