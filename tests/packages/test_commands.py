import io
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from packages.models import File, FileRegistry, JournalEntry, Release
from packages.storage import files_storage
from tests.factories import add_file, make_release, make_sdist, make_wheel

pytestmark = pytest.mark.django_db


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def release(project):
    return make_release(project, "1.0")


@pytest.fixture
def wheel(release):
    return add_file(release, make_wheel("sample-project", "1.0"))


@pytest.fixture
def sdist(release):
    return add_file(release, make_sdist("sample-project", "1.0"))


@pytest.fixture
def terminal(monkeypatch):
    """A person at a terminal who answers the confirmation with ``answers[0]``."""
    answers = ["y"]
    prompts = []

    def ask(prompt):
        prompts.append(prompt)
        return answers[0]

    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("builtins.input", ask)
    return answers, prompts


@pytest.fixture
def no_terminal(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO())


def command_entries():
    """The journal without the entries of the uploads the factories made."""
    return JournalEntry.objects.exclude(action="new release").exclude(action__startswith="add ")


def journal_actions() -> list[str]:
    return list(command_entries().values_list("action", flat=True))


# yank_release


def test_yank_release_prints_what_it_did(release):
    assert run("yank_release", "sample-project", "1.0") == "Yanked Sample.Project 1.0.\n"


def test_yank_release_records_the_reason(release):
    run("yank_release", "sample-project", "1.0", "--reason", "CVE-2025-0001")
    release.refresh_from_db()
    assert (release.yanked, release.yanked_reason) == (True, "CVE-2025-0001")


def test_yank_release_finds_any_spelling_of_name_and_version(release):
    run("yank_release", "SAMPLE_project", "1.0.0")
    release.refresh_from_db()
    assert release.yanked


def test_yank_release_journals_the_actor(release, owner):
    run("yank_release", "sample-project", "1.0", "--actor", "olivia")
    entry = command_entries().get()
    assert (entry.action, entry.version, entry.submitted_by) == ("yank release", "1.0", owner)


def test_yank_release_without_actor_journals_a_system_change(release):
    run("yank_release", "sample-project", "1.0")
    assert command_entries().get().submitted_by is None


def test_yank_release_twice_is_an_error(release):
    run("yank_release", "sample-project", "1.0")
    with pytest.raises(CommandError, match=r"Sample\.Project 1\.0 is already yanked"):
        run("yank_release", "sample-project", "1.0")


def test_unknown_project(db):
    with pytest.raises(CommandError, match="No project named 'nope'"):
        run("yank_release", "nope", "1.0")


def test_unknown_version(release):
    with pytest.raises(CommandError, match=r"Sample\.Project has no release '2\.0'"):
        run("yank_release", "sample-project", "2.0")


def test_unknown_actor(release):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        run("yank_release", "sample-project", "1.0", "--actor", "nobody")
    release.refresh_from_db()
    assert not release.yanked


# unyank_release


def test_unyank_release_prints_what_it_did(project):
    make_release(project, yanked=True, yanked_reason="oops")
    assert run("unyank_release", "sample-project", "1") == "Unyanked Sample.Project 1.0.\n"


def test_unyank_release_clears_the_yank(project, maintainer):
    release = make_release(project, yanked=True, yanked_reason="oops")
    run("unyank_release", "sample-project", "1.0", "--actor", "max")
    release.refresh_from_db()
    assert (release.yanked, release.yanked_reason) == (False, "")
    assert command_entries().get().submitted_by == maintainer


def test_unyank_release_that_is_not_yanked_is_an_error(release):
    with pytest.raises(CommandError, match=r"Sample\.Project 1\.0 is not yanked"):
        run("unyank_release", "sample-project", "1.0")


# delete_release


def test_delete_release_with_yes_deletes_and_prints(release, wheel, sdist, owner):
    output = run("delete_release", "sample-project", "1.0", "--yes", "--actor", "olivia")
    assert output == "Deleted Sample.Project 1.0 and its 2 file(s).\n"
    assert not Release.objects.exists()
    assert journal_actions() == ["remove release"]
    assert command_entries().get().submitted_by == owner


def test_delete_release_keeps_filenames_reserved(release, wheel):
    run("delete_release", "sample-project", "1.0", "--yes")
    assert FileRegistry.objects.filter(filename=wheel.filename).exists()


def test_delete_release_removes_stored_objects_after_commit(
    release, wheel, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run("delete_release", "sample-project", "1.0", "--yes")
    assert not files_storage().exists(wheel.path)


def test_delete_release_asks_and_deletes_on_yes(release, wheel, terminal):
    answers, prompts = terminal
    answers[0] = " Yes "
    run("delete_release", "sample-project", "1.0")
    assert prompts == [
        "Delete Sample.Project 1.0 and its 1 file(s)? "
        "Their filenames can never be uploaded again. [y/N] "
    ]
    assert not Release.objects.exists()


@pytest.mark.parametrize("answer", ["", "n", "no", "maybe"])
def test_delete_release_cancelled_unless_confirmed(release, wheel, terminal, answer):
    answers, _ = terminal
    answers[0] = answer
    output = run("delete_release", "sample-project", "1.0")
    assert output == "Cancelled; nothing was deleted.\n"
    assert Release.objects.exists()
    assert not command_entries().exists()


def test_delete_release_refuses_without_terminal_or_yes(release, wheel, no_terminal):
    with pytest.raises(CommandError, match="pass --yes"):
        run("delete_release", "sample-project", "1.0")
    assert Release.objects.exists()


def test_delete_release_deleted_while_confirming(release, wheel, monkeypatch):
    def someone_else_deletes_it(prompt):
        Release.objects.filter(pk=release.pk).delete()
        return "y"

    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("builtins.input", someone_else_deletes_it)
    with pytest.raises(CommandError, match=r"Sample\.Project 1\.0 no longer exists"):
        run("delete_release", "sample-project", "1.0")


def test_delete_release_unknown_version(release):
    with pytest.raises(CommandError, match="has no release '9'"):
        run("delete_release", "sample-project", "9", "--yes")


# delete_file


def test_delete_file_with_yes_deletes_and_prints(release, wheel, sdist, owner):
    output = run("delete_file", sdist.filename, "--yes", "--actor", "olivia")
    assert output == f"Deleted {sdist.filename} from Sample.Project 1.0.\n"
    assert list(File.objects.all()) == [wheel]
    entry = command_entries().get()
    assert (entry.action, entry.filename, entry.submitted_by) == (
        f"remove file {sdist.filename}",
        sdist.filename,
        owner,
    )


def test_delete_file_keeps_the_release(release, wheel):
    run("delete_file", wheel.filename, "--yes")
    assert Release.objects.filter(pk=release.pk).exists()


def test_delete_file_asks_and_deletes_on_yes(wheel, terminal):
    _, prompts = terminal
    run("delete_file", wheel.filename)
    assert prompts == [
        f"Delete {wheel.filename} from Sample.Project 1.0? "
        "The filename can never be uploaded again. [y/N] "
    ]
    assert not File.objects.exists()


def test_delete_file_cancelled_unless_confirmed(wheel, terminal):
    answers, _ = terminal
    answers[0] = "n"
    assert run("delete_file", wheel.filename) == "Cancelled; nothing was deleted.\n"
    assert File.objects.exists()


def test_delete_file_refuses_without_terminal_or_yes(wheel, no_terminal):
    with pytest.raises(CommandError, match="pass --yes"):
        run("delete_file", wheel.filename)
    assert File.objects.exists()


def test_delete_file_deleted_while_confirming(wheel, monkeypatch):
    def someone_else_deletes_it(prompt):
        File.objects.filter(pk=wheel.pk).delete()
        return "y"

    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("builtins.input", someone_else_deletes_it)
    with pytest.raises(CommandError, match=f"File {wheel.filename} no longer exists"):
        run("delete_file", wheel.filename)


def test_delete_file_unknown_filename(db):
    with pytest.raises(CommandError, match=r"No file named 'nope-1\.0\.tar\.gz'"):
        run("delete_file", "nope-1.0.tar.gz", "--yes")
