import pytest
from django.db import IntegrityError, transaction

from accounts.events import SYSTEM, Actor
from packages.journal import journal_append
from packages.models import JournalEntry, Project

pytestmark = pytest.mark.django_db


def test_serials_strictly_increase_and_project_follows(project, owner):
    with transaction.atomic():
        first = journal_append(project=project, action="create", actor=Actor(owner))
    with transaction.atomic():
        second = journal_append(
            project=project,
            action="add source file",
            version="1.0",
            filename="x.tar.gz",
            actor=SYSTEM,
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
        journal_append(project=project, action="create", actor=SYSTEM)


def test_rolled_back_change_leaves_no_entry(project):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        journal_append(project=project, action="create", actor=SYSTEM)
        1 / 0  # noqa: B018
    assert not JournalEntry.objects.exists()


@pytest.mark.parametrize("bad", ["Upper", "a--b", "-a", "a_b", "", "a.b"])
def test_database_refuses_non_normalized_names(bad):
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.create(name=bad or "x", normalized_name=bad)


def test_postgresql_orders_commits_with_an_advisory_lock(project, monkeypatch):
    from common import xact_lock
    from packages import journal

    executed = []

    class Cursor:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def execute(self, sql, params):
            executed.append((sql, params))

    class FakeConnection:
        vendor = "postgresql"

        def cursor(self):
            return Cursor()

    monkeypatch.setattr(xact_lock, "connection", FakeConnection())
    with transaction.atomic():
        journal_append(project=project, action="create", actor=SYSTEM)
    assert executed == [("SELECT pg_advisory_xact_lock(%s)", [journal._JOURNAL_LOCK_ID])]


def test_model_names_read_well(project, owner):
    import datetime

    from packages.models import (
        Classifier,
        DownloadCount,
        EdgePurge,
        File,
        FileRegistry,
        Release,
        Role,
        RoleInvitation,
        SearchDocument,
    )

    release = Release(project=project, version="1.0")
    assert str(project) == "Sample.Project"
    assert str(release) == "Sample.Project 1.0"
    assert str(Role(project=project, user=owner, role_name="Owner")) == (
        "olivia is Owner of Sample.Project"
    )
    assert str(File(filename="a-1.0.tar.gz")) == "a-1.0.tar.gz"
    assert str(FileRegistry(filename="a-1.0.tar.gz")) == "a-1.0.tar.gz"
    assert str(Classifier(name="Framework :: Django")) == "Framework :: Django"
    assert str(SearchDocument(name="Sample.Project")) == "Sample.Project"
    assert str(RoleInvitation(project=project, user=owner, role_name="Maintainer")) == (
        "olivia invited as Maintainer of Sample.Project"
    )
    day = datetime.date(2026, 11, 21)
    assert str(DownloadCount(file_id=7, day=day, count=12)) == "7 on 2026-11-21: 12"
    assert str(EdgePurge(keys="simple-a project-a")) == "simple-a project-a"
    assert File(metadata_sha256_digest="ab").has_metadata
    assert not File().has_metadata


def test_sqlite_takes_no_lock(project, monkeypatch):
    from common import xact_lock

    class SqliteConnection:
        vendor = "sqlite"

        def cursor(self):
            raise AssertionError("SQLite has a single writer: no lock statement")

    monkeypatch.setattr(xact_lock, "connection", SqliteConnection())
    with transaction.atomic():
        entry = journal_append(project=project, action="create", actor=SYSTEM)
    assert entry.pk is not None
