"""Streams uploaded files to a temporary file while hashing them.

Memory stays flat whatever the file's size: each chunk is hashed, written and
forgotten. A file over the largest limit any project has is not written at all
past that limit: its remaining bytes are read and dropped, so the client still
gets our 400 answer instead of a reset connection mid-send.
"""

import hashlib
import html
import os
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
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


class HashedUploadedFile(TemporaryUploadedFile):
    """A received file with its digests and true size.

    ``size`` counts every byte the client sent; when ``truncated`` is true the
    temporary file holds only the first bytes and must not be stored.
    """

    def __init__(self, name, content_type, charset, content_type_extra=None):
        # TemporaryUploadedFile makes its own NamedTemporaryFile; keep that, in
        # the configured directory so storing it can be a hard link.
        super().__init__(name, content_type, 0, charset, content_type_extra)
        self.sha256 = hashlib.sha256()
        self.blake2_256 = hashlib.blake2b(digest_size=32)
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.truncated = False

    @property
    def sha256_digest(self) -> str:
        return self.sha256.hexdigest()

    @property
    def blake2_256_digest(self) -> str:
        return self.blake2_256.hexdigest()

    @property
    def md5_digest(self) -> str:
        return self.md5.hexdigest()


class HashingUploadHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        upload_temp_dir()
        self.limit = largest_upload_limit()
        self.file = HashedUploadedFile(
            self.file_name, self.content_type, self.charset, self.content_type_extra
        )

    def receive_data_chunk(self, raw_data, start):
        upload = self.file
        upload.size += len(raw_data)
        if upload.size > self.limit:
            upload.truncated = True
            return None
        upload.sha256.update(raw_data)
        upload.blake2_256.update(raw_data)
        upload.md5.update(raw_data)
        upload.file.write(raw_data)
        return None

    def file_complete(self, file_size):
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
