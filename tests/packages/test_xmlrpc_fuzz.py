"""A bounded fuzz of the XML-RPC endpoint: calls of every method (and of
methods that don't exist) with arguments of every XML-RPC type, hostile
strings, integers far beyond 64 bits, nested arrays and structs, and bodies
that are no XML-RPC at all (garbage, truncated calls, entity tricks).

Whatever comes in, the answer is a 200 carrying a methodResponse that
xmlrpc.client reads: a result, or a fault with one of the interoperability
codes, and never the "application error" fault that stands for an unexpected
exception (the XML-RPC twin of a 500). Run it against PostgreSQL by setting
DATABASE_URL. FUZZ_EXAMPLES sets the number of calls (default 300);
FUZZ_REPORT=1 prints them by outcome.
"""

import base64
import inspect
import os
import xmlrpc.client
from collections import Counter
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.events import SYSTEM
from packages import xmlrpc as rpc
from packages.journal import journal_append
from packages.models import Project, Role
from packages.xmltext import xml_text
from tests.factories import add_file, make_release, make_wheel

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FAULT_CODES = {
    rpc.PARSE_ERROR,
    rpc.INVALID_REQUEST,
    rpc.METHOD_NOT_FOUND,
    rpc.INVALID_PARAMS,
    rpc.APPLICATION_ERROR,
}

NASTY = [
    "\x00", "\x01", "\x0b", "\x1b", "\x7f", "\x85", "\n", "\r", "\t", "\u2028", "\ufeff",
    "\ufffe", "\uffff", "\U0010fffe", "\u202e", "é", "中", "\U0001f600", "'", '"', "\\",
    "<", ">", "&", "]]>", "%", " ", ".", "-", "_",
]  # fmt: skip
CHARACTERS = st.one_of(
    st.sampled_from([c for c in NASTY if len(c) == 1]),
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
)
REAL_STRINGS = ["p", "P", "sample-project", "1.0", "1", "olivia", "and", "or", "name"]
STRINGS = st.one_of(
    st.sampled_from(REAL_STRINGS),
    st.text(CHARACTERS, max_size=30),
    st.builds(lambda c, n: c * n, st.sampled_from(["9", "a", "1.", "é"]), st.integers(90, 6000)),
    # Past what packaging turns into ints, and past the request size limit.
    st.sampled_from(["9" * 5000, "1." * 2500, "a" * 70_000]),
    st.builds(
        lambda real, nasty: real + nasty, st.sampled_from(REAL_STRINGS), st.sampled_from(NASTY)
    ),
)
INTEGERS = st.one_of(
    st.integers(-5, 5),
    st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30]),
    st.integers(),
)
# Values as the XML text of a <value>: hand-written, because xmlrpc.client
# refuses to send what a hostile client would (ints beyond 32 bits, bad dates).
SCALARS = st.one_of(
    INTEGERS.map(lambda n: f"<int>{n}</int>"),
    INTEGERS.map(lambda n: f"<i8>{n}</i8>"),
    st.booleans().map(lambda b: f"<boolean>{int(b)}</boolean>"),
    st.sampled_from(["<boolean>2</boolean>", "<boolean>x</boolean>", "<int></int>"]),
    # More digits than Python turns into an int unasked.
    st.just(f"<int>{'9' * 5000}</int>"),
    st.floats().map(lambda x: f"<double>{x!r}</double>"),
    STRINGS.map(lambda s: f"<string>{escape(s)}</string>"),
    STRINGS.map(escape),  # a bare value is a string
    st.just("<nil/>"),
    st.binary(max_size=20).map(lambda b: f"<base64>{base64.b64encode(b).decode()}</base64>"),
    st.sampled_from(["<base64>!!</base64>", "<dateTime.iso8601>x</dateTime.iso8601>"]),
    st.just("<dateTime.iso8601>20240101T00:00:00</dateTime.iso8601>"),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(
            lambda items: (
                "<array><data>"
                + "".join(f"<value>{item}</value>" for item in items)
                + "</data></array>"
            )
        ),
        st.lists(st.tuples(STRINGS, inner), max_size=3).map(
            lambda members: (
                "<struct>"
                + "".join(
                    f"<member><name>{escape(name)}</name><value>{value}</value></member>"
                    for name, value in members
                )
                + "</struct>"
            )
        ),
    ),
    max_leaves=6,
)
METHOD_NAMES = st.one_of(
    st.sampled_from(sorted(rpc.METHODS)),
    st.sampled_from(["system.listMethods", "__init__", "METHODS", "handle", ""]),
    STRINGS,
)


def call_body(method: str, values: list[str]) -> bytes:
    params = "".join(f"<param><value>{value}</value></param>" for value in values)
    return (
        "<?xml version='1.0'?><methodCall>"
        f"<methodName>{escape(method)}</methodName><params>{params}</params></methodCall>"
    ).encode()


CALLS = st.builds(call_body, METHOD_NAMES, st.lists(VALUES, max_size=4))

# Text XML can carry: a string with one character it can't is a parse error,
# which says nothing about the method that would have read it.
XML_STRINGS = STRINGS.map(xml_text).map(lambda s: f"<string>{escape(s)}</string>")
TYPED = {
    str: XML_STRINGS,
    int: INTEGERS.map(lambda n: f"<int>{n}</int>"),
    bool: st.booleans().map(lambda b: f"<boolean>{int(b)}</boolean>"),
    dict: st.sampled_from(
        ["<struct></struct>", "<struct><member><name>name</name><value>p</value></member></struct>"]
    ),
}


@st.composite
def typed_calls(draw):
    """A call every argument of which has the declared type, so that the
    method itself runs on hostile values."""
    name = draw(st.sampled_from(sorted(rpc.METHODS)))
    parameters = list(inspect.signature(rpc.METHODS[name]).parameters.values())[1:]
    required = [p for p in parameters if p.default is inspect.Parameter.empty]
    count = draw(st.integers(len(required), len(parameters)))
    return call_body(name, [draw(TYPED[p.annotation]) for p in parameters[:count]])


GARBAGE = st.one_of(
    st.binary(max_size=200),
    # A real call cut anywhere.
    st.builds(
        lambda body, at: body[:at],
        st.builds(call_body, st.sampled_from(sorted(rpc.METHODS)), st.lists(VALUES, max_size=2)),
        st.integers(0, 300),
    ),
    st.sampled_from(
        [
            b'<?xml version="1.0" encoding="latin-1"?><methodCall><methodName>list_packages'
            b"</methodName></methodCall>",
            b'<?xml version="1.0" encoding="utf-16"?><methodCall/>',
            b"<!DOCTYPE x [<!ENTITY a 'b'>]><methodCall><methodName>&a;</methodName></methodCall>",
            b"<methodCall><methodName>list_packages</methodName><params/></methodCall>junk",
            b"<methodResponse><params><param><value>1</value></param></params></methodResponse>",
        ]
    ),
)

outcomes: Counter = Counter()


@pytest.fixture
def published(owner):
    project = Project.objects.create(name="P", normalized_name="p")
    Role.objects.create(project=project, user=owner, role_name=Role.Name.OWNER)
    release = make_release(project, "1.0", summary="a \x1b summary")
    add_file(release, make_wheel("p", "1.0"))
    journal_append(project=project, action="create", actor=SYSTEM)
    journal_append(project=project, action="new release", version="1.0", actor=SYSTEM)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=st.one_of(typed_calls(), typed_calls(), CALLS, GARBAGE))
def test_hostile_calls_are_answered_with_results_or_faults(client, published, body):
    response = client.post("/pypi", body, content_type="text/xml")
    assert response.status_code == 200, (body[:300], response.content[:300])
    try:
        xmlrpc.client.loads(response.content)
    except xmlrpc.client.Fault as fault:
        outcomes[f"fault {fault.faultCode}"] += 1
        assert fault.faultCode in FAULT_CODES
        assert fault.faultString != "application error", body[:500]
    else:
        outcomes["result"] += 1


def teardown_module():
    if os.environ.get("FUZZ_REPORT"):
        print(f"\nXML-RPC fuzz: {sum(outcomes.values())} calls; {dict(sorted(outcomes.items()))}")
