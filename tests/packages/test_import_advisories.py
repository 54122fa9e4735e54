"""manage.py import_advisories: OSV files, lists and directories; a summary
of what was created, updated, skipped and refused; exit status 1 on a refusal."""

import json
import zipfile
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Event
from packages.models import Advisory
from tests.packages.test_advisories import record

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("import_advisories", *[str(arg) for arg in args], stdout=out)
    return out.getvalue()


def refused(*args) -> tuple[str, CommandError]:
    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("import_advisories", *[str(arg) for arg in args], stdout=out)
    return out.getvalue(), error.value


def write(path, data) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_a_directory_as_osv_dev_exports_it(tmp_path, project):
    export = tmp_path / "PyPI"
    export.mkdir()
    write(export / "PYSEC-2024-12.json", record())
    write(export / "PYSEC-2024-13.json", record(id="PYSEC-2024-13"))
    other = record(id="PYSEC-2024-14")
    other["affected"][0]["package"]["name"] = "not-here"
    write(export / "PYSEC-2024-14.json", other)
    write(export / "notes.txt", "not json")

    output = run(export)

    assert output.splitlines() == [
        "created: PYSEC-2024-12 for Sample.Project",
        "created: PYSEC-2024-13 for Sample.Project",
        "skipped: PYSEC-2024-14 for not-here (no project named 'not-here' here)",
        "3 files: 2 created, 0 updated, 0 unchanged, 1 skipped, 0 refused.",
    ]
    assert set(Advisory.objects.values_list("osv_id", flat=True)) == {
        "PYSEC-2024-12",
        "PYSEC-2024-13",
    }
    # Recorded as done from the shell: no account named.
    event = Event.objects.filter(tag="project:advisory:added").first()
    assert event.actor is None


def test_a_list_then_again_updated(tmp_path, project, moderator):
    listed = write(tmp_path / "all.json", [record(), record(id="GHSA-1")])
    run(listed)
    newer = write(
        tmp_path / "newer.json", record(summary="Changed", modified="2025-01-01T00:00:00Z")
    )

    output = run(listed, newer, "--moderator", moderator.username)

    assert output.splitlines() == [
        "unchanged: PYSEC-2024-12 for Sample.Project (already up to date)",
        "unchanged: GHSA-1 for Sample.Project (already up to date)",
        "updated: PYSEC-2024-12 for Sample.Project",
        "2 files: 0 created, 1 updated, 2 unchanged, 0 skipped, 0 refused.",
    ]
    assert Advisory.objects.get(osv_id="PYSEC-2024-12").summary == "Changed"
    assert Event.objects.get(tag="project:advisory:updated").actor == moderator


def test_refusals_are_listed_and_exit_with_status_1(tmp_path, project, monkeypatch):
    bad_json = write(tmp_path / "bad.json", "{oops")
    mixed = write(tmp_path / "mixed.json", [record(), record(id=""), "text"])
    npm = record(id="NPM-1", affected=[{"package": {"ecosystem": "npm", "name": "x"}}])
    not_pypi = write(tmp_path / "npm.json", npm)
    monkeypatch.setattr("packages.management.commands.import_advisories.MAX_FILE_BYTES", 10_000)
    huge = write(tmp_path / "huge.json", " " * 10_001)

    output, error = refused(bad_json, mixed, not_pypi, huge)

    lines = output.splitlines()
    assert lines[0].startswith(f"refused: {bad_json}: This is not valid JSON")
    assert lines[1:5] == [
        "created: PYSEC-2024-12 for Sample.Project",
        f'refused: {mixed}: The record has no "id".',
        f"refused: {mixed}: An OSV record is a JSON object.",
        f'refused: {not_pypi}: NPM-1: the record names no package of the "PyPI" ecosystem.',
    ]
    assert lines[5] == f"refused: {huge}: larger than 10000 bytes."
    assert lines[6] == "4 files: 1 created, 0 updated, 0 unchanged, 0 skipped, 5 refused."
    assert str(error) == "5 refused, listed above."
    assert error.returncode == 1
    assert Advisory.objects.count() == 1


def test_an_unreadable_file_is_refused(tmp_path, project):
    # A directory whose name ends in .json is in the glob, and can't be read.
    (tmp_path / "sub.json").mkdir()

    output, _error = refused(tmp_path)

    assert output.splitlines()[0].startswith(f"refused: {tmp_path / 'sub.json'}: [Errno 21]")
    assert output.splitlines()[1] == (
        "1 file: 0 created, 0 updated, 0 unchanged, 0 skipped, 1 refused."
    )


def test_unknown_paths_and_users_are_refused(tmp_path):
    with pytest.raises(CommandError, match=r"No such file or directory: .*missing\.json"):
        run(tmp_path / "missing.json")
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        run(tmp_path, "--moderator", "nobody")


def test_osv_devs_zip_export(tmp_path, project):
    export = tmp_path / "all.zip"
    with zipfile.ZipFile(export, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("PYSEC-2024-13.json", json.dumps(record(id="PYSEC-2024-13")))
        archive.writestr("PYSEC-2024-12.json", json.dumps(record()))
        archive.writestr("README.txt", "not a record")
        archive.writestr("broken.json", "{")
        archive.mkdir("sub.json")

    output, _error = refused(export)

    assert output.splitlines() == [
        "created: PYSEC-2024-12 for Sample.Project",
        "created: PYSEC-2024-13 for Sample.Project",
        f"refused: {export}:broken.json: This is not valid JSON: Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1).",
        "3 files: 2 created, 0 updated, 0 unchanged, 0 skipped, 1 refused.",
    ]


def test_a_bad_zip_and_an_oversized_member_are_refused(tmp_path, project, monkeypatch):
    monkeypatch.setattr("packages.management.commands.import_advisories.MAX_FILE_BYTES", 100)
    not_zip = write(tmp_path / "not.zip", "plain text")
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w") as archive:
        archive.writestr("big.json", " " * 101)

    output, _error = refused(not_zip, big)

    assert output.splitlines() == [
        f"refused: {not_zip}: File is not a zip file",
        f"refused: {big}:big.json: larger than 100 bytes.",
        "2 files: 0 created, 0 updated, 0 unchanged, 0 skipped, 2 refused.",
    ]


def test_a_file_longer_than_its_stated_size_is_cut_at_the_bound(monkeypatch):
    # procfs gives no size (0); what is read is bounded all the same.
    monkeypatch.setattr("packages.management.commands.import_advisories.MAX_FILE_BYTES", 10)

    output, _error = refused("/proc/self/status")

    assert output.splitlines()[0] == "refused: /proc/self/status: larger than 10 bytes."
