import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache

from accounts.events import Actor
from accounts.models import Event
from moderation import services
from moderation.models import MalwareReport, ModerationAction, NameReview, ProhibitedName
from moderation.services import ModerationError
from packages.cache import simple_detail_key
from packages.models import File, FileRegistry, JournalEntry, Project, Release
from tests.factories import add_file, make_release, make_wheel

pytestmark = pytest.mark.django_db


def last_action():
    return ModerationAction.objects.order_by("-id").first()


def test_quarantine_sets_fields_records_journals_and_purges(
    project, moderator, django_capture_on_commit_callbacks
):
    cache.set(simple_detail_key(project.normalized_name, "html"), "stale")
    before = JournalEntry.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        services.project_quarantine(
            project=project, actor=Actor(user=moderator), reason="  malware  "
        )
    project.refresh_from_db()
    assert project.quarantined_at is not None
    assert project.quarantine_reason == "malware"
    action = last_action()
    assert (action.action, action.moderator, action.reason, action.project) == (
        "quarantine project",
        moderator,
        "malware",
        project,
    )
    entry = JournalEntry.objects.order_by("-id").first()
    assert JournalEntry.objects.count() == before + 1
    assert entry.action == "quarantine project"
    assert project.last_serial == entry.id
    assert cache.get(simple_detail_key(project.normalized_name, "html")) is None


def test_quarantine_closes_pending_name_reviews(project, moderator):
    review = NameReview.objects.create(project=project, project_name="x", similar_to="y")
    services.project_quarantine(project=project, actor=Actor(user=moderator), reason="typosquat")
    review.refresh_from_db()
    assert review.status == NameReview.Status.ACTED
    assert review.reviewed_by == moderator


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_every_action_needs_a_reason(project, moderator, reason):
    with pytest.raises(ModerationError, match="reason is required"):
        services.project_quarantine(project=project, actor=Actor(user=moderator), reason=reason)
    project.refresh_from_db()
    assert project.quarantined_at is None
    assert not ModerationAction.objects.exists()


def test_quarantine_twice_is_refused(project, moderator):
    services.project_quarantine(project=project, actor=Actor(user=moderator), reason="a")
    with pytest.raises(ModerationError, match="already quarantined"):
        services.project_quarantine(project=project, actor=Actor(user=moderator), reason="b")
    assert ModerationAction.objects.count() == 1


def test_release_quarantine(project, moderator):
    services.project_quarantine(project=project, actor=Actor(user=moderator), reason="suspicious")
    services.project_unquarantine(
        project=project, actor=Actor(user=moderator), reason="false alarm"
    )
    project.refresh_from_db()
    assert project.quarantined_at is None and project.quarantine_reason == ""
    action = last_action()
    assert action.action == "release quarantine"
    assert action.details == {"quarantine_reason": "suspicious"}
    assert JournalEntry.objects.order_by("-id").first().action == "release quarantine"


def test_release_quarantine_of_a_free_project_is_refused(project, moderator):
    with pytest.raises(ModerationError, match="not quarantined"):
        services.project_unquarantine(project=project, actor=Actor(user=moderator), reason="x")


def test_action_on_a_vanished_project_is_refused(project, moderator):
    Project.objects.filter(pk=project.pk).delete()
    with pytest.raises(ModerationError, match="no longer exists"):
        services.project_quarantine(project=project, actor=Actor(user=moderator), reason="x")


def test_remove_project_deletes_records_and_prohibits(project, moderator):
    release = make_release(project)
    add_file(release, make_wheel())
    services.project_remove(
        project=project, actor=Actor(user=moderator), reason="malware", prohibit_name=True
    )
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not File.objects.exists()
    assert FileRegistry.objects.filter(filename=make_wheel().filename).exists()
    action = last_action()
    assert action.action == "remove project"
    assert action.project is None  # the project is gone, the name stays
    assert action.project_name == "Sample.Project"
    assert action.details == {"prohibit_name": True}
    prohibited = ProhibitedName.objects.get()
    assert (prohibited.normalized_name, prohibited.created_by) == ("sample-project", moderator)
    assert JournalEntry.objects.order_by("-id").first().action == "remove project"


def test_remove_project_without_prohibiting(project, moderator):
    services.project_remove(project=project, actor=Actor(user=moderator), reason="spam")
    assert not Project.objects.exists()
    assert not ProhibitedName.objects.exists()


def test_remove_project_with_an_already_prohibited_name_changes_nothing(project, moderator):
    services.name_prohibit(name="sample_project", actor=Actor(user=moderator), reason="x")
    with pytest.raises(ModerationError, match="already prohibited"):
        services.project_remove(
            project=project, actor=Actor(user=moderator), reason="y", prohibit_name=True
        )
    assert Project.objects.filter(pk=project.pk).exists()


def test_set_project_limits(project, moderator):
    services.project_limits_set(
        project=project,
        actor=Actor(user=moderator),
        reason="big wheels",
        upload_limit=500_000_000,
        total_size_limit=None,
    )
    project.refresh_from_db()
    assert (project.upload_limit, project.total_size_limit) == (500_000_000, None)
    assert last_action().details == {
        "before": {"upload_limit": None, "total_size_limit": None},
        "after": {"upload_limit": 500_000_000, "total_size_limit": None},
    }


@pytest.mark.parametrize("field", ["upload_limit", "total_size_limit"])
def test_limits_must_be_positive(project, moderator, field):
    limits = {"upload_limit": None, "total_size_limit": None, field: 0}
    with pytest.raises(ModerationError, match="positive"):
        services.project_limits_set(
            project=project, actor=Actor(user=moderator), reason="x", **limits
        )


def test_prohibit_name(moderator):
    prohibited = services.name_prohibit(
        name=" Evil_Pkg ", actor=Actor(user=moderator), reason="squat"
    )
    assert (prohibited.name, prohibited.normalized_name) == ("Evil_Pkg", "evil-pkg")
    assert last_action().project_name == "Evil_Pkg"
    with pytest.raises(ModerationError, match="already prohibited"):
        services.name_prohibit(name="evil.pkg", actor=Actor(user=moderator), reason="again")


def test_prohibit_an_invalid_name_is_refused(moderator):
    with pytest.raises(ModerationError, match="not a valid project name"):
        services.name_prohibit(name="-bad-", actor=Actor(user=moderator), reason="x")


# --- releases and files ------------------------------------------------------------------


def test_yank_unyank_and_delete_release(project, moderator):
    release = make_release(project, "1.0")
    services.moderator_release_yank(
        release=release, actor=Actor(user=moderator), reason="broken build"
    )
    release.refresh_from_db()
    assert release.yanked and release.yanked_reason == "broken build"
    assert last_action().details == {"version": "1.0"}
    services.moderator_release_unyank(release=release, actor=Actor(user=moderator), reason="fixed")
    release.refresh_from_db()
    assert not release.yanked
    services.moderator_release_delete(
        release=release, actor=Actor(user=moderator), reason="malware"
    )
    assert not Release.objects.exists()
    actions = list(ModerationAction.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["yank release", "unyank release", "delete release"]
    journal = list(JournalEntry.objects.order_by("id").values_list("action", flat=True))
    assert journal[-3:] == ["yank release", "unyank release", "remove release"]


def test_release_service_refusal_becomes_a_moderation_error(project, moderator):
    release = make_release(project)
    with pytest.raises(ModerationError, match="not yanked"):
        services.moderator_release_unyank(release=release, actor=Actor(user=moderator), reason="x")
    assert not ModerationAction.objects.exists()  # rolled back with the refusal


def test_delete_file(project, moderator):
    file = add_file(make_release(project), make_wheel())
    services.moderator_file_delete(file=file, actor=Actor(user=moderator), reason="malware")
    assert not File.objects.exists()
    assert last_action().details["sha256"] == make_wheel().sha256
    with pytest.raises(ModerationError, match="no longer exists"):
        services.moderator_file_delete(file=file, actor=Actor(user=moderator), reason="again")


# --- accounts ----------------------------------------------------------------------------


def test_freeze_ends_sessions_and_unfreeze(client, owner, maintainer, moderator):
    client.force_login(owner)
    other = client.__class__()
    other.force_login(maintainer)
    assert Session.objects.count() == 2
    services.user_freeze(user=owner, actor=Actor(user=moderator), reason="malware uploads")
    owner.refresh_from_db()
    assert owner.is_frozen
    assert Session.objects.count() == 1  # the maintainer's stays
    assert last_action().details == {"sessions": 1}
    assert Event.objects.filter(tag="account:frozen", user=owner, actor=moderator).exists()
    with pytest.raises(ModerationError, match="already frozen"):
        services.user_freeze(user=owner, actor=Actor(user=moderator), reason="again")
    services.user_unfreeze(user=owner, actor=Actor(user=moderator), reason="appeal")
    owner.refresh_from_db()
    assert not owner.is_frozen
    assert Event.objects.filter(tag="account:unfrozen", user=owner).exists()
    with pytest.raises(ModerationError, match="not frozen"):
        services.user_unfreeze(user=owner, actor=Actor(user=moderator), reason="again")


# --- reports -----------------------------------------------------------------------------


def report(project, reporter, **kw):
    return services.report_file(
        project=project,
        actor=Actor(user=reporter),
        reason=kw.get("reason", "malware"),
        details="evil",
    )


def test_file_report_and_one_open_report_per_user(project, outsider, owner):
    first = report(project, outsider)
    assert (first.status, first.project_name, first.reporter) == ("new", project.name, outsider)
    with pytest.raises(ModerationError, match="already reported"):
        report(project, outsider)
    report(project, owner)  # someone else may
    first.status = MalwareReport.Status.DISMISSED
    first.save()
    report(project, outsider)  # once the first is closed, a new one is accepted
    assert MalwareReport.objects.count() == 3


def test_file_report_refusals(project, outsider):
    with pytest.raises(ModerationError, match="Sign in"):
        report(project, None)  # nobody signed in
    with pytest.raises(ModerationError, match="reason"):
        report(project, outsider, reason="boring")
    with pytest.raises(ModerationError, match="Describe"):
        services.report_file(
            project=project, actor=Actor(user=outsider), reason="spam", details=" "
        )


def test_confirm_and_dismiss_report(project, outsider, owner, moderator):
    one, two = report(project, outsider), report(project, owner)
    services.report_confirm(report=one, actor=Actor(user=moderator), reason="checked the wheel")
    services.report_dismiss(report=two, actor=Actor(user=moderator), reason="not malware")
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.status, one.resolved_by, one.resolution_note) == (
        "confirmed",
        moderator,
        "checked the wheel",
    )
    assert one.resolved_at is not None
    assert two.status == "dismissed"
    assert [a.action for a in ModerationAction.objects.order_by("id")] == [
        "confirm report",
        "dismiss report",
    ]
    with pytest.raises(ModerationError, match="already confirmed"):
        services.report_dismiss(report=one, actor=Actor(user=moderator), reason="x")


def test_resolving_a_deleted_report_is_refused(project, outsider, moderator):
    one = report(project, outsider)
    MalwareReport.objects.all().delete()
    with pytest.raises(ModerationError, match="no longer exists"):
        services.report_confirm(report=one, actor=Actor(user=moderator), reason="x")


def test_quarantine_from_report(project, outsider, owner, moderator):
    one, two = report(project, outsider), report(project, owner)
    services.report_quarantine(report=one, actor=Actor(user=moderator), reason="confirmed malware")
    project.refresh_from_db()
    assert project.quarantined_at is not None
    assert project.quarantine_reason == "confirmed malware"
    # A second report on the now-quarantined project is just confirmed.
    services.report_quarantine(report=two, actor=Actor(user=moderator), reason="same")
    two.refresh_from_db()
    assert two.status == "confirmed"
    assert ModerationAction.objects.filter(action="quarantine project").count() == 1


def test_quarantine_from_report_of_a_removed_project(project, outsider, moderator):
    one = report(project, outsider)
    services.project_remove(project=project, actor=Actor(user=moderator), reason="gone")
    one.refresh_from_db()
    with pytest.raises(ModerationError, match="no longer exists"):
        services.report_quarantine(report=one, actor=Actor(user=moderator), reason="x")
    one.refresh_from_db()
    assert one.status == "new"  # rolled back


def test_approve_name_review(project, moderator):
    review = NameReview.objects.create(
        project=project, project_name=project.name, similar_to="requests"
    )
    services.name_review_approve(review=review, actor=Actor(user=moderator), reason="legit fork")
    review.refresh_from_db()
    assert (review.status, review.reviewed_by) == ("approved", moderator)
    assert last_action().details == {"similar_to": "requests"}
    with pytest.raises(ModerationError, match="not pending"):
        services.name_review_approve(review=review, actor=Actor(user=moderator), reason="x")
