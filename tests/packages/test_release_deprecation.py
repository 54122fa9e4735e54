"""Release deprecation (packages.advisories): Owners mark a release deprecated
with a reason and undo it; the project's history, journal and pages follow."""

import pytest

from accounts.events import Actor
from accounts.models import Event
from packages import advisories
from packages.advisories import AdvisoryError
from packages.models import JournalEntry, Release
from tests.factories import make_release

pytestmark = pytest.mark.django_db


def test_deprecate_then_undo(project, owner, django_capture_on_commit_callbacks):
    release = make_release(project, "1.0")
    serial = project.last_serial

    with django_capture_on_commit_callbacks() as purges:
        marked = advisories.release_deprecate(
            release=release, reason="  Use 2.0:\n it fixes\tthe  loader ", actor=Actor(owner)
        )

    assert marked.deprecated_at is not None
    assert marked.deprecated_reason == "Use 2.0: it fixes the loader"
    assert purges
    stored = Release.objects.get(pk=release.pk)
    assert stored.deprecated_reason == "Use 2.0: it fixes the loader"
    event = Event.objects.get(tag="project:release:deprecated")
    assert (event.project, event.actor) == (project, owner)
    assert event.details == {"version": "1.0", "reason": "Use 2.0: it fixes the loader"}
    entry = JournalEntry.objects.latest("id")
    assert (entry.action, entry.version, entry.submitted_by) == ("deprecate release", "1.0", owner)
    project.refresh_from_db()
    assert project.last_serial == entry.id != serial

    advisories.release_undeprecate(release=stored, actor=Actor(owner))

    stored.refresh_from_db()
    assert (stored.deprecated_at, stored.deprecated_reason) == (None, "")
    assert Event.objects.get(tag="project:release:undeprecated").details == {"version": "1.0"}
    assert JournalEntry.objects.latest("id").action == "undeprecate release"


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Give a reason"),
        (" \n\t", "Give a reason"),
        ("x" * 501, '"reason" is longer than 500 characters.'),
        ("bad\x00", '"reason" contains a NUL character.'),
    ],
)
def test_a_reason_is_required_and_bounded(project, reason, message):
    release = make_release(project, "1.0")

    with pytest.raises(AdvisoryError) as refused:
        advisories.release_deprecate(release=release, reason=reason, actor=Actor())

    assert message in refused.value.message
    assert Release.objects.get(pk=release.pk).deprecated_at is None


def test_twice_is_refused(project):
    release = make_release(project, "1.0")
    with pytest.raises(AdvisoryError, match=r"Sample\.Project 1\.0 is not deprecated"):
        advisories.release_undeprecate(release=release, actor=Actor())
    advisories.release_deprecate(release=release, reason="Old", actor=Actor())
    with pytest.raises(AdvisoryError, match=r"Sample\.Project 1\.0 is already deprecated"):
        advisories.release_deprecate(release=release, reason="Again", actor=Actor())
    assert Event.objects.filter(tag="project:release:deprecated").count() == 1


def test_a_deleted_release_is_refused(project):
    release = make_release(project, "1.0")
    Release.objects.filter(pk=release.pk).delete()

    with pytest.raises(AdvisoryError, match=r"Sample\.Project 1\.0 no longer exists"):
        advisories.release_deprecate(release=release, reason="Old", actor=Actor())
