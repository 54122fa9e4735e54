"""A bounded fuzz of the upload form: hostile values (NUL, control characters,
line breaks, non-characters, emoji, quotes, huge strings) in every metadata
field of an otherwise valid upload.

Whatever comes in, the answer is never a 5xx, and the store stays consistent:
every File row has its stored object and every stored object its row. Run it
against PostgreSQL by setting DATABASE_URL. FUZZ_EXAMPLES raises the number of
requests (default 150); FUZZ_REPORT=1 prints the requests sent per status.
"""

import itertools
import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packages.models import File
from tests.factories import make_wheel, post_upload

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))

SINGLE_FIELDS = [
    "metadata_version",
    "name",
    "version",
    "summary",
    "description",
    "description_content_type",
    "author",
    "author_email",
    "maintainer",
    "maintainer_email",
    "license",
    "license_expression",
    "keywords",
    "home_page",
    "download_url",
    "requires_python",
    "filetype",
    "pyversion",
    "comment",
    "protocol_version",
    ":action",
    "sha256_digest",
    "md5_digest",
]
LIST_FIELDS = [
    "classifiers",
    "platform",
    "supported_platform",
    "requires_dist",
    "provides_dist",
    "obsoletes_dist",
    "requires_external",
    "provides_extra",
    "dynamic",
    "license_file",
    "project_urls",
]

NASTY = [
    "\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\n", "\r", "\t",
    "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff", "\U0010fffe", "\u202e", "\u0301",
    "é", "ß", "İ", "Ω", "中", "\U0001f600", "'", '"', "\\", "<", ">", "&", ";", ",", "@",
    ":", "/", "%", "=", " ",
]  # fmt: skip
# Anything a browser or client could send as UTF-8 (no lone surrogates).
CHARACTERS = st.one_of(
    st.sampled_from(NASTY), st.characters(codec="utf-8", exclude_categories=("Cs",))
)
TEXT = st.one_of(
    st.text(CHARACTERS, max_size=40),
    st.text(CHARACTERS, min_size=90, max_size=140),  # around the 100 and 128 columns
    st.builds(
        lambda c, n: c * n, st.sampled_from(["x", "\x00", "é", "1."]), st.integers(500, 20_000)
    ),
    # A valid value with one nasty character spliced in.
    st.builds(
        lambda valid, char, at: valid[:at] + char + valid[at:],
        st.sampled_from(["Ada <ada@example.org>", "https://example.org/x", "2.1", "requests>=2"]),
        st.sampled_from(NASTY),
        st.integers(0, 20),
    ),
)
HOSTILE = st.dictionaries(
    st.sampled_from(SINGLE_FIELDS + LIST_FIELDS), TEXT, min_size=1, max_size=4
)

statuses: Counter = Counter()
# A new version for every request, so each one is a first upload of its file.
serials = itertools.count(1)


def stored_files(root) -> set[str]:
    found = set()
    for directory, _dirs, names in os.walk(root):
        for name in names:
            if not name.endswith(".metadata"):
                found.add(os.path.relpath(os.path.join(directory, name), root))
    return found


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(hostile=HOSTILE)
def test_hostile_upload_form_never_answers_5xx(client, token, tmp_path, hostile):
    dist = make_wheel("fuzzed-project", f"1.{next(serials)}")
    fields = {key: [value] if key in LIST_FIELDS else value for key, value in hostile.items()}
    response = post_upload(client, dist, token, **fields)
    statuses[response.status_code] += 1
    assert response.status_code < 500, (hostile, response.content)
    accepted = File.objects.filter(filename=dist.filename).exists()
    assert accepted == (response.status_code == 200), (hostile, response.content)
    # Nothing half-written: rows and stored objects match one to one.
    assert set(File.objects.values_list("path", flat=True)) == stored_files(tmp_path / "files")


def teardown_module():
    if os.environ.get("FUZZ_REPORT"):
        total = sum(statuses.values())
        classes = Counter(f"{code // 100}xx" for code in statuses.elements())
        print(
            f"\nupload-form fuzz: {total} requests; {dict(sorted(classes.items()))}; "
            f"by status {dict(sorted(statuses.items()))}"
        )
