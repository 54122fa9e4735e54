"""packages.advisories: reading OSV records (hostile ones too), which versions
an advisory affects, and the services that store, withdraw and delete them."""

import json
import re
from datetime import UTC, datetime

import pytest

from accounts.events import Actor
from accounts.models import Event
from packages import advisories
from packages.advisories import AdvisoryError, parse_osv
from packages.models import Advisory, JournalEntry, Project
from tests.factories import make_release

pytestmark = pytest.mark.django_db


def record(**fields) -> dict:
    """An OSV record of sample-project, as osv.dev exports PyPI ones."""
    data = {
        "schema_version": "1.6.0",
        "id": "PYSEC-2024-12",
        "modified": "2024-05-01T10:00:00Z",
        "published": "2024-04-01T09:30:00.5Z",
        "aliases": ["CVE-2024-1234", "GHSA-abcd-efgh-ijkl"],
        "summary": "Remote code\n execution in the loader",
        "details": "The loader runs what it reads.\n\nUpgrade.",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "sample.project", "purl": "pkg:pypi/x"},
                "ranges": [
                    {"type": "GIT", "repo": "https://g/x", "events": [{"introduced": "0"}]},
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "1.0"}, {"fixed": "1.2.1"}],
                    },
                ],
                "versions": ["1.0", "1.1", "1.2"],
            }
        ],
        "references": [
            {"type": "WEB", "url": "https://example.com/blog"},
            {"type": "ADVISORY", "url": "https://example.com/advisory"},
        ],
    }
    data.update(fields)
    return data


def advisory(project, **fields) -> Advisory:
    defaults = {"osv_id": "PYSEC-1", "affected_versions": [], "ranges": []}
    return Advisory.objects.create(project=project, **{**defaults, **fields})


# --- Reading a record -------------------------------------------------------------


def test_a_record_is_read_into_what_the_index_keeps():
    parsed = advisories.parse_osv_text(json.dumps(record()))

    assert parsed.osv_id == "PYSEC-2024-12"
    assert parsed.summary == "Remote code execution in the loader"
    assert parsed.details == "The loader runs what it reads.\n\nUpgrade."
    assert parsed.aliases == ["CVE-2024-1234", "GHSA-abcd-efgh-ijkl"]
    assert parsed.link == "https://example.com/advisory"
    assert parsed.modified_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parsed.published_at == datetime(2024, 4, 1, 9, 30, 0, 500000, tzinfo=UTC)
    assert parsed.withdrawn_at is None
    (package,) = parsed.packages
    assert package.name == "sample.project"
    assert package.versions == ["1.0", "1.1", "1.2"]
    # The GIT range is left out: a PyPI version is not a commit.
    assert package.ranges == [[{"introduced": "1.0"}, {"fixed": "1.2.1"}]]
    assert package.fixed_in == ["1.2.1"]


def test_link_is_the_web_reference_without_an_advisory_one_else_osv_dev():
    web = record(references=[{"type": "WEB", "url": "https://example.com/w"}])
    neither = record(
        references=[
            {"type": "ADVISORY", "url": "javascript:alert(1)"},
            {"type": "ADVISORY", "url": "https://[broken"},
            {"type": "WEB", "url": "https://example.com/" + "x" * 1000},
            {"type": "REPORT", "url": "https://example.com/r"},
            {"url": "https://example.com/untyped"},
        ]
    )

    assert parse_osv(web).link == "https://example.com/w"
    assert parse_osv(neither).link == "https://osv.dev/vulnerability/PYSEC-2024-12"
    assert parse_osv(record(references=None)).link.startswith("https://osv.dev/")


def test_entries_of_one_package_merge_and_other_ecosystems_are_left_out():
    data = record(
        affected=[
            {"package": {"ecosystem": "npm", "name": "sample.project"}, "versions": ["9"]},
            {"package": {"ecosystem": "PyPI", "name": "Sample-Project"}, "versions": ["1.0"]},
            {
                "package": {"ecosystem": "PyPI", "name": "Sample-Project"},
                "versions": ["1.0", "2.0"],
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.1"}]},
                    {"type": "ECOSYSTEM", "events": [{"introduced": "3"}, {"fixed": "2.1"}]},
                ],
            },
            {"package": {"ecosystem": "PyPI", "name": "other"}},
        ]
    )

    first, second = parse_osv(data).packages

    assert (first.name, first.versions, first.fixed_in) == (
        "Sample-Project",
        ["1.0", "2.0"],
        ["2.1"],
    )
    assert (second.name, second.versions, second.ranges) == ("other", [], [])


def test_a_record_without_offset_or_withdrawn_is_read_as_utc():
    parsed = parse_osv(record(modified="2024-05-01T10:00:00", withdrawn="2024-06-01T00:00:00Z"))

    assert parsed.modified_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parsed.withdrawn_at == datetime(2024, 6, 1, tzinfo=UTC)


ONE_RANGE = {"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}


def _ranged(events) -> dict:
    ranges = [{"type": "ECOSYSTEM", "events": events}]
    return record(affected=[{"package": {"ecosystem": "PyPI", "name": "a"}, "ranges": ranges}])


def _without(key):
    data = record()
    del data[key]
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", "This is not valid JSON"),
        ("[" * 100_000, "This is not valid JSON"),
        ("[]", "Give one OSV record, not a list."),
        (json.dumps([record(), record()]), "Give one OSV record, not a list."),
        ('"a string"', "An OSV record is a JSON object."),
        (_without("id"), 'The record has no "id".'),
        (record(id=""), 'The record has no "id".'),
        (record(id=12), '"id" must be a string.'),
        (record(id="PYSEC 1/../x"), "is not an OSV id"),
        (record(id="X" * 101), '"id" is longer than 100 characters.'),
        (record(id="PYSEC-\x00"), '"id" contains a NUL character.'),
        (record(summary="s" * 1001), 'PYSEC-2024-12: "summary" is longer than 1000'),
        (record(summary="bad\x00"), 'PYSEC-2024-12: "summary" contains a NUL'),
        (record(details=["x"]), '"details" must be a string.'),
        (record(aliases="CVE-1"), '"aliases" must be a list of strings.'),
        (record(aliases=[1]), '"aliases" must be a list of strings.'),
        (record(aliases=["A"] * 101), '"aliases" has more than 100 entries.'),
        (record(modified="yesterday"), '"modified" is not an RFC 3339 time'),
        (record(published="2024-13-45T00:00:00Z"), '"published" is not an RFC 3339 time'),
        (record(references={"url": "x"}), '"references" must be a list of objects.'),
        (_without("affected"), 'the record names no package of the "PyPI" ecosystem.'),
        (
            record(affected=[{"package": {"ecosystem": "npm", "name": "left-pad"}}]),
            'PYSEC-2024-12: the record names no package of the "PyPI" ecosystem.',
        ),
        (record(affected={"package": {}}), '"affected" must be a list of objects.'),
        (record(affected=[{"package": {"ecosystem": "PyPI"}}]), "package of PyPI has no name"),
        (
            record(affected=[{"package": {"ecosystem": "PyPI", "name": "a\x00"}}]),
            '"package name" contains a NUL character.',
        ),
        (
            record(affected=[{"package": {"ecosystem": "PyPI", "name": "a"}, "ranges": {}}]),
            '"ranges" must be a list of objects.',
        ),
        (
            record(
                affected=[
                    {"package": {"ecosystem": "PyPI", "name": "a"}, "ranges": [{"type": "X"}] * 101}
                ]
            ),
            '"ranges" has more than 100 entries.',
        ),
        (
            record(
                affected=[
                    {"package": {"ecosystem": "PyPI", "name": "a"}, "ranges": [ONE_RANGE]}
                    for _ in range(101)
                ]
            ),
            "a has too many versions or ranges.",
        ),
        (
            record(
                affected=[
                    {"package": {"ecosystem": "PyPI", "name": "a"}, "versions": ["1"] * 20_001}
                ]
            ),
            '"versions" has more than 20000 entries.',
        ),
        (_ranged([]), 'a range has no "events".'),
        (_ranged(None), 'a range has no "events".'),
        (_ranged([{"introduced": "0"}] * 1001), "a range has more than 1000 events."),
        (_ranged([{"introduced": "0", "fixed": "1"}]), "each range event must be an object"),
        (_ranged(["0"]), "each range event must be an object"),
        (_ranged([{"broken": "1"}]), "unknown range event 'broken'."),
        (_ranged([{"fixed": 1}]), 'the "fixed" event\'s version must be a string.'),
        (_ranged([{"fixed": "1" * 101}]), '"fixed" is longer than 100 characters.'),
        (_ranged([{"fixed": "1\x00"}]), '"fixed" contains a NUL character.'),
        ("x" * (advisories.MAX_RECORD_BYTES + 1), "The record is larger than"),
    ],
)
def test_hostile_records_are_refused_with_a_message(data, message):
    if isinstance(data, dict):
        data = json.dumps(data)
    with pytest.raises(AdvisoryError) as refused:
        advisories.parse_osv_text(data)
    assert message in refused.value.message


def test_a_decoded_record_must_be_an_object():
    with pytest.raises(AdvisoryError, match="An OSV record is a JSON object"):
        parse_osv(["not", "an", "object"])
    with pytest.raises(AdvisoryError, match="An OSV record is a JSON object"):
        parse_osv('{"id": "A"}')


def test_load_records_takes_one_record_or_a_list():
    assert advisories.load_records('{"id": "A"}') == [{"id": "A"}]
    assert advisories.load_records('[{"id": "A"}, {"id": "B"}]') == [{"id": "A"}, {"id": "B"}]
    with pytest.raises(AdvisoryError, match="too large"):
        advisories.load_records(" " * (advisories.MAX_RECORD_BYTES * 50 + 1))


# --- Which versions are affected ---------------------------------------------------------


def ranged(*events, versions=()) -> Advisory:
    return Advisory(affected_versions=list(versions), ranges=[list(events)])


@pytest.mark.parametrize(
    ("events", "affected", "unaffected"),
    [
        # Everything before the fix.
        ([{"introduced": "0"}, {"fixed": "1.2"}], ["0.1", "1.0", "1.2rc1", "1.1.9"], ["1.2", "2"]),
        # Up to and including the last affected version.
        ([{"introduced": "1.0"}, {"last_affected": "1.4"}], ["1.0", "1.4"], ["0.9", "1.4.1"]),
        # Two intervals in one range.
        (
            [{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "3.0"}, {"fixed": "3.2.5"}],
            ["1.1", "3.0", "3.2.4"],
            ["0.9", "1.2", "2.0", "3.2.5"],
        ),
        # Never fixed.
        ([{"introduced": "2.0"}], ["2.0", "99"], ["1.9"]),
        # Events out of order are sorted first, as the OSV schema evaluates them.
        ([{"fixed": "1.2"}, {"introduced": "1.0"}], ["1.0", "1.1"], ["1.2", "0.5"]),
        # A limit bounds the range from above.
        ([{"introduced": "0"}, {"limit": "2.0"}], ["1.5"], ["2.0", "3"]),
        ([{"introduced": "0"}, {"limit": "*"}], ["99"], []),
        # Versions that are no PEP 440 versions are skipped, not fatal.
        ([{"introduced": "0"}, {"fixed": "not a version"}, {"fixed": "2"}], ["1"], ["2"]),
        ([{"introduced": "0"}, {"limit": "garbage"}], ["1"], []),
    ],
)
def test_ranges_are_evaluated_as_the_osv_schema_says(events, affected, unaffected):
    advisory = ranged(*events)

    assert [v for v in affected if advisories.affects(advisory, v)] == affected
    assert [v for v in unaffected if advisories.affects(advisory, v)] == []


def test_listed_versions_are_affected_by_pep_440_equality():
    advisory = ranged(versions=["1.0", "2.0.post1", "weird-version"])

    assert advisories.affects(advisory, "1.0.0")
    assert advisories.affects(advisory, "2.0.post1")
    assert not advisories.affects(advisory, "2.0")
    # A stored version that is no PEP 440 version is matched as text.
    assert advisories.affects(advisory, "weird-version")
    assert not advisories.affects(advisory, "other-weird")


# --- Storing records ------------------------------------------------------------------


def test_import_creates_then_updates_then_leaves_alone(project, owner):
    actor = Actor(owner)
    parsed = parse_osv(record())

    (created,) = advisories.advisory_import(parsed=parsed, actor=actor)
    (again,) = advisories.advisory_import(parsed=parsed, actor=actor)
    changed = parse_osv(record(summary="New words", modified="2024-06-01T00:00:00Z"))
    (updated,) = advisories.advisory_import(parsed=changed, actor=actor)
    older = parse_osv(record(summary="Old words", modified="2023-01-01T00:00:00Z"))
    (stale,) = advisories.advisory_import(parsed=older, actor=actor)

    assert (created.result, created.project) == ("created", "Sample.Project")
    assert (again.result, again.reason) == ("unchanged", "already up to date")
    assert updated.result == "updated"
    assert (stale.result, stale.reason) == ("unchanged", "the stored record is newer (modified)")
    stored = Advisory.objects.get()
    assert stored.project == project
    assert stored.summary == "New words"
    assert stored.source == "osv"
    assert stored.created_by == owner
    assert stored.aliases == ["CVE-2024-1234", "GHSA-abcd-efgh-ijkl"]
    assert stored.affected_versions == ["1.0", "1.1", "1.2"]
    assert stored.ranges == [[{"introduced": "1.0"}, {"fixed": "1.2.1"}]]
    assert stored.fixed_in == ["1.2.1"]
    assert stored.link == "https://example.com/advisory"
    assert stored.published_at == datetime(2024, 4, 1, 9, 30, 0, 500000, tzinfo=UTC)
    tags = list(Event.objects.filter(project=project).values_list("tag", "details"))
    assert ("project:advisory:added", {"advisory": "PYSEC-2024-12"}) in tags
    assert ("project:advisory:updated", {"advisory": "PYSEC-2024-12"}) in tags
    actions = list(JournalEntry.objects.filter(name=project.name).values_list("action", flat=True))
    assert actions[-2:] == ["add advisory PYSEC-2024-12", "update advisory PYSEC-2024-12"]


def test_import_moves_the_serial_and_purges_the_pages(
    project, owner, django_capture_on_commit_callbacks
):
    before = project.last_serial
    with django_capture_on_commit_callbacks() as callbacks:
        advisories.advisory_import(parsed=parse_osv(record()), actor=Actor(owner))

    project.refresh_from_db()
    assert project.last_serial != before
    assert callbacks  # the purge of the project's pages


def test_a_withdrawn_record_is_kept_with_its_time(project):
    parsed = parse_osv(record(withdrawn="2024-07-01T00:00:00Z"))

    (outcome,) = advisories.advisory_import(parsed=parsed, actor=Actor())

    assert outcome.advisory.withdrawn_at == datetime(2024, 7, 1, tzinfo=UTC)


def test_a_withdrawal_made_here_outlasts_the_next_import(project):
    (outcome,) = advisories.advisory_import(parsed=parse_osv(record()), actor=Actor())
    advisories.advisory_withdraw(advisory=outcome.advisory, actor=Actor())
    withdrawn_at = Advisory.objects.get().withdrawn_at

    (again,) = advisories.advisory_import(parsed=parse_osv(record()), actor=Actor())
    newer = parse_osv(record(summary="Newer", modified="2030-01-01T00:00:00Z"))
    (updated,) = advisories.advisory_import(parsed=newer, actor=Actor())

    assert again.result == "unchanged"
    assert updated.result == "updated"
    assert Advisory.objects.get().withdrawn_at == withdrawn_at


def test_a_package_with_no_project_here_is_skipped(project):
    data = record()
    data["affected"].append({"package": {"ecosystem": "PyPI", "name": "unknown-thing"}})

    mine, unknown = advisories.advisory_import(parsed=parse_osv(data), actor=Actor())

    assert mine.result == "created"
    assert (unknown.result, unknown.reason) == ("skipped", "no project named 'unknown-thing' here")
    assert unknown.advisory is None


def test_one_record_is_stored_per_project(project):
    other = Project.objects.create(name="other", normalized_name="other")
    data = record()
    data["affected"].append({"package": {"ecosystem": "PyPI", "name": "Other"}, "versions": ["7"]})

    advisories.advisory_import(parsed=parse_osv(data), actor=Actor())

    assert Advisory.objects.get(project=other).affected_versions == ["7"]
    assert Advisory.objects.count() == 2


def test_withdraw_then_refuse_twice(project, owner):
    stored = advisory(project)

    advisories.advisory_withdraw(advisory=stored, actor=Actor(owner))

    stored.refresh_from_db()
    assert stored.withdrawn_at is not None
    with pytest.raises(AdvisoryError, match="PYSEC-1 is already withdrawn"):
        advisories.advisory_withdraw(advisory=stored, actor=Actor(owner))
    assert Event.objects.filter(tag="project:advisory:withdrawn", project=project).count() == 1


def test_withdraw_or_delete_of_a_deleted_advisory_is_refused(project):
    stored = advisory(project)
    Advisory.objects.all().delete()

    with pytest.raises(AdvisoryError, match="PYSEC-1 no longer exists"):
        advisories.advisory_withdraw(advisory=stored, actor=Actor())
    with pytest.raises(AdvisoryError, match="PYSEC-1 no longer exists"):
        advisories.advisory_delete(advisory=stored, actor=Actor())


def test_delete(project, owner):
    stored = advisory(project)

    advisories.advisory_delete(advisory=stored, actor=Actor(owner))

    assert not Advisory.objects.exists()
    event = Event.objects.get(tag="project:advisory:deleted")
    assert (event.project, event.actor, event.details) == (project, owner, {"advisory": "PYSEC-1"})
    assert JournalEntry.objects.filter(action="delete advisory PYSEC-1").exists()


# --- Entered by hand ---------------------------------------------------------------------


def test_an_owner_attaches_an_advisory_to_a_release(project, owner):
    one = make_release(project, "1.0")
    two = make_release(project, "1.1")

    first = advisories.advisory_attach(
        release=one,
        osv_id=" LOCAL-1 ",
        summary="Leaks tokens",
        link="https://example.com/a",
        fixed_in=["1.2"],
        aliases=["CVE-2025-1"],
        actor=Actor(owner),
    )
    second = advisories.advisory_attach(
        release=two, osv_id="LOCAL-1", summary="Leaks tokens", fixed_in=["1.2"], actor=Actor(owner)
    )

    assert (first.result, second.result) == ("created", "updated")
    stored = Advisory.objects.get()
    assert stored.osv_id == "LOCAL-1"
    assert stored.source == "index"
    assert stored.affected_versions == ["1.0", "1.1"]
    assert stored.ranges == []
    assert stored.fixed_in == ["1.2"]
    # The link is kept from the first time only if given again; else osv.dev's.
    assert stored.link == "https://osv.dev/vulnerability/LOCAL-1"
    assert advisories.affects(stored, "1.0") and not advisories.affects(stored, "1.2")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"link": "javascript:alert(1)"}, "The link must be an http:// or https:// address."),
        ({"fixed_in": ["soon"]}, "'soon' is not a version (PEP 440)."),
        ({"osv_id": ""}, 'The record has no "id".'),
        ({"summary": "x\x00"}, "contains a NUL character"),
    ],
)
def test_attach_refuses_bad_input(project, fields, message):
    release = make_release(project, "1.0")
    arguments = {"osv_id": "LOCAL-1", "summary": "s", "actor": Actor(), **fields}

    with pytest.raises(AdvisoryError, match=re.escape(message)):
        advisories.advisory_attach(release=release, **arguments)


def test_attach_refuses_to_change_an_imported_advisory(project):
    advisories.advisory_import(parsed=parse_osv(record()), actor=Actor())
    release = make_release(project, "3.0")

    with pytest.raises(AdvisoryError, match="only the index's moderators change it"):
        advisories.advisory_attach(
            release=release, osv_id="PYSEC-2024-12", summary="s", actor=Actor()
        )


def test_an_owners_advisory_a_database_publishes_becomes_the_databases(project):
    release = make_release(project, "1.0")
    advisories.advisory_attach(release=release, osv_id="PYSEC-2024-12", summary="s", actor=Actor())

    (outcome,) = advisories.advisory_import(parsed=parse_osv(record()), actor=Actor())

    assert outcome.result == "updated"
    assert Advisory.objects.get().source == "osv"
    with pytest.raises(AdvisoryError, match="ask the index's moderators"):
        advisories.require_owner_may_change(outcome.advisory)


def test_owners_may_change_only_what_was_entered_here(project):
    with pytest.raises(AdvisoryError, match="ask the index's moderators"):
        advisories.require_owner_may_change(advisory(project, source="osv"))
    advisories.require_owner_may_change(advisory(project, osv_id="L-2", source="index"))


# --- Pages and the JSON API -----------------------------------------------------------


def test_page_security_marks_each_release(project):
    old = make_release(project, "1.0")
    fixed = make_release(project, "1.2")
    gone = make_release(project, "0.9")
    advisory(
        project, osv_id="B-1", ranges=[[{"introduced": "0"}, {"fixed": "1.2"}]], fixed_in=["1.2"]
    )
    advisory(project, osv_id="A-1", affected_versions=["1.0"], fixed_in=["1.10", "1.2", "x"])
    advisory(project, osv_id="C-1", affected_versions=["1.0"], withdrawn_at=datetime.now(UTC))
    advisories.release_deprecate(release=gone, reason="Use 1.2", actor=Actor())
    releases = list(project.releases.all())

    security = advisories.page_security(project, releases, old)

    assert [a.osv_id for a in security.advisories] == ["A-1", "B-1"]
    assert security.fixed_in == ["x", "1.2", "1.10"]
    assert set(security.insecure) == {old.pk, gone.pk}
    assert security.deprecated == {gone.pk: "Use 1.2"}
    assert security.deprecated_reason is None
    assert advisories.page_security(project, releases, gone).deprecated_reason == "Use 1.2"
    nothing = advisories.page_security(project, releases, fixed)
    assert (nothing.advisories, nothing.fixed_in) == ([], [])
    assert advisories.page_security(project, [], None).advisories == []


def test_withdrawn_times_are_utc_seconds_with_z_whatever_the_year(project):
    release = make_release(project, "1.0")
    early = datetime(1, 1, 1, tzinfo=UTC)
    advisory(project, affected_versions=["1.0"], withdrawn_at=early)

    (entry,) = advisories.release_vulnerabilities(release)

    assert entry["withdrawn"] == "0001-01-01T00:00:00Z"


def test_release_vulnerabilities_in_the_public_index_shape(project):
    release = make_release(project, "1.0")
    advisory(
        project,
        osv_id="PYSEC-2",
        affected_versions=["1.0"],
        aliases=["CVE-1"],
        summary="S",
        details="D",
        fixed_in=["1.1"],
        link="",
        withdrawn_at=datetime(2024, 7, 1, 12, 30, 5, 999, tzinfo=UTC),
    )
    advisory(project, osv_id="PYSEC-1", affected_versions=["1.0"], link="https://e.com/1")
    advisory(project, osv_id="PYSEC-3", affected_versions=["2.0"])

    assert advisories.release_vulnerabilities(release) == [
        {
            "aliases": [],
            "details": "",
            "fixed_in": [],
            "id": "PYSEC-1",
            "link": "https://e.com/1",
            "source": "osv",
            "summary": "",
            "withdrawn": None,
        },
        {
            "aliases": ["CVE-1"],
            "details": "D",
            "fixed_in": ["1.1"],
            "id": "PYSEC-2",
            "link": "https://osv.dev/vulnerability/PYSEC-2",
            "source": "osv",
            "summary": "S",
            "withdrawn": "2024-07-01T12:30:05Z",
        },
    ]
