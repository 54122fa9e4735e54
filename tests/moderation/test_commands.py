import pytest
from django.core.management import CommandError, call_command

from moderation.models import ModerationAction, ProhibitedName
from packages.models import Project

pytestmark = pytest.mark.django_db


def moderate(*args):
    from io import StringIO

    out = StringIO()
    call_command("moderate", *args, "--moderator", "mona", stdout=out)
    return out.getvalue().strip()


def test_quarantine_and_release(project, moderator):
    assert moderate("quarantine", "sample_project", "--reason", "malware") == (
        "Sample.Project is quarantined."
    )
    project.refresh_from_db()
    assert project.quarantine_reason == "malware"
    assert moderate("release-quarantine", "Sample.Project", "--reason", "ok") == (
        "Sample.Project is released from quarantine."
    )
    assert ModerationAction.objects.filter(moderator=moderator).count() == 2


def test_remove_project(project, moderator):
    assert moderate("remove-project", "sample-project", "--reason", "spam") == (
        "Sample.Project is removed."
    )
    assert not Project.objects.exists() and not ProhibitedName.objects.exists()


def test_remove_project_and_prohibit(project, moderator):
    out = moderate("remove-project", "sample-project", "--prohibit", "--reason", "malware")
    assert out == "Sample.Project is removed and its name prohibited."
    assert ProhibitedName.objects.filter(normalized_name="sample-project").exists()


def test_freeze_unfreeze(owner, moderator):
    assert moderate("freeze", "olivia", "--reason", "x") == "olivia is frozen."
    owner.refresh_from_db()
    assert owner.is_frozen
    assert moderate("unfreeze", "olivia", "--reason", "y") == "olivia is unfrozen."


def test_prohibit_name_and_set_limits(project, moderator):
    assert moderate("prohibit-name", "Evil", "--reason", "x") == "Evil is prohibited."
    out = moderate(
        "set-limits", "sample-project", "--upload-limit", "5000", "--reason", "big files"
    )
    assert out == "Limits of Sample.Project set."
    project.refresh_from_db()
    assert (project.upload_limit, project.total_size_limit) == (5000, None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["quarantine", "nope", "--reason", "x"], "No project 'nope'."),
        (["freeze", "nobody", "--reason", "x"], "No user 'nobody'."),
        (["release-quarantine", "sample-project", "--reason", "x"], "is not quarantined"),
        (["quarantine", "sample-project", "--reason", " "], "reason is required"),
    ],
)
def test_refusals(project, moderator, args, message):
    with pytest.raises(CommandError, match=message):
        moderate(*args)


def test_unknown_moderator(project):
    with pytest.raises(CommandError, match="No user 'mona'"):
        moderate("quarantine", "sample-project", "--reason", "x")


def test_reason_is_required(project, moderator):
    with pytest.raises(CommandError, match="--reason"):
        call_command("moderate", "quarantine", "sample-project", "--moderator", "mona")
