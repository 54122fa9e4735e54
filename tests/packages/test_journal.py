import pytest
from django.db import IntegrityError, transaction

from packages.journal import journal_append
from packages.models import JournalEntry, Project

pytestmark = pytest.mark.django_db


def test_serials_strictly_increase_and_project_follows(project, owner):
    with transaction.atomic():
        first = journal_append(project=project, action="create", actor=owner)
    with transaction.atomic():
        second = journal_append(
            project=project, action="add source file", version="1.0", filename="x.tar.gz"
        )
    assert second.id > first.id
    project.refresh_from_db()
    assert project.last_serial == second.id
    assert list(JournalEntry.objects.values_list("action", flat=True)) == [
        "create",
        "add source file",
    ]
    assert str(second).endswith("add source file")


@pytest.mark.django_db(transaction=True)
def test_refuses_to_run_outside_a_transaction(project):
    with pytest.raises(RuntimeError, match="inside the change's transaction"):
        journal_append(project=project, action="create")


def test_rolled_back_change_leaves_no_entry(project):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        journal_append(project=project, action="create")
        1 / 0  # noqa: B018
    assert not JournalEntry.objects.exists()


@pytest.mark.parametrize("bad", ["Upper", "a--b", "-a", "a_b", "", "a.b"])
def test_database_refuses_non_normalized_names(bad):
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.create(name=bad or "x", normalized_name=bad)
