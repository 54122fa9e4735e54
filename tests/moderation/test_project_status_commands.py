"""``manage.py moderate archive|unarchive|deprecate|undeprecate`` (PEP 792),
through moderation.project_status: the change, its journal entry and event, and
the moderation record; ``--moderator`` may be left out (done from the shell)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Event
from moderation.models import ModerationAction
from packages.models import JournalEntry, Project

pytestmark = pytest.mark.django_db


def moderate(*args) -> str:
    out = StringIO()
    call_command("moderate", *args, stdout=out)
    return out.getvalue().strip()


def test_archive_and_unarchive_by_a_named_moderator(project, moderator):
    out = moderate("archive", "sample_project", "--reason", "Abandoned", "--moderator", "mona")

    assert out == "Sample.Project is archived."
    project.refresh_from_db()
    assert (project.status, project.status_reason) == ("archived", "Abandoned")
    action = ModerationAction.objects.get()
    assert (action.action, action.moderator, action.reason, action.project) == (
        "archive project",
        moderator,
        "Abandoned",
        project,
    )
    entry = JournalEntry.objects.latest("id")
    assert (entry.action, entry.submitted_by) == ("archive project", moderator)
    assert Event.objects.filter(project=project).latest("id").tag == "project:status:archived"

    out = moderate("unarchive", "Sample.Project", "--reason", "Owner asked", "--moderator", "mona")

    assert out == "Sample.Project is active."
    project.refresh_from_db()
    assert (project.status, project.status_reason) == ("active", "")
    assert ModerationAction.objects.latest("id").action == "unarchive project"
    assert ModerationAction.objects.latest("id").reason == "Owner asked"


def test_deprecate_with_a_successor_from_the_shell(project):
    Project.objects.create(name="New.Thing", normalized_name="new-thing")

    out = moderate("deprecate", "sample-project", "--reason", "Renamed", "--successor", "new_thing")

    assert out == "Sample.Project is deprecated."
    project.refresh_from_db()
    assert (project.status, project.status_reason, project.successor.name) == (
        "deprecated",
        "Renamed",
        "New.Thing",
    )
    action = ModerationAction.objects.get()
    # Left out: recorded as done from the shell, by no one.
    assert (action.moderator, action.details) == (None, {"successor": "New.Thing"})
    event = Event.objects.filter(project=project).latest("id")
    assert (event.actor, event.details["successor"]) == (None, "New.Thing")
    assert JournalEntry.objects.latest("id").submitted_by is None

    assert moderate("undeprecate", "sample-project", "--reason", "Not renamed after all") == (
        "Sample.Project is active."
    )
    project.refresh_from_db()
    assert (project.status, project.successor) == ("active", None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("unarchive", "sample-project", "--reason", "x"), "is not archived: it is active"),
        (("undeprecate", "sample-project", "--reason", "x"), "is not deprecated: it is active"),
        (("deprecate", "sample-project", "--reason", " "), "A reason is required"),
        (
            ("deprecate", "sample-project", "--reason", "x", "--successor", "nope"),
            "no project named 'nope'",
        ),
        (("archive", "nothing-here", "--reason", "x"), "No project 'nothing-here'"),
    ],
)
def test_refusals_are_command_errors(project, args, message):
    with pytest.raises(CommandError, match=message):
        moderate(*args)
    assert not ModerationAction.objects.exists()
    project.refresh_from_db()
    assert project.status == "active"


def test_unarchive_refuses_a_deprecated_project(project):
    moderate("deprecate", "sample-project", "--reason", "Old")
    with pytest.raises(CommandError, match="is not archived: it is deprecated"):
        moderate("unarchive", "sample-project", "--reason", "x")
    assert ModerationAction.objects.count() == 1


def test_the_reason_is_required():
    with pytest.raises(CommandError, match="--reason"):
        call_command("moderate", "archive", "sample-project", stderr=StringIO())
