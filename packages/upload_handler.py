"""Streams uploaded files to a temporary file while hashing them.

Memory stays flat whatever the file's size: each chunk is hashed, written and
forgotten. A big file is the server's heaviest request, so the chunks are large
(1 MiB), the three digests are computed side by side in threads and the file is
flushed to disk as it comes (see StreamDigests and receive_data_chunk).

A file over the largest limit any project has is not written at all past that
limit: its remaining bytes are read and dropped, so the client still gets our
400 answer instead of a reset connection mid-send.

The temporary file has no name: a worker killed mid-upload leaves nothing
behind, the kernel frees it with the process. Where the filesystem allows
(Linux's O_TMPFILE) it can still be hard-linked into the file store.
"""

import collections
import hashlib
import html
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.db.models import Max
from django.http.multipartparser import MultiPartParser, MultiPartParserError


def largest_upload_limit() -> int:
    from .models import Project

    override = Project.objects.aggregate(largest=Max("upload_limit"))["largest"] or 0
    return max(settings.UPLOAD_MAX_BYTES, override)


def upload_temp_dir() -> str | None:
    directory = settings.FILE_UPLOAD_TEMP_DIR
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
    return directory


def anonymous_temp_file():
    """A read-write binary file in the upload temp directory that has no name.

    O_TMPFILE where the filesystem has it: without O_EXCL such a file may later
    be linked under a name (storage.store_file does). Elsewhere the standard
    library's TemporaryFile, whose name is removed at once; storing it copies.
    """
    directory = upload_temp_dir() or tempfile.gettempdir()
    try:
        descriptor = os.open(directory, os.O_TMPFILE | os.O_RDWR, 0o600)
    except OSError:  # e.g. EOPNOTSUPP: a filesystem without O_TMPFILE
        return tempfile.TemporaryFile(dir=directory)
    return open(descriptor, "w+b")


def open_file_path(handle) -> str:
    """A path that opens ``handle``'s file, in this process, as long as it is open."""
    return f"/proc/self/fd/{handle.fileno()}"


# Django's multipart parser reads the body this much at a time (its default is
# 64 KiB). gunicorn receives up to 1 MiB per recv() and keeps what the
# application has not read yet: with 64 KiB reads it copied that remainder
# again on every read, a quarter of a big upload's time.
CHUNK_SIZE = 1024 * 1024
# Below this a chunk is hashed in the request's thread: handing it to another
# costs more than the hashing (a typical upload is one chunk of a few KiB).
PARALLEL_HASH_MIN_BYTES = 256 * 1024
# Chunks an upload may have handed to the hash threads and not seen hashed yet:
# enough to ride out a slow turn of one thread, and bounded, so a worker's
# memory does not grow with the file when the network outruns the hashing.
HASH_QUEUE_CHUNKS = 4
# Dirty pages are written out every this many bytes while the upload arrives,
# so the fsync before the file is stored waits for the last few only.
SYNC_EVERY_BYTES = 32 * 1024 * 1024

DIGESTS = ("sha256", "blake2_256", "md5")
_hash_threads: dict[str, ThreadPoolExecutor] = {}
_hash_threads_lock = threading.Lock()


def hash_thread(digest: str) -> ThreadPoolExecutor:
    """The one thread that computes ``digest`` for the process's big chunks.

    One thread per digest: each digest is fed its chunks in order, whichever
    upload they belong to. Made on first use, so after gunicorn's fork (a
    thread does not survive a fork).
    """
    with _hash_threads_lock:
        if digest not in _hash_threads:
            _hash_threads[digest] = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"upload-{digest}"
            )
        return _hash_threads[digest]


class StreamDigests:
    """sha256, blake2b-256 and md5 of a stream, fed chunk by chunk.

    One after the other they hash about 210 MiB/s (measured 1,000, 580 and
    490 MiB/s each), less than the disk and the network. hashlib releases the GIL while
    it hashes a buffer over 2 KiB, so each runs in a thread of its own while
    the request's thread writes the chunk and reads the next ones.
    """

    def __init__(self):
        self.sha256 = hashlib.sha256()
        self.blake2_256 = hashlib.blake2b(digest_size=32)
        self.md5 = hashlib.md5(usedforsecurity=False)
        self._pending = collections.deque()

    def update(self, data: bytes) -> None:
        if len(data) < PARALLEL_HASH_MIN_BYTES:
            self.wait()  # the chunks before it go first
            for digest in DIGESTS:
                getattr(self, digest).update(data)
            return
        while len(self._pending) >= HASH_QUEUE_CHUNKS * len(DIGESTS):
            self._pending.popleft().result()
        for digest in DIGESTS:
            self._pending.append(hash_thread(digest).submit(getattr(self, digest).update, data))

    def wait(self) -> None:
        """Until every chunk given to update() is in the digests."""
        while self._pending:
            self._pending.popleft().result()


class HashedUploadedFile(UploadedFile):
    """A received file with its digests and true size.

    ``size`` counts every byte the client sent; when ``truncated`` is true the
    temporary file holds only the first bytes and must not be stored.
    """

    def __init__(self, name, content_type, charset, content_type_extra=None):
        super().__init__(anonymous_temp_file(), name, content_type, 0, charset, content_type_extra)
        self.digests = StreamDigests()
        self.truncated = False

    @property
    def sha256_digest(self) -> str:
        self.digests.wait()
        return self.digests.sha256.hexdigest()

    @property
    def blake2_256_digest(self) -> str:
        self.digests.wait()
        return self.digests.blake2_256.hexdigest()

    @property
    def md5_digest(self) -> str:
        self.digests.wait()
        return self.digests.md5.hexdigest()

    def temporary_file_path(self) -> str:
        # The archive readers and the store open the file by path.
        return open_file_path(self.file)


class HashingUploadHandler(FileUploadHandler):
    chunk_size = CHUNK_SIZE

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        upload_temp_dir()
        # The site-wide limit until a file passes it: only then is the largest
        # per-project override looked up (a query most uploads need not make).
        self.limit = settings.UPLOAD_MAX_BYTES
        self.limit_is_largest = False
        self.file = HashedUploadedFile(
            self.file_name, self.content_type, self.charset, self.content_type_extra
        )

    def receive_data_chunk(self, raw_data, start):
        upload = self.file
        upload.size += len(raw_data)
        if upload.size > self.limit and not self.limit_is_largest:
            self.limit, self.limit_is_largest = largest_upload_limit(), True
        if upload.size > self.limit:
            upload.truncated = True
            return None
        upload.digests.update(raw_data)
        upload.file.write(raw_data)
        if upload.size // SYNC_EVERY_BYTES != (upload.size - len(raw_data)) // SYNC_EVERY_BYTES:
            # Writes out what has come so far while the hash threads work: one
            # fsync at the end of a 500 MiB file took 0.25 s, all of it added
            # to the upload's time.
            upload.file.flush()
            os.fdatasync(upload.file.fileno())
        return None

    def file_complete(self, file_size):
        self.file.digests.wait()
        self.file.file.flush()
        os.fsync(self.file.file.fileno())
        self.file.seek(0)
        return self.file

    def upload_interrupted(self):
        if hasattr(self, "file"):
            self.file.close()


class UnsafeFileName(MultiPartParserError):
    """The uploaded file's name is a path or holds control characters."""


class UploadFormParser(MultiPartParser):
    """Django's multipart parser, but a file name with a path in it is refused
    instead of cut down to its last part.

    The name sent is the distribution's filename, stored and served as given:
    ``../x.whl`` or ``sub\\x.whl`` is a client error to report, as the public
    index does, not a name to repair silently.
    """

    def sanitize_file_name(self, file_name):
        # As Django reads it: browsers send some characters as HTML entities.
        name = html.unescape(file_name)
        if "/" in name or "\\" in name:
            raise UnsafeFileName("Cannot upload a file with '/' or '\\' in the name.")
        if not name.isprintable():
            raise UnsafeFileName("Cannot upload a file with control characters in the name.")
        return super().sanitize_file_name(file_name)
