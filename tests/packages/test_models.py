import pytest
from django.db import connection, transaction
from django.utils import timezone

from packages.models import (
    PROJECT_VISIBLE_SQL,
    File,
    Project,
    Provenance,
    Release,
    Role,
    SearchDocument,
)
from packages.search import search_index_update
from tests.factories import add_file, make_release, make_wheel

pytestmark = pytest.mark.django_db


def test_the_largest_upload_limit_is_read_from_an_index_not_a_scan_of_every_project():
    # Every upload reads MAX(upload_limit) before its body (upload_handler):
    # with 500,000 projects a scan of the table costs tens of milliseconds.
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Project._meta.db_table)
    assert any(
        info["index"] and info["columns"] == ["upload_limit"] for info in constraints.values()
    )


@pytest.fixture
def two_projects(project, outsider):
    """``project`` quarantined and a visible one, each with a release, a file,
    a search document and a role."""
    shown = Project.objects.create(name="Shown", normalized_name="shown")
    Role.objects.create(project=shown, user=outsider, role_name=Role.Name.OWNER)
    for each in (project, shown):
        add_file(make_release(each, "1.0"), make_wheel(each.normalized_name, "1.0"), store=False)
        search_index_update(each)
    Project.objects.filter(pk=project.pk).update(quarantined_at=timezone.now())
    return shown


@pytest.mark.parametrize("model", [Project, Release, File, Role, SearchDocument])
def test_visible_rows_are_those_of_projects_not_quarantined(two_projects, model):
    shown = model.objects.filter(**{_project_path(model): two_projects.pk})
    assert model.objects.count() > shown.count() > 0
    assert set(model.objects.visible()) == set(shown)


def _project_path(model) -> str:
    return {
        Project: "pk",
        Release: "project",
        File: "release__project",
        Role: "project",
        SearchDocument: "project",
    }[model]


def test_raw_sql_spells_the_same_rule(two_projects):
    sql = PROJECT_VISIBLE_SQL.format(project="p")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT p.normalized_name FROM packages_project AS p WHERE {sql}")  # noqa: S608
        assert cursor.fetchall() == [("shown",)]


def test_by_name_finds_a_project_however_spelled(project):
    assert Project.objects.by_name("SAMPLE_project") == project
    assert Project.objects.by_name("other") is None
    Project.objects.filter(pk=project.pk).update(quarantined_at=timezone.now())
    assert Project.objects.visible().by_name("Sample.Project") is None
    assert Project.objects.by_name("Sample.Project") == project


def test_locked_reads_the_row_again(project):
    stale = Project.objects.get(pk=project.pk)
    Project.objects.filter(pk=project.pk).update(total_size=42)
    with transaction.atomic():
        assert Project.objects.locked(pk=stale.pk).total_size == 42
    project.delete()
    with transaction.atomic(), pytest.raises(Project.DoesNotExist):
        Project.objects.locked(pk=stale.pk)


def test_a_provenance_names_its_file(project):
    file = add_file(make_release(project), make_wheel("sample-project", "1.0"))
    provenance = Provenance.objects.create(
        file=file, provenance={"version": 1}, publisher_kind="github", repository="o/r"
    )
    assert str(provenance) == "provenance of sample_project-1.0-py3-none-any.whl"
