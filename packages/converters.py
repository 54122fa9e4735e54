"""URL segments, checked where they enter: a segment that no row could hold does
not match its route, so the answer is a 404 before any view runs, and no query
or response header ever sees a NUL, a newline or a value longer than its column.

PostgreSQL refuses a NUL in any string parameter (the request would end in a
500), SQLite stores it; either way such a segment can't name anything here.
The patterns accept every value the index stores (what the templates and
``reverse()`` put into URLs), so no link of ours can fail to reverse.

Registered on import, under the names below; the URL modules import this one
and write routes with those names: ``f"project/<{PROJECT}:name>/"``.
"""

from django.contrib.auth import get_user_model
from django.urls import register_converter

from .models import File, Release
from .names import PROJECT_NAME_PATTERN
from .storage import METADATA_SUFFIX

# C0 and C1 control characters (newline, NUL, escape...) and DEL: never part of
# a name, version, username or filename, and unsafe in queries and headers.
_CONTROL = r"\x00-\x1f\x7f-\x9f"


def _segment(max_length: int) -> str:
    """One path segment of printable characters, at most ``max_length`` of them."""
    return rf"[^/{_CONTROL}]{{1,{max_length}}}"


def _max_length(model, field: str) -> int:
    return model._meta.get_field(field).max_length


# The stored distribution files: <2 hex>/<2 hex>/<60 hex>/<filename>, and the
# PEP 658 metadata file beside each (packages.storage.file_path).
FILENAME_PATTERN = _segment(_max_length(File, "filename") + len(METADATA_SUFFIX))
STORED_PATH = rf"[0-9a-f]{{2}}/[0-9a-f]{{2}}/[0-9a-f]{{60}}/{FILENAME_PATTERN}"


class _Converter:
    regex: str

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class ProjectNameConverter(_Converter):
    """Any spelling of a project name (views redirect to the normalized one)."""

    regex = PROJECT_NAME_PATTERN


class VersionConverter(_Converter):
    # Any spelling: "1.0" finds "1.0.0" and rows made outside the upload may
    # hold what PEP 440 would not; only the column's length is a hard limit.
    regex = _segment(_max_length(Release, "version"))


class UsernameConverter(_Converter):
    regex = _segment(_max_length(get_user_model(), "username"))


class FilenameConverter(_Converter):
    regex = _segment(_max_length(File, "filename"))


class PythonTagConverter(_Converter):
    """The legacy file URLs' first segment: "source", or a file's Python tag."""

    regex = _segment(_max_length(File, "python_version"))


class LetterConverter(_Converter):
    """The legacy file URLs' bucket: a project name's first character."""

    regex = "[A-Za-z0-9]"


class StoredPathConverter(_Converter):
    regex = STORED_PATH


PROJECT = "project"
VERSION = "version"
USERNAME = "username"
FILENAME = "filename"
PYTHON_TAG = "python_tag"
LETTER = "letter"
STORED = "stored_path"

register_converter(ProjectNameConverter, PROJECT)
register_converter(VersionConverter, VERSION)
register_converter(UsernameConverter, USERNAME)
register_converter(FilenameConverter, FILENAME)
register_converter(PythonTagConverter, PYTHON_TAG)
register_converter(LetterConverter, LETTER)
register_converter(StoredPathConverter, STORED)
