"""manage.py import_distributions: what it prints, its exit status, its bar."""

import io

import pytest
from django.core.management import CommandError, call_command

from packages.models import File, Project
from tests.factories import make_sdist, make_wheel
from tests.upstream_server import StaticIndex, dist

pytestmark = pytest.mark.django_db


def run(*args, stderr=None):
    out = io.StringIO()
    call_command("import_distributions", *args, stdout=out, stderr=stderr or io.StringIO())
    return out.getvalue()


@pytest.fixture
def incoming(tmp_path):
    directory = tmp_path / "incoming"
    directory.mkdir()
    for item in (make_wheel("alpha"), make_sdist("alpha"), make_wheel("beta", "2.0")):
        (directory / item.filename).write_bytes(item.content)
    (directory / "notes.txt").write_text("not a distribution")
    return directory


def test_a_directory_is_imported_and_summed_up(incoming, owner):
    assert run(str(incoming), "--owner", owner.username) == (
        "Imported 3, already there 0, refused 0.\n"
    )
    assert File.objects.count() == 3
    assert run(str(incoming), "--owner", owner.username) == (
        "Imported 0, already there 3, refused 0.\n"
    )


def test_each_file_and_each_skip_is_told_with_verbosity_2(incoming, owner):
    out = run(str(incoming), "--owner", owner.username, "--verbosity", "2")
    assert out.splitlines() == [
        f"{incoming / 'notes.txt'}: skipped, not a wheel or an sdist",
        "alpha-1.0-py3-none-any.whl: imported",
        "alpha-1.0.tar.gz: imported",
        "beta-2.0-py3-none-any.whl: imported",
        "Imported 3, already there 0, refused 0.",
    ]


def test_refusals_are_listed_at_the_end_and_the_status_is_not_zero(incoming, owner):
    (incoming / "broken-1.0.tar.gz").write_bytes(b"no gzip here")
    out = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("import_distributions", str(incoming), "--owner", owner.username, stdout=out)
    assert info.value.returncode == 1
    assert str(info.value) == "1 refused, listed above."
    lines = out.getvalue().splitlines()
    assert lines[0] == "Refused:"
    assert lines[1].startswith("  broken-1.0.tar.gz: ")
    assert lines[2] == "Imported 3, already there 0, refused 1."


def test_the_owner_must_exist(incoming, db):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        run(str(incoming), "--owner", "nobody")
    assert not Project.objects.exists()


def test_a_path_that_does_not_exist_is_an_error_not_an_empty_import(incoming, owner):
    with pytest.raises(CommandError, match=r"No such file or directory: .*/packges"):
        run(str(incoming), str(incoming.parent / "packges"), "--owner", owner.username)
    assert not File.objects.exists()


def test_something_to_import_must_be_named(owner):
    with pytest.raises(CommandError, match="Name the files or directories to import"):
        run("--owner", owner.username)


def test_mtimes_are_for_files_on_disk(owner):
    with pytest.raises(CommandError, match="--upload-time-from-mtime is for files on disk"):
        run(
            "--from-index", "http://127.0.0.1:9/simple/", "--upload-time-from-mtime", "--owner", "x"
        )


def test_projects_are_copied_from_an_index(owner):
    wheel = make_wheel("gamma")
    with StaticIndex() as index:
        index.publish("gamma", [dist(wheel.filename, wheel.content)])
        index.publish("delta", [dist(make_wheel("delta").filename, make_wheel("delta").content)])
        out = run("--from-index", index.simple_url, "gamma", "--owner", owner.username)
    assert out == "Imported 1, already there 0, refused 0.\n"
    assert list(Project.objects.values_list("name", flat=True)) == ["gamma"]


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_progress_bar_is_drawn_on_a_terminal_unless_asked_not_to(incoming, owner, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    run(str(incoming), "--owner", owner.username)
    assert "3/3" in terminal.getvalue()

    quiet = Terminal()
    monkeypatch.setattr("sys.stderr", quiet)
    run(str(incoming), "--owner", owner.username, "--no-progress")
    assert quiet.getvalue() == ""
