"""A bounded fuzz of the URL space: every route of the URL map, its segments
filled with hostile text (NUL, line breaks, control characters, unicode,
over-long values, raw percent-encodings) or with real values, hostile query
parameters and Accept headers, sent by an anonymous visitor, a project's Owner
and a moderator.

Whatever comes in, the answer is never a 5xx, and the WSGI fast path
(pypi_site.fastpath) never raises on it either. Run it against PostgreSQL by
setting DATABASE_URL: PostgreSQL refuses a NUL in any string, SQLite stores it.
FUZZ_EXAMPLES sets the number of requests (default 300); FUZZ_REPORT=1 prints
the requests sent per status. benchmarks/fuzz.py fires many more at a live
server.
"""

import os
import re
from collections import Counter
from urllib.parse import quote, urlencode

import pytest
from django.test import Client, RequestFactory
from django.urls import URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packages.models import Project, Role
from pypi_site.fastpath import cached_simple_answer, file_answer
from tests.conftest import give_two_factor
from tests.factories import add_file, make_release, make_wheel, path_of

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))

NASTY = [
    "\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\n", "\r", "\t",
    "\u2028", "\ufeff", "\ufffe", "\uffff", "\U0010fffe", "\u202e", "\u0301", "é", "İ",
    "中", "\U0001f600", "'", '"', "\\", "<", ">", "&", ";", ",", "@", ":", "%", "=", " ",
    ".", "-", "_", "+", "#", "?",
]  # fmt: skip
# Percent-encodings that are no UTF-8, or decode to something surprising.
# What most findings were: a NUL or a line break in a segment.
CONTROL_ENCODED = ["%00", "%0A", "%0D", "%1B"]
RAW_ENCODED = ["..", "%FF", "%C0%80", "%ED%A0%80", "%E2%80%AE", "%25", "%2F", "%"]
CHARACTERS = st.one_of(
    st.sampled_from(NASTY), st.characters(codec="utf-8", exclude_categories=("Cs",))
)
TEXT = st.one_of(
    st.text(CHARACTERS, max_size=30),
    st.builds(
        lambda c, n: c * n, st.sampled_from(["a", "1", "\x00", "é", "1."]), st.integers(90, 5000)
    ),
    st.builds(
        lambda valid, char, at: valid[:at] + char + valid[at:],
        st.sampled_from(["p", "1.0", "olivia", "sample-project"]),
        st.sampled_from(NASTY),
        st.integers(0, 14),
    ),
)


def _routes(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        else:
            yield route


def _group_end(regex: str, start: int) -> int:
    """The index just past the group opening at ``start``."""
    depth = 0
    index = start
    while True:
        char = regex[index]
        if char == "\\":
            index += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1


def _from_regex(regex: str) -> str:
    """A re_path route as a template: each named group a placeholder, each
    optional group left out, the anchors dropped."""
    parts, index = [], 0
    while index < len(regex):
        if regex.startswith("(?P<", index):
            name = regex[index + 4 : regex.index(">", index)]
            parts.append(f"<{name}>")
            index = _group_end(regex, index)
        elif regex.startswith("(?:", index):
            index = _group_end(regex, index) + 1  # and its "?"
        elif regex[index] == "[":
            # An unnamed segment ("[^/]+"): a placeholder of its own.
            parts.append("<segment>")
            index = regex.index("]", index) + 1
            quantifier = re.match(r"[+*?]|\{[0-9,]+\}", regex[index:])
            index += quantifier.end() if quantifier else 0
        elif regex[index] in "^$":
            index += 1
        else:
            parts.append(regex[index])
            index += 1
    return "".join(parts).removesuffix("\\Z")


def _templates() -> list[str]:
    """Every route of the URL map as a template: "/project/<project:name>/"."""
    templates = []
    for route in _routes(get_resolver().url_patterns):
        if "^" in route or "(?P<" in route:
            route = _from_regex(route)
        templates.append("/" + route)
    return templates


TEMPLATES = _templates()
SITE = [template for template in TEMPLATES if not template.startswith("/admin/")]
ADMIN = [template for template in TEMPLATES if template.startswith("/admin/")]
PLACEHOLDER = re.compile(r"<(?:(\w+):)?(\w+)>")

# Real values per converter (or per name, for plain segments), so that a path
# is one hostile segment away from a page that exists.
REAL = {
    "name": ["p", "P", "p_extra", "sample-project"],
    "version": ["1.0", "1", "1.0.0"],
    "username": ["olivia", "mona", "nobody"],
    "pk": ["1", "0", "99999999999999999999999"],
    "object_id": ["1", "-1", "abc"],
    "content_type_id": ["1", "x"],
    "python_version": ["py3", "source"],
    "letter": ["p", "P"],
    "uidb64": ["MQ", "x"],
    "token": ["set-password", "abc-123"],
    "id": ["1"],
    "segment": ["p", "1.0"],
    "app_label": ["packages", "accounts"],
}
# The admin's lists take any field lookup of their model as a parameter.
QUERY_KEYS = [
    "q", "c", "page", "order", "format", "next", "token", "o", "p", "all", "e", "_popup",
    "action", "id__exact", "is_staff__exact", "_changelist_filters", "x", "name", "tag",
    "username__exact", "status__exact", "action__exact", "yanked__exact", "filename__startswith",
]  # fmt: skip
# What the site's forms post, for the POSTs: a form's own fields are the ones
# that reach its view's queries.
FORM_KEYS = [
    "file", "invitation", "username", "role_name", "reason", "confirm", "token", "action",
    "password", "email", "description", "projects", "code", "label", "credential", "next",
    "name", "url", "source", "csrfmiddlewaretoken",
]  # fmt: skip
ACCEPTS = [
    None,
    "*/*",
    "application/vnd.pypi.simple.v1+json",
    "application/vnd.pypi.simple.latest+json",
    "application/vnd.pypi.simple.latest+html;q=0.5, text/html;q=abc",
    "text/html;q=2, */*;q=-1",
    ";;,,;q=",
]

statuses: Counter = Counter()


def _segment(name: str, stored: dict[str, str]):
    """A real value half of the time, so that a path is often one hostile
    segment away from a page that exists; else a hostile one."""
    real = st.sampled_from(stored.get(name) or REAL.get(name, ["x"]))
    hostile = st.one_of(
        st.sampled_from(CONTROL_ENCODED),
        # A real value with a hostile tail: the shape of most findings.
        st.tuples(real.map(quote), st.sampled_from(CONTROL_ENCODED)).map("".join),
        st.sampled_from(RAW_ENCODED),
        st.tuples(real.map(quote), st.sampled_from(RAW_ENCODED)).map("".join),
        TEXT.map(lambda value: quote(value, safe="")),
    )
    return st.one_of(real.map(lambda value: quote(value, safe="")), hostile)


@st.composite
def requests(draw, stored: dict[str, str]):
    # The admin's many routes share one code: a few of them are enough.
    template = draw(st.sampled_from(SITE) if draw(st.integers(0, 7)) else st.sampled_from(ADMIN))

    def fill(match: re.Match) -> str:
        name = match.group(2)
        if name == "path":
            return draw(
                st.one_of(
                    st.just(stored["stored_path"]),
                    _segment("filename", stored).map(
                        lambda tail: stored["stored_path"].rsplit("/", 1)[0] + "/" + tail
                    ),
                )
            )
        return draw(_segment(name, stored))

    path = PLACEHOLDER.sub(fill, template)
    params = draw(st.lists(st.tuples(st.sampled_from(QUERY_KEYS), TEXT), max_size=3))
    query = "&".join(f"{quote(key)}={quote(value, safe='')}" for key, value in params)
    if draw(st.booleans()):
        query += draw(st.sampled_from(["", "", "&q=%FF", "&format=%0A", "&c=%00"]))
    method = draw(st.sampled_from(["GET", "GET", "HEAD", "POST", "POST"]))
    fields = draw(st.lists(st.tuples(st.sampled_from(FORM_KEYS), TEXT), max_size=4))
    form = urlencode(fields) if method == "POST" else ""
    return method, path, query.lstrip("&"), draw(st.sampled_from(ACCEPTS)), form


@pytest.fixture
def stored(owner, moderator) -> dict[str, str]:
    """A project "p" with a release and a file that the paths can reach."""
    project = Project.objects.create(name="p", normalized_name="p")
    Role.objects.create(project=project, user=owner, role_name=Role.Name.OWNER)
    dist = make_wheel("p", "1.0")
    add_file(make_release(project, "1.0", summary="a \x1b summary"), dist, with_metadata=True)
    return {"stored_path": path_of(dist), "filename": [dist.filename]}


@pytest.fixture
def clients(owner, moderator) -> list[Client]:
    give_two_factor(owner)  # or the management pages only redirect
    signed_in = []
    for user in (owner, moderator):
        client = Client()
        client.force_login(user)
        signed_in.append(client)
    return [Client(), *signed_in]


def _fast_path_answers(method: str, path: str, query: str, accept: str | None) -> None:
    """The fast path sees the request before Django: it must not raise on it."""
    extra = {"HTTP_HOST": "testserver", "QUERY_STRING": query}
    if accept is not None:
        extra["HTTP_ACCEPT"] = accept
    environ = RequestFactory().generic(method, path, **extra).environ
    cached_simple_answer(environ)
    download = file_answer(environ)
    if download is not None:
        download[1].close()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_urls_never_answer_5xx(clients, stored, data):
    method, path, query, accept, form = data.draw(requests(stored))
    client = data.draw(st.sampled_from(clients))
    headers = {} if accept is None else {"Accept": accept}
    url = f"{path}?{query}" if query else path
    _fast_path_answers(method, path, query, accept)
    response = client.generic(
        method, url, form, content_type="application/x-www-form-urlencoded", headers=headers
    )
    statuses[response.status_code] += 1
    assert response.status_code < 500, (method, url, accept, response.content[:500])


def test_every_route_is_fuzzed():
    # A route added later is fuzzed too: the templates come from the URL map.
    assert "/simple/<project:name>/" in SITE
    assert "/pypi/<segment>/json" in SITE
    assert any("<path:object_id>" in template for template in ADMIN)
    for template in TEMPLATES:
        assert not re.search(r"[\\^$()\[\]?*+]", PLACEHOLDER.sub("x", template)), template


def teardown_module():
    if os.environ.get("FUZZ_REPORT"):
        total = sum(statuses.values())
        classes = Counter(f"{code // 100}xx" for code in statuses.elements())
        print(
            f"\nURL fuzz: {total} requests; {dict(sorted(classes.items()))}; "
            f"by status {dict(sorted(statuses.items()))}"
        )
