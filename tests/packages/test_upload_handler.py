import errno
import hashlib
import io
import os
import tempfile
import threading
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from packages import upload_handler
from packages.models import Project
from packages.upload_handler import (
    CHUNK_SIZE,
    DIGESTS,
    HASH_QUEUE_CHUNKS,
    PARALLEL_HASH_MIN_BYTES,
    HashedUploadedFile,
    HashingUploadHandler,
    StreamDigests,
    UploadFormParser,
    anonymous_temp_file,
    hash_thread,
    largest_upload_limit,
    open_file_path,
    upload_temp_dir,
)
from tests.liveserver import multipart

pytestmark = pytest.mark.django_db

DATA = bytes(range(256)) * 40  # 10 240 bytes


def receive(chunks, *, filename="demo-1.0.tar.gz") -> HashedUploadedFile:
    """Feed chunks through the handler as Django's multipart parser does."""
    handler = HashingUploadHandler()
    handler.new_file("content", filename, "application/octet-stream", None, None)
    start = 0
    for chunk in chunks:
        assert handler.receive_data_chunk(chunk, start) is None
        start += len(chunk)
    return handler.file_complete(start)


def chunks_of(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_digests_are_those_of_the_bytes_received():
    upload = receive(chunks_of(DATA, 1000))
    assert upload.sha256_digest == hashlib.sha256(DATA).hexdigest()
    assert upload.blake2_256_digest == hashlib.blake2b(DATA, digest_size=32).hexdigest()
    assert upload.md5_digest == hashlib.md5(DATA, usedforsecurity=False).hexdigest()


def digests_of(data: bytes) -> tuple[str, str, str]:
    return (
        hashlib.sha256(data).hexdigest(),
        hashlib.blake2b(data, digest_size=32).hexdigest(),
        hashlib.md5(data, usedforsecurity=False).hexdigest(),
    )


def test_digests_of_big_chunks_hashed_in_threads_are_those_of_the_bytes(settings):
    settings.UPLOAD_MAX_BYTES = 10 * CHUNK_SIZE
    data = os.urandom(3 * PARALLEL_HASH_MIN_BYTES + 5)
    # Big and small chunks mixed: each digest must see them in order.
    sizes = [PARALLEL_HASH_MIN_BYTES, 7, PARALLEL_HASH_MIN_BYTES + 3, 100]
    chunks, start = [], 0
    for size in sizes:
        chunks.append(data[start : start + size])
        start += size
    chunks.append(data[start:])
    upload = receive(chunks)
    got = (upload.sha256_digest, upload.blake2_256_digest, upload.md5_digest)
    assert got == digests_of(data)
    with open(upload.temporary_file_path(), "rb") as handle:
        assert handle.read() == data


def block_hash_threads() -> tuple[threading.Event, list]:
    """Keeps every hash thread busy until the event is set."""
    gate = threading.Event()
    return gate, [hash_thread(digest).submit(gate.wait) for digest in DIGESTS]


def test_a_digest_read_while_chunks_are_hashed_waits_for_them():
    gate, blockers = block_hash_threads()
    digests = StreamDigests()
    data = os.urandom(PARALLEL_HASH_MIN_BYTES)
    digests.update(data)
    threading.Timer(0.05, gate.set).start()
    upload = HashedUploadedFile("demo-1.0.tar.gz", "application/octet-stream", None)
    upload.digests = digests
    assert (upload.sha256_digest, upload.blake2_256_digest, upload.md5_digest) == digests_of(data)
    assert all(blocker.done() for blocker in blockers)
    upload.close()


def test_chunks_waiting_to_be_hashed_are_bounded():
    # Would catch: a queue that grows with the file when the network is faster
    # than the hashing, i.e. the whole upload in memory.
    gate, _blockers = block_hash_threads()
    digests = StreamDigests()
    chunks = [os.urandom(PARALLEL_HASH_MIN_BYTES) for _ in range(HASH_QUEUE_CHUNKS + 3)]
    fed = []

    def feed():
        for chunk in chunks:
            digests.update(chunk)
            fed.append(chunk)

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        deadline = time.monotonic() + 5
        while len(fed) < HASH_QUEUE_CHUNKS and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        assert len(fed) == HASH_QUEUE_CHUNKS
    finally:
        gate.set()
        feeder.join()
    digests.wait()
    assert digests.md5.hexdigest() == digests_of(b"".join(chunks))[2]


def test_each_digest_has_one_thread_per_process():
    assert hash_thread("md5") is hash_thread("md5")
    assert hash_thread("md5") is not hash_thread("sha256")


class RecordingInput(io.BytesIO):
    """A request body that remembers the size of every read asked of it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.sizes = []

    def read(self, size=-1):
        self.sizes.append(size)
        return super().read(size)


def test_the_body_is_read_a_mebibyte_at_a_time(settings):
    # gunicorn receives up to 1 MiB at once and copied the unread rest again
    # on each of Django's default 64 KiB reads.
    settings.UPLOAD_MAX_BYTES = 10 * CHUNK_SIZE
    data = os.urandom(3 * CHUNK_SIZE)
    content_type, segments, length = multipart({"name": "demo"}, "demo-1.0.tar.gz", data)
    body = RecordingInput(b"".join(segments))
    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(length)}
    form, files = UploadFormParser(meta, body, [HashingUploadHandler()], "utf-8").parse()
    assert set(body.sizes) == {CHUNK_SIZE}
    assert form["name"] == "demo"
    assert files["content"].sha256_digest == hashlib.sha256(data).hexdigest()
    files["content"].close()


def test_the_file_is_flushed_to_disk_while_it_arrives(settings, monkeypatch):
    synced = []
    real_fdatasync = os.fdatasync

    def fdatasync(descriptor):
        synced.append(os.fstat(descriptor).st_size)
        real_fdatasync(descriptor)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    monkeypatch.setattr(upload_handler, "SYNC_EVERY_BYTES", 3000)
    upload = receive(chunks_of(DATA, 1000))
    # Each time a multiple of 3000 bytes is passed, what has come so far.
    assert synced == [3000, 6000, 9000]
    assert upload.size == len(DATA)


def test_received_file_holds_the_bytes_and_is_rewound():
    upload = receive(chunks_of(DATA, 1000))
    assert upload.read() == DATA
    with open(upload.temporary_file_path(), "rb") as handle:
        assert handle.read() == DATA


def test_size_counts_every_byte_and_file_is_named_as_sent():
    upload = receive(chunks_of(DATA, 333), filename="demo-1.0-py3-none-any.whl")
    assert upload.size == len(DATA)
    assert upload.name == "demo-1.0-py3-none-any.whl"
    assert not upload.truncated


def test_file_over_the_largest_limit_is_truncated_and_the_rest_dropped(settings):
    settings.UPLOAD_MAX_BYTES = 2500
    upload = receive(chunks_of(DATA, 1000))
    assert upload.truncated
    assert upload.size == len(DATA)
    # Only the chunks that fitted under the limit reached the disk.
    assert os.path.getsize(upload.temporary_file_path()) == 2000
    assert upload.sha256_digest == hashlib.sha256(DATA[:2000]).hexdigest()


def test_file_exactly_at_the_limit_is_not_truncated(settings):
    settings.UPLOAD_MAX_BYTES = len(DATA)
    upload = receive(chunks_of(DATA, 1000))
    assert not upload.truncated
    assert os.path.getsize(upload.temporary_file_path()) == len(DATA)


def test_a_project_upload_limit_override_raises_the_handlers_limit(settings):
    settings.UPLOAD_MAX_BYTES = 2500
    Project.objects.create(name="big", normalized_name="big", upload_limit=len(DATA))
    upload = receive(chunks_of(DATA, 1000))
    assert not upload.truncated


def test_a_file_under_the_site_limit_never_looks_up_the_overrides(settings):
    settings.UPLOAD_MAX_BYTES = len(DATA)
    Project.objects.create(name="big", normalized_name="big", upload_limit=10 * len(DATA))
    with CaptureQueriesContext(connection) as queries:
        upload = receive(chunks_of(DATA, 1000))
    assert not upload.truncated
    assert len(queries) == 0


def test_a_file_over_every_limit_looks_the_overrides_up_once(settings):
    settings.UPLOAD_MAX_BYTES = 1500
    Project.objects.create(name="big", normalized_name="big", upload_limit=2500)
    with CaptureQueriesContext(connection) as queries:
        upload = receive(chunks_of(DATA, 1000))
    assert upload.truncated and upload.size == len(DATA)
    assert os.path.getsize(upload.temporary_file_path()) == 2000
    assert len(queries) == 1


def test_largest_upload_limit_without_overrides_is_the_setting(settings):
    settings.UPLOAD_MAX_BYTES = 1234
    Project.objects.create(name="plain", normalized_name="plain")
    assert largest_upload_limit() == 1234


def test_largest_upload_limit_takes_the_biggest_project_override(settings):
    settings.UPLOAD_MAX_BYTES = 1234
    Project.objects.create(name="a", normalized_name="a", upload_limit=5000)
    Project.objects.create(name="b", normalized_name="b", upload_limit=9000)
    assert largest_upload_limit() == 9000


def test_largest_upload_limit_ignores_overrides_below_the_setting(settings):
    settings.UPLOAD_MAX_BYTES = 1234
    Project.objects.create(name="a", normalized_name="a", upload_limit=100)
    assert largest_upload_limit() == 1234


def test_upload_temp_dir_is_created(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "deep" / "tmp")
    assert upload_temp_dir() == str(tmp_path / "deep" / "tmp")
    assert (tmp_path / "deep" / "tmp").is_dir()


def test_upload_temp_dir_unset_means_the_system_default(settings):
    settings.FILE_UPLOAD_TEMP_DIR = None
    assert upload_temp_dir() is None


def test_received_file_has_no_name_in_the_configured_temp_dir(settings):
    # Would catch: a named temporary file, which a worker killed mid-upload
    # leaves behind (about 1 GB after 150 kills).
    upload = receive([DATA])
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []
    # On the temp directory's filesystem all the same, so storing it is a link.
    assert os.fstat(upload.file.fileno()).st_dev == os.stat(settings.FILE_UPLOAD_TEMP_DIR).st_dev
    assert os.readlink(upload.temporary_file_path()).startswith(settings.FILE_UPLOAD_TEMP_DIR)


def test_without_o_tmpfile_the_file_is_nameless_all_the_same(settings, monkeypatch):
    real_open = os.open

    def no_o_tmpfile(path, flags, *args, **kwargs):
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_o_tmpfile)
    upload = receive(chunks_of(DATA, 1000))
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []
    with open(upload.temporary_file_path(), "rb") as handle:
        assert handle.read() == DATA


def test_without_a_configured_temp_dir_the_systems_is_used(settings):
    settings.FILE_UPLOAD_TEMP_DIR = None
    with anonymous_temp_file() as handle:
        target = os.readlink(open_file_path(handle))
    assert os.path.dirname(target) == tempfile.gettempdir()


def test_upload_interrupted_closes_the_file(settings):
    handler = HashingUploadHandler()
    handler.new_file("content", "demo-1.0.tar.gz", "application/octet-stream", None, None)
    handler.receive_data_chunk(DATA, 0)
    handler.upload_interrupted()
    assert handler.file.closed
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []


def test_upload_interrupted_before_any_file_is_harmless():
    HashingUploadHandler().upload_interrupted()
