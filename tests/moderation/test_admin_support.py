import pytest
from django.db import connection

from moderation.admin import support as admin_support
from moderation.admin.support import EstimatedCountPaginator, planner_estimate
from packages.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def twenty_projects(db):
    Project.objects.bulk_create([Project(name=f"p{i}", normalized_name=f"p{i}") for i in range(20)])
    return Project.objects.order_by("normalized_name")


def test_small_results_are_counted_exactly(twenty_projects):
    assert EstimatedCountPaginator(twenty_projects, 5).count == 20


def test_without_an_estimate_large_results_are_counted_up_to_the_limit(
    twenty_projects, monkeypatch
):
    monkeypatch.setattr(admin_support, "EXACT_COUNT_LIMIT", 5)
    monkeypatch.setattr(admin_support, "ESTIMATORS", {})  # SQLite's case, on any database
    assert EstimatedCountPaginator(twenty_projects, 5).count == 6


def test_a_large_estimate_is_shown_instead_of_a_count(twenty_projects, monkeypatch):
    monkeypatch.setattr(admin_support, "EXACT_COUNT_LIMIT", 5)
    monkeypatch.setattr(admin_support, "ESTIMATORS", {connection.vendor: lambda qs: 12345})
    assert EstimatedCountPaginator(twenty_projects, 5).count == 12345


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_large_results_show_the_planner_estimate(twenty_projects, monkeypatch):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE packages_project")
    monkeypatch.setattr(admin_support, "EXACT_COUNT_LIMIT", 5)
    estimate = planner_estimate(twenty_projects)
    assert estimate > 5
    assert EstimatedCountPaginator(twenty_projects, 5).count == estimate
    assert planner_estimate(twenty_projects.filter(normalized_name="p1")) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's expression index")
def test_the_look_alike_check_uses_the_folded_name_index(twenty_projects):
    from moderation.names import Folded

    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        query = Project.objects.annotate(folded=Folded("normalized_name")).filter(folded="pl")
        plan = query.explain()
        cursor.execute("SET enable_seqscan = on")
    assert "project_folded_name" in plan
