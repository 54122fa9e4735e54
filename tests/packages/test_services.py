import logging

import pytest
from django.core.cache import cache
from django.db import transaction

from accounts.events import Actor
from packages.cache import simple_detail_key
from packages.models import (
    File,
    FileRegistry,
    JournalEntry,
    Project,
    Release,
    Role,
    SearchDocument,
)
from packages.search import search_index_update
from packages.services import (
    ReleaseError,
    file_delete,
    project_delete,
    release_delete,
    release_unyank,
    release_yank,
)
from packages.storage import files_storage, metadata_path
from tests.factories import add_file, make_release, make_sdist, make_wheel

pytestmark = pytest.mark.django_db

IP = "192.0.2.7"


@pytest.fixture
def release(project):
    return make_release(project, "1.0")


@pytest.fixture
def wheel(release):
    return add_file(release, make_wheel("sample-project", "1.0"), with_metadata=True)


@pytest.fixture
def sdist(release):
    return add_file(release, make_sdist("sample-project", "1.0"))


@pytest.fixture
def other_file(project):
    """A file of another release, which no operation on 1.0 may touch."""
    return add_file(make_release(project, "2.0"), make_wheel("sample-project", "2.0"))


@pytest.fixture
def cached_page():
    key = simple_detail_key("sample-project", "html")
    cache.set(key, "<html>stale</html>")
    return key


def stored(path: str) -> bool:
    return files_storage().exists(path)


def last_entry() -> JournalEntry:
    return JournalEntry.objects.latest("id")


def assert_last_serial_follows_journal(project: Project) -> None:
    project.refresh_from_db()
    assert project.last_serial == last_entry().id


# release_yank


def test_yank_marks_the_release_yanked_with_the_reason(release, owner):
    release_yank(release=release, reason="Broken on Windows", actor=Actor(owner))
    release.refresh_from_db()
    assert release.yanked
    assert release.yanked_reason == "Broken on Windows"


def test_yank_reason_is_one_bounded_line_whoever_yanks(release, owner):
    # The web page, the command and the moderators all yank through here.
    release_yank(release=release, reason="  Broken\n on   Windows ", actor=Actor(owner))
    release.refresh_from_db()
    assert release.yanked_reason == "Broken on Windows"
    release_unyank(release=release, actor=Actor(owner))
    release_yank(release=release, reason="x" * 600, actor=Actor(owner))
    release.refresh_from_db()
    assert release.yanked_reason == "x" * 500


def test_yank_without_a_reason_is_allowed(release, owner):
    # PEP 592: the reason is optional.
    yanked = release_yank(release=release, reason="", actor=Actor(owner))
    assert yanked.yanked
    assert yanked.yanked_reason == ""


def test_yank_is_journaled(project, release, owner):
    release_yank(release=release, reason="oops", actor=Actor(owner, IP))
    entry = last_entry()
    assert (entry.name, entry.action, entry.version, entry.filename) == (
        "Sample.Project",
        "yank release",
        "1.0",
        "",
    )
    assert (entry.submitted_by, entry.ip_address) == (owner, IP)
    assert_last_serial_follows_journal(project)


def test_yank_purges_the_cached_pages_after_commit(
    release, owner, cached_page, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        release_yank(release=release, reason="", actor=Actor(owner))
        assert cache.get(cached_page) is not None
    assert cache.get(cached_page) is None


def test_yanking_twice_is_refused(release, owner):
    release_yank(release=release, reason="first", actor=Actor(owner))
    journaled = JournalEntry.objects.count()
    with pytest.raises(ReleaseError, match=r"Sample.Project 1.0 is already yanked\."):
        release_yank(release=release, reason="second", actor=Actor(owner))
    release.refresh_from_db()
    assert release.yanked_reason == "first"
    assert JournalEntry.objects.count() == journaled


def test_yanking_a_deleted_release_is_refused(release, owner):
    Release.objects.filter(pk=release.pk).delete()
    journaled = JournalEntry.objects.count()
    with pytest.raises(ReleaseError, match=r"Sample.Project 1.0 no longer exists\."):
        release_yank(release=release, reason="", actor=Actor(owner))
    assert JournalEntry.objects.count() == journaled


# release_unyank


def test_unyank_clears_the_flag_and_the_reason(project, owner):
    release = make_release(project, yanked=True, yanked_reason="oops")
    unyanked = release_unyank(release=release, actor=Actor(owner))
    release.refresh_from_db()
    assert (release.yanked, release.yanked_reason) == (False, "")
    assert (unyanked.yanked, unyanked.yanked_reason) == (False, "")


def test_unyank_is_journaled(project, owner):
    release = make_release(project, yanked=True)
    release_unyank(release=release, actor=Actor(owner, IP))
    entry = last_entry()
    assert (entry.action, entry.version, entry.submitted_by, entry.ip_address) == (
        "unyank release",
        "1.0",
        owner,
        IP,
    )
    assert_last_serial_follows_journal(project)


def test_unyank_purges_the_cached_pages_after_commit(
    project, owner, cached_page, django_capture_on_commit_callbacks
):
    release = make_release(project, yanked=True)
    with django_capture_on_commit_callbacks(execute=True):
        release_unyank(release=release, actor=Actor(owner))
    assert cache.get(cached_page) is None


def test_unyanking_a_release_that_is_not_yanked_is_refused(release, owner):
    journaled = JournalEntry.objects.count()
    with pytest.raises(ReleaseError, match=r"Sample.Project 1.0 is not yanked\."):
        release_unyank(release=release, actor=Actor(owner))
    assert JournalEntry.objects.count() == journaled


# release_delete


def test_release_delete_removes_the_release_and_its_file_rows(release, wheel, sdist, owner):
    release_delete(release=release, actor=Actor(owner))
    assert not Release.objects.filter(pk=release.pk).exists()
    assert not File.objects.filter(pk__in=[wheel.pk, sdist.pk]).exists()


def test_release_delete_leaves_other_releases_alone(release, wheel, other_file, owner):
    release_delete(release=release, actor=Actor(owner))
    assert list(File.objects.all()) == [other_file]


def test_release_delete_removes_stored_objects_after_commit(
    release, wheel, sdist, owner, django_capture_on_commit_callbacks
):
    paths = [wheel.path, metadata_path(wheel.path), sdist.path]
    with django_capture_on_commit_callbacks(execute=True):
        release_delete(release=release, actor=Actor(owner))
        assert all(stored(path) for path in paths)
    assert not any(stored(path) for path in paths)


def test_release_delete_keeps_stored_objects_when_rolled_back(
    release, wheel, owner, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        release_delete(release=release, actor=Actor(owner))
        raise RuntimeError("the caller's transaction fails")
    assert callbacks == []
    assert stored(wheel.path)
    assert stored(metadata_path(wheel.path))
    assert File.objects.filter(pk=wheel.pk).exists()


def test_release_delete_keeps_filenames_reserved(release, wheel, sdist, owner):
    release_delete(release=release, actor=Actor(owner))
    assert FileRegistry.objects.filter(filename__in=[wheel.filename, sdist.filename]).count() == 2


def test_release_delete_reserves_filenames_missing_from_the_registry(release, wheel, owner):
    # A row made without the upload (an import, say) must not free its name.
    FileRegistry.objects.filter(filename=wheel.filename).delete()
    release_delete(release=release, actor=Actor(owner))
    assert FileRegistry.objects.filter(filename=wheel.filename).exists()


def test_release_delete_shrinks_the_project_total_size(
    project, release, wheel, sdist, other_file, owner
):
    release_delete(release=release, actor=Actor(owner))
    project.refresh_from_db()
    assert project.total_size == other_file.size


def test_release_delete_is_journaled(project, release, wheel, owner):
    release_delete(release=release, actor=Actor(owner, IP))
    entry = last_entry()
    assert (entry.action, entry.version, entry.filename, entry.submitted_by) == (
        "remove release",
        "1.0",
        "",
        owner,
    )
    assert entry.ip_address == IP
    assert_last_serial_follows_journal(project)


def test_release_delete_purges_the_cached_pages_after_commit(
    release, wheel, owner, cached_page, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        release_delete(release=release, actor=Actor(owner))
        assert cache.get(cached_page) is not None
    assert cache.get(cached_page) is None


def test_release_delete_of_a_release_without_files(project, release, owner):
    release_delete(release=release, actor=Actor(owner))
    assert not Release.objects.exists()
    project.refresh_from_db()
    assert project.total_size == 0


def test_deleting_a_deleted_release_is_refused(release, owner):
    release_delete(release=release, actor=Actor(owner))
    journaled = JournalEntry.objects.count()
    with pytest.raises(ReleaseError, match="no longer exists"):
        release_delete(release=release, actor=Actor(owner))
    assert JournalEntry.objects.count() == journaled


def test_a_failing_storage_delete_is_logged_not_raised(
    release, wheel, owner, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def unavailable(path):
        raise OSError("object store unavailable")

    monkeypatch.setattr(files_storage(), "delete", unavailable)
    with (
        caplog.at_level(logging.ERROR, logger="packages.services"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        release_delete(release=release, actor=Actor(owner))
    assert f"Could not delete stored object {wheel.path}" in caplog.text
    assert not Release.objects.exists()


def test_a_failing_storage_delete_does_not_stop_the_others(
    release, wheel, owner, monkeypatch, django_capture_on_commit_callbacks
):
    storage = files_storage()
    real_delete = storage.delete

    def fail_on_the_wheel(path):
        if path == wheel.path:
            raise OSError("object store unavailable")
        real_delete(path)

    monkeypatch.setattr(storage, "delete", fail_on_the_wheel)
    with django_capture_on_commit_callbacks(execute=True):
        release_delete(release=release, actor=Actor(owner))
    assert stored(wheel.path)
    assert not stored(metadata_path(wheel.path))


# file_delete


def test_file_delete_removes_only_that_file(release, wheel, sdist, owner):
    file_delete(file=wheel, actor=Actor(owner))
    assert list(release.files.all()) == [sdist]


def test_file_delete_of_the_last_file_keeps_the_release(release, wheel, owner):
    file_delete(file=wheel, actor=Actor(owner))
    assert Release.objects.filter(pk=release.pk).exists()
    assert not File.objects.exists()


def test_file_delete_removes_its_stored_objects_after_commit(
    wheel, sdist, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        file_delete(file=wheel, actor=Actor(owner))
        assert stored(wheel.path)
    assert not stored(wheel.path)
    assert not stored(metadata_path(wheel.path))
    assert stored(sdist.path)


def test_file_delete_keeps_stored_objects_when_rolled_back(
    wheel, owner, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        file_delete(file=wheel, actor=Actor(owner))
        raise RuntimeError("the caller's transaction fails")
    assert callbacks == []
    assert stored(wheel.path)
    assert File.objects.filter(pk=wheel.pk).exists()


def test_file_delete_keeps_the_filename_reserved(wheel, owner):
    file_delete(file=wheel, actor=Actor(owner))
    assert FileRegistry.objects.filter(filename=wheel.filename).exists()


def test_file_delete_shrinks_the_project_total_size(project, wheel, sdist, owner):
    file_delete(file=wheel, actor=Actor(owner))
    project.refresh_from_db()
    assert project.total_size == sdist.size


def test_file_delete_is_journaled(project, sdist, owner):
    file_delete(file=sdist, actor=Actor(owner, IP))
    entry = last_entry()
    assert (entry.action, entry.version, entry.filename, entry.submitted_by) == (
        f"remove file {sdist.filename}",
        "1.0",
        sdist.filename,
        owner,
    )
    assert entry.ip_address == IP
    assert_last_serial_follows_journal(project)


def test_file_delete_purges_the_cached_pages_after_commit(
    sdist, owner, cached_page, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        file_delete(file=sdist, actor=Actor(owner))
    assert cache.get(cached_page) is None


def test_deleting_a_deleted_file_is_refused(sdist, owner):
    file_delete(file=sdist, actor=Actor(owner))
    journaled = JournalEntry.objects.count()
    with pytest.raises(ReleaseError, match=rf"File {sdist.filename} no longer exists\."):
        file_delete(file=sdist, actor=Actor(owner))
    assert JournalEntry.objects.count() == journaled


# project_delete


def test_project_delete_removes_releases_files_and_roles(project, wheel, other_file, owner):
    project_delete(project=project, actor=Actor(owner))
    assert not Project.objects.exists()
    assert not Release.objects.exists()
    assert not File.objects.exists()
    assert not Role.objects.exists()


def test_project_delete_leaves_other_projects_alone(project, owner):
    other = Project.objects.create(name="other", normalized_name="other")
    other_wheel = add_file(make_release(other), make_wheel("other", "1.0"))
    project_delete(project=project, actor=Actor(owner))
    assert list(File.objects.all()) == [other_wheel]


def test_project_delete_journal_entry_survives(project, wheel, owner):
    project_delete(project=project, actor=Actor(owner, IP))
    entry = last_entry()
    assert (entry.name, entry.action, entry.version, entry.submitted_by, entry.ip_address) == (
        "Sample.Project",
        "remove project",
        "",
        owner,
        IP,
    )


def test_project_delete_removes_stored_objects_after_commit(
    project, wheel, other_file, owner, django_capture_on_commit_callbacks
):
    paths = [wheel.path, metadata_path(wheel.path), other_file.path]
    with django_capture_on_commit_callbacks(execute=True):
        project_delete(project=project, actor=Actor(owner))
        assert all(stored(path) for path in paths)
    assert not any(stored(path) for path in paths)


def test_project_delete_keeps_stored_objects_when_rolled_back(
    project, wheel, owner, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        project_delete(project=project, actor=Actor(owner))
        raise RuntimeError("the caller's transaction fails")
    assert callbacks == []
    assert stored(wheel.path)
    assert Project.objects.filter(pk=project.pk).exists()


def test_project_delete_keeps_filenames_reserved(project, wheel, other_file, owner):
    project_delete(project=project, actor=Actor(owner))
    assert (
        FileRegistry.objects.filter(filename__in=[wheel.filename, other_file.filename]).count() == 2
    )


def test_project_delete_purges_the_cached_pages_after_commit(
    project, owner, cached_page, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        project_delete(project=project, actor=Actor(owner))
    assert cache.get(cached_page) is None


def test_deleting_a_deleted_project_is_refused(project, owner):
    project_delete(project=project, actor=Actor(owner))
    with pytest.raises(ReleaseError, match=r"Project Sample.Project no longer exists\."):
        project_delete(project=project, actor=Actor(owner))
    assert JournalEntry.objects.count() == 1


# The search entry follows the release that stands for the project.


def indexed_version(project: Project) -> str | None:
    document = SearchDocument.objects.filter(project=project).first()
    return document.version if document else None


def test_yanking_the_latest_release_moves_search_to_the_previous_one(project, owner):
    make_release(project, "1.0")
    newest = make_release(project, "2.0")
    search_index_update(project)
    assert indexed_version(project) == "2.0"
    release_yank(release=newest, reason="broken", actor=Actor(owner))
    assert indexed_version(project) == "1.0"
    release_unyank(release=newest, actor=Actor(owner))
    assert indexed_version(project) == "2.0"


def test_deleting_the_last_release_takes_the_project_out_of_search(project, release, owner):
    search_index_update(project)
    assert indexed_version(project) == "1.0"
    release_delete(release=release, actor=Actor(owner))
    assert indexed_version(project) is None


# Project events (the project's security history)


@pytest.fixture
def web_request(owner):
    from django.test import RequestFactory

    request = RequestFactory().post("/", REMOTE_ADDR=IP, HTTP_USER_AGENT="browser/1")
    request.user = owner
    return request


def last_event():
    from accounts.models import Event

    return Event.objects.latest("id")


def test_yank_and_unyank_record_events_with_actor_and_ip(project, release, owner, web_request):
    release_yank(release=release, reason="broken", actor=Actor.from_request(web_request))
    event = last_event()
    assert (event.tag, event.project, event.actor) == ("project:release:yanked", project, owner)
    assert (event.ip_address, event.user_agent) == (IP, "browser/1")
    assert event.details == {"version": "1.0", "reason": "broken"}
    assert last_entry().ip_address == IP
    release_unyank(release=release, actor=Actor.from_request(web_request))
    event = last_event()
    assert (event.tag, event.details) == ("project:release:unyanked", {"version": "1.0"})


def test_release_delete_records_an_event(project, release, wheel, owner, web_request):
    release_delete(release=release, actor=Actor.from_request(web_request))
    event = last_event()
    assert (event.tag, event.project, event.actor, event.ip_address) == (
        "project:release:deleted",
        project,
        owner,
        IP,
    )
    assert event.details == {"version": "1.0", "files": [wheel.filename]}


def test_file_delete_records_an_event(project, sdist, owner, web_request):
    file_delete(file=sdist, actor=Actor.from_request(web_request))
    event = last_event()
    assert (event.tag, event.project, event.actor, event.ip_address) == (
        "project:file:deleted",
        project,
        owner,
        IP,
    )
    assert event.details == {"version": "1.0", "filename": sdist.filename}


def test_project_delete_records_an_event_that_outlives_it(project, owner, web_request):
    project_delete(project=project, actor=Actor.from_request(web_request))
    event = last_event()
    assert (event.tag, event.project, event.project_name) == (
        "project:deleted",
        None,
        "Sample.Project",
    )
    assert (event.actor, event.ip_address) == (owner, IP)
    assert last_entry().ip_address == IP


def test_a_refused_operation_records_no_event(release, owner):
    from accounts.models import Event

    recorded = Event.objects.count()
    with pytest.raises(ReleaseError):
        release_unyank(release=release, actor=Actor(owner))
    assert Event.objects.count() == recorded


def test_a_rolled_back_operation_records_no_event(release, owner):
    from accounts.models import Event

    recorded = Event.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        release_yank(release=release, actor=Actor(owner))
        raise RuntimeError
    assert Event.objects.count() == recorded
