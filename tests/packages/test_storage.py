import hashlib
import os
import stat

import pytest
from django.core.files.storage import InMemoryStorage, storages

from accounts.events import Actor
from packages import storage as storage_module
from packages import upload_sessions
from packages.storage import (
    delete_objects,
    delete_unreferenced,
    file_path,
    file_url,
    files_storage,
    lock_stored_path,
    metadata_path,
    store_bytes,
    store_file,
)
from packages.upload_handler import anonymous_temp_file, open_file_path
from tests.factories import add_file, make_release, make_wheel, path_of
from tests.packages.test_upload_sessions import open_row, received

DIGEST = "0123456789abcdef" * 4
PATH = file_path(blake2_256_digest=DIGEST, filename="demo-1.0.tar.gz")


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "upload.bin"
    path.write_bytes(b"new bytes")
    return path


def read(path: str) -> bytes:
    with files_storage().open(path, "rb") as handle:
        return handle.read()


def leftovers(directory) -> list[str]:
    return [name for name in os.listdir(directory) if name.endswith(".partial")]


def test_file_path_is_the_content_addressed_layout():
    path = file_path(blake2_256_digest=DIGEST, filename="demo-1.0.tar.gz")
    assert path == f"01/23/{DIGEST[4:]}/demo-1.0.tar.gz"


def test_metadata_path_appends_the_suffix():
    assert metadata_path("ab/cd/ef/x.whl") == "ab/cd/ef/x.whl.metadata"


def test_file_url_is_site_relative_without_files_url(settings):
    settings.FILES_URL = ""
    assert file_url(PATH) == f"/packages/{PATH}"


def test_file_url_uses_files_url_as_origin(settings):
    settings.FILES_URL = "https://files.example.org"
    assert file_url(PATH) == f"https://files.example.org/packages/{PATH}"


def test_store_file_puts_the_bytes_at_the_path(source):
    store_file(PATH, str(source))
    assert read(PATH) == b"new bytes"


def test_store_file_makes_the_object_world_readable(source):
    store_file(PATH, str(source))
    mode = stat.S_IMODE(os.stat(files_storage().path(PATH)).st_mode)
    assert mode == 0o644


def test_store_file_replaces_an_existing_object_and_leaves_no_partial(source):
    store_file(PATH, str(source))
    other = source.with_name("other.bin")
    other.write_bytes(b"leftover of a dead upload")
    store_file(PATH, str(other))
    assert read(PATH) == b"leftover of a dead upload"
    assert leftovers(os.path.dirname(files_storage().path(PATH))) == []


def test_store_file_hard_links_when_it_can(source):
    store_file(PATH, str(source))
    assert os.stat(files_storage().path(PATH)).st_ino == os.stat(source).st_ino


def test_store_file_copies_when_hard_linking_fails(source, monkeypatch):
    def no_link(*args, **kwargs):
        raise OSError("cross-device link")

    monkeypatch.setattr(storage_module.os, "link", no_link)
    store_file(PATH, str(source))
    target = files_storage().path(PATH)
    assert read(PATH) == b"new bytes"
    assert os.stat(target).st_ino != os.stat(source).st_ino


def test_store_file_removes_the_partial_when_the_rename_fails(source, monkeypatch):
    def broken_replace(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(storage_module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk gone"):
        store_file(PATH, str(source))
    directory = os.path.dirname(files_storage().path(PATH))
    assert os.listdir(directory) == []


def test_store_file_hard_links_a_nameless_temporary_file(settings):
    # An upload's temporary file has no name; it is linked, not copied.
    with anonymous_temp_file() as handle:
        handle.write(b"uploaded bytes")
        handle.flush()
        store_file(PATH, open_file_path(handle))
        assert os.stat(files_storage().path(PATH)).st_ino == os.fstat(handle.fileno()).st_ino
    assert read(PATH) == b"uploaded bytes"
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []


def test_store_file_copies_a_temporary_file_that_cannot_be_linked(source, monkeypatch):
    # What the standard library's TemporaryFile makes where O_TMPFILE is
    # missing: a file whose name is already gone. linkat cannot bring it back.
    handle = open(source, "w+b")  # noqa: SIM115 - closed below
    handle.write(b"unlinked bytes")
    handle.flush()
    os.unlink(source)
    try:
        store_file(PATH, open_file_path(handle))
    finally:
        handle.close()
    assert read(PATH) == b"unlinked bytes"


@pytest.fixture
def memory_storage(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "files": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    storages._storages.pop("files", None)
    yield files_storage()
    storages._storages.pop("files", None)


def test_store_file_saves_through_a_non_filesystem_storage(memory_storage, source):
    assert isinstance(memory_storage, InMemoryStorage)
    store_file(PATH, str(source))
    assert read(PATH) == b"new bytes"


def test_store_bytes_stores_the_data_creating_the_temp_dir(tmp_path, settings):
    # Nothing has received an upload yet, so the temp directory does not exist.
    assert not os.path.exists(settings.FILE_UPLOAD_TEMP_DIR)
    store_bytes(metadata_path(PATH), b"Metadata-Version: 2.1\n")
    assert read(metadata_path(PATH)) == b"Metadata-Version: 2.1\n"


def test_store_bytes_leaves_no_temporary_file(settings):
    store_bytes(PATH, b"data")
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []


def test_delete_objects_deletes_each_path(source):
    store_file(PATH, str(source))
    store_bytes(metadata_path(PATH), b"meta")
    delete_objects([PATH, metadata_path(PATH)])
    assert not files_storage().exists(PATH)
    assert not files_storage().exists(metadata_path(PATH))


def test_delete_objects_tolerates_missing_objects(source):
    store_file(PATH, str(source))
    delete_objects([metadata_path(PATH), PATH])
    assert not files_storage().exists(PATH)


def test_delete_objects_tolerates_missing_objects_in_memory_storage(memory_storage):
    delete_objects([PATH])
    assert not memory_storage.exists(PATH)


# --- the path lock on PostgreSQL --------------------------------------------------


class _Cursor:
    def __init__(self, executed):
        self.executed = executed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, params):
        self.executed.append((sql, params))


class _PostgresConnection:
    vendor = "postgresql"

    def __init__(self):
        self.executed = []

    def cursor(self):
        return _Cursor(self.executed)


def test_path_lock_on_postgresql_is_a_transaction_advisory_lock(monkeypatch):
    fake = _PostgresConnection()
    monkeypatch.setattr(storage_module, "connection", fake)
    path = "ab/cd/" + "e" * 60 + "/demo-1.0.tar.gz"
    lock_stored_path(path)
    lock_stored_path(path)
    lock_stored_path(path + ".other")
    (sql, [key]), (_, [same]), (_, [other]) = fake.executed
    assert sql == "SELECT pg_advisory_xact_lock(%s)"
    expected = int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big", signed=True)
    assert key == same == expected
    assert other != key
    assert -(2**63) <= key < 2**63


def test_path_lock_on_sqlite_runs_no_statement(monkeypatch):
    # Faked like the PostgreSQL case, so the branch is covered on either backend.
    class SqliteConnection:
        vendor = "sqlite"

        def cursor(self):
            raise AssertionError("SQLite's IMMEDIATE transaction needs no lock statement")

    monkeypatch.setattr(storage_module, "connection", SqliteConnection())
    lock_stored_path("ab/cd/ef/demo-1.0.tar.gz")


# --- deleting what no row uses ------------------------------------------------------


@pytest.mark.django_db
def test_delete_unreferenced_deletes_objects_no_row_points_to(source):
    store_file(PATH, str(source))
    store_bytes(metadata_path(PATH), b"meta")
    assert delete_unreferenced(PATH, [PATH, metadata_path(PATH)]) is True
    assert not files_storage().exists(PATH)
    assert not files_storage().exists(metadata_path(PATH))


@pytest.mark.django_db
def test_delete_unreferenced_keeps_objects_a_committed_row_points_to(project):
    dist = make_wheel()
    add_file(make_release(project), dist, with_metadata=True)
    path = path_of(dist)
    assert delete_unreferenced(path, [path, metadata_path(path)]) is False
    assert read(path) == dist.content
    assert files_storage().exists(metadata_path(path))


@pytest.mark.django_db
def test_delete_unreferenced_keeps_objects_an_open_publishing_session_holds(owner, project):
    dist = make_wheel()
    session = open_row(owner)
    upload_sessions.stage_file(session, content=received(dist), token=None, actor=Actor(owner))
    path = path_of(dist)
    assert delete_unreferenced(path, [path, metadata_path(path)]) is False
    assert read(path) == dist.content
    upload_sessions.cancel_session(session, actor=Actor(owner))
    assert delete_unreferenced(path, [path, metadata_path(path)]) is True
    assert not files_storage().exists(path)
