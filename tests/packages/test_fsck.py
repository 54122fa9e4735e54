"""``manage.py fsck``: every kind of inconsistency between File rows and the
file storage (a real FileSystemStorage in the test's directory), and what
``--repair`` may and may not remove."""

import io
import os
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError

from packages.consistency import ORPHAN, check, repair
from packages.storage import files_storage, metadata_path
from tests.factories import add_file, make_release, make_sdist, make_wheel, path_of, post_upload

pytestmark = pytest.mark.django_db

HOUR = 3600


def fsck(*args: str) -> tuple[int, list[str]]:
    """(exit status, output lines) of ``manage.py fsck <args>``."""
    out = io.StringIO()
    try:
        call_command("fsck", *args, stdout=out)
    except CommandError as error:
        return error.returncode, [*out.getvalue().splitlines(), str(error)]
    return 0, out.getvalue().splitlines()


def age(name: str, seconds: float) -> None:
    """Make the stored object ``name`` ``seconds`` old."""
    then = time.time() - seconds
    os.utime(files_storage().path(name), (then, then))


def orphan(dist, *, old: bool = True) -> str:
    """``dist``'s bytes stored as an upload stores them, without its rows: what a
    worker killed between store and commit leaves."""
    path = path_of(dist)
    files_storage().save(path, ContentFile(dist.content))
    if old:
        age(path, 2 * HOUR)
    return path


def overwrite(name: str, data: bytes) -> None:
    with open(files_storage().path(name), "wb") as handle:
        handle.write(data)


def test_uploaded_files_are_consistent(client, token):
    for dist in (make_wheel(), make_sdist()):
        assert post_upload(client, dist, token).status_code == 200
    assert fsck("--verify-digests") == (0, ["No inconsistencies."])


def test_an_empty_store_is_consistent():
    assert fsck() == (0, ["No inconsistencies."])


def test_row_without_its_object_is_reported_and_left_alone(project):
    dist = make_wheel()
    add_file(make_release(project), dist, store=False)
    status, lines = fsck("--repair", "--grace-seconds", "0")
    assert status == 1
    assert lines == [
        f"missing object: {path_of(dist)} (the row of {dist.filename} has no object)",
        "1 inconsistencies remain.",
    ]


def test_object_without_a_row_is_an_orphan():
    dist = make_wheel()
    path = orphan(dist)
    status, lines = fsck()
    assert status == 1
    assert lines == [
        f"orphan object: {path} ({len(dist.content)} bytes, no row)",
        "1 inconsistencies remain (--repair removes orphans and stray temp files).",
    ]


def test_repair_removes_an_orphan_older_than_the_grace_period():
    path = orphan(make_wheel())
    status, lines = fsck("--repair")
    assert status == 0
    assert lines[-2:] == [f"removed orphan object: {path}", "No inconsistencies (1 repaired)."]
    assert not files_storage().exists(path)
    assert fsck() == (0, ["No inconsistencies."])


def test_repair_leaves_an_orphan_younger_than_the_grace_period():
    # An upload between storing its file and committing its rows looks like this.
    path = orphan(make_wheel(), old=False)
    status, lines = fsck("--repair")
    assert status == 1
    assert lines[-1] == "1 inconsistencies remain."
    assert files_storage().exists(path)


def test_grace_period_zero_removes_even_a_new_orphan():
    path = orphan(make_wheel(), old=False)
    assert fsck("--repair", "--grace-seconds", "0")[0] == 0
    assert not files_storage().exists(path)


def test_grace_period_must_not_be_negative():
    with pytest.raises(CommandError, match="must be 0 or more"):
        call_command("fsck", "--grace-seconds", "-1")


def test_orphan_that_got_its_row_before_the_repair_is_kept(project):
    # The check saw an orphan; an upload of those bytes committed before repair.
    dist = make_wheel()
    path = orphan(dist)
    problems = check()
    add_file(make_release(project), dist, store=False)
    assert repair(problems, grace=timedelta(0)) == []
    assert files_storage().exists(path)


def test_partial_object_of_a_killed_store_is_an_orphan():
    dist = make_wheel()
    partial = os.path.join(os.path.dirname(path_of(dist)), f".{dist.filename}.1234.partial")
    files_storage().save(partial, ContentFile(b"half"))
    age(partial, 2 * HOUR)
    status, lines = fsck("--repair")
    assert lines[0] == f"orphan object: {partial} (4 bytes, no row)"
    assert status == 0
    assert not files_storage().exists(partial)


def test_metadata_file_whose_row_is_gone_is_an_orphan():
    dist = make_wheel()
    name = metadata_path(path_of(dist))
    files_storage().save(name, ContentFile(dist.metadata.encode()))
    age(name, 2 * HOUR)
    assert fsck("--repair")[0] == 0
    assert not files_storage().exists(name)


def test_metadata_file_beside_a_row_without_metadata_is_an_orphan(project):
    dist = make_wheel()
    add_file(make_release(project), dist)  # no metadata digest in the row
    name = metadata_path(path_of(dist))
    files_storage().save(name, ContentFile(dist.metadata.encode()))
    age(name, 2 * HOUR)
    status, lines = fsck("--repair")
    assert lines[0].startswith(f"orphan object: {name}")
    assert status == 0
    assert not files_storage().exists(name)
    assert files_storage().exists(path_of(dist))


def test_object_of_another_size_is_reported(project):
    dist = make_wheel()
    add_file(make_release(project), dist)
    overwrite(path_of(dist), b"truncated")
    status, lines = fsck("--repair", "--grace-seconds", "0")
    assert status == 1
    assert lines[0] == (
        f"size mismatch: {path_of(dist)} (9 bytes stored, the row says {len(dist.content)})"
    )
    assert files_storage().exists(path_of(dist))


def test_object_with_other_bytes_of_the_same_size_needs_verify_digests(project):
    dist = make_wheel()
    add_file(make_release(project), dist)
    overwrite(path_of(dist), bytes(len(dist.content)))
    assert fsck() == (0, ["No inconsistencies."])
    status, lines = fsck("--verify-digests")
    assert status == 1
    assert (
        lines[0] == f"digest mismatch: {path_of(dist)} (the bytes are not those of {dist.filename})"
    )


def test_wheel_without_its_metadata_file_is_reported(project):
    dist = make_wheel()
    add_file(make_release(project), dist, with_metadata=True)
    name = metadata_path(path_of(dist))
    files_storage().delete(name)
    status, lines = fsck()
    assert status == 1
    assert lines[0] == f"missing metadata: {name} ({dist.filename} has a metadata digest)"


def test_metadata_file_with_other_bytes_is_reported_with_verify_digests(project):
    dist = make_wheel()
    add_file(make_release(project), dist, with_metadata=True)
    name = metadata_path(path_of(dist))
    overwrite(name, b"Metadata-Version: 2.1\nName: other\n")
    assert fsck()[0] == 0
    status, lines = fsck("--verify-digests")
    assert status == 1
    assert lines[0] == f"digest mismatch: {name} (not the metadata of {dist.filename})"


# --- temp files ----------------------------------------------------------------------


@pytest.fixture
def temp_dir(settings):
    os.makedirs(settings.FILE_UPLOAD_TEMP_DIR, exist_ok=True)
    return settings.FILE_UPLOAD_TEMP_DIR


def stray(temp_dir: str, name: str, *, seconds_old: float) -> str:
    path = os.path.join(temp_dir, name)
    with open(path, "wb") as handle:
        handle.write(b"x" * 10)
    then = time.time() - seconds_old
    os.utime(path, (then, then))
    return path


def test_named_temp_file_is_reported_and_removed_once_old(temp_dir):
    # What a killed upload left in FILE_UPLOAD_TEMP_DIR before uploads were nameless.
    old = stray(temp_dir, "tmpabc.upload.whl", seconds_old=2 * HOUR)
    new = stray(temp_dir, "tmpdef.upload.whl", seconds_old=0)
    status, lines = fsck("--repair")
    assert lines[:2] == [f"stray temp file: {old} (10 bytes)", f"stray temp file: {new} (10 bytes)"]
    assert f"removed stray temp file: {old}" in lines
    assert status == 1  # the new one may still be an upload's
    assert not os.path.exists(old)
    assert os.path.exists(new)


def test_temp_file_removed_meanwhile_counts_as_repaired(temp_dir):
    path = stray(temp_dir, "tmpabc.upload.whl", seconds_old=2 * HOUR)
    problems = check()
    os.unlink(path)
    assert repair(problems, grace=timedelta(hours=1)) == problems


def test_directories_in_the_temp_dir_are_not_temp_files(temp_dir):
    os.mkdir(os.path.join(temp_dir, "subdirectory"))
    assert fsck() == (0, ["No inconsistencies."])


@pytest.mark.parametrize("configured", [None, "missing"])
def test_no_temp_dir_means_no_temp_files(settings, tmp_path, configured):
    settings.FILE_UPLOAD_TEMP_DIR = configured and str(tmp_path / configured)
    assert fsck() == (0, ["No inconsistencies."])


def test_repair_reports_only_what_it_may_touch(project):
    path = orphan(make_wheel("orphaned"))
    missing = make_wheel()
    add_file(make_release(project), missing, store=False)
    problems = check()
    assert {problem.kind for problem in problems} == {ORPHAN, "missing object"}
    assert [problem.name for problem in repair(problems, grace=timedelta(0))] == [path]
