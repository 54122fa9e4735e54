"""Moderators' curation of the mirrored upstream (moderation.upstream): blocks,
quarantine, claims and the check of local names, against a real upstream on
loopback (tests.upstream_server) and what the mirror then offers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.events import Actor
from moderation import upstream as curation
from moderation.models import ModerationAction
from moderation.services import ModerationError
from packages import mirror
from packages.models import Project, UpstreamBlock, UpstreamProject
from tests.upstream_server import StaticIndex, dist

pytestmark = pytest.mark.django_db

OLD = timezone.now() - timedelta(days=30)


@pytest.fixture
def index(settings):
    """The upstream, with "demo" 1.5 and 2.5; this index mirrors it."""
    with StaticIndex() as upstream:
        upstream.publish(
            "demo",
            [
                dist("demo-1.5-py3-none-any.whl", b"one", upload_time=OLD),
                dist("demo-2.5.tar.gz", b"two", upload_time=OLD),
            ],
        )
        settings.UPSTREAM_INDEX_URL = upstream.simple_url
        settings.PRIVATE_NAME_PATTERNS = ["acme-*"]
        yield upstream


@pytest.fixture
def actor(moderator):
    return Actor(user=moderator, ip_address="192.0.2.7")


@pytest.fixture
def demo(index):
    """The mirror's row for "demo", as a first request for it leaves it."""
    return mirror.refresh("demo")


def offered(name: str = "demo") -> list[str]:
    return [
        f.filename for f in mirror.offered_files(UpstreamProject.objects.get(normalized_name=name))
    ]


def last_action() -> ModerationAction:
    return ModerationAction.objects.latest("id")


# --- blocks ---------------------------------------------------------------------------


def test_block_a_version(demo, actor, django_capture_on_commit_callbacks):
    generation = mirror.generation()
    with django_capture_on_commit_callbacks(execute=True):
        block = curation.upstream_block(name="Demo", version="2.5.0", actor=actor, reason="bad")
    # Stored as the mirror's files spell it (UpstreamFile.version), which it is matched against.
    assert (block.normalized_name, block.version, block.created_by) == ("demo", "2.5", actor.user)
    assert offered() == ["demo-1.5-py3-none-any.whl"]
    action = last_action()
    assert (action.action, action.project_name, action.reason, action.details) == (
        "block upstream version",
        "demo",
        "bad",
        {"version": "2.5"},
    )
    # The pages that offered it are forgotten once it commits.
    assert mirror.generation() != generation


def test_block_a_whole_project_and_unblock_it(demo, actor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        curation.upstream_block(name="demo", actor=actor, reason="typosquat")
    assert offered() == []
    assert last_action().action == "block upstream project"
    generation = mirror.generation()
    with django_capture_on_commit_callbacks(execute=True):
        curation.upstream_unblock(name="DEMO", actor=actor, reason="was fine")
    assert not UpstreamBlock.objects.exists()
    assert offered() == ["demo-1.5-py3-none-any.whl", "demo-2.5.tar.gz"]
    action = last_action()
    assert (action.action, action.details) == (
        "unblock upstream project",
        {"block_reason": "typosquat"},
    )
    assert mirror.generation() != generation


def test_unblock_a_version(demo, actor):
    curation.upstream_block(name="demo", version="2.5", actor=actor, reason="bad")
    curation.upstream_unblock(name="demo", version="2.5.0", actor=actor, reason="fixed")
    assert (last_action().action, last_action().details) == (
        "unblock upstream version",
        {"block_reason": "bad", "version": "2.5"},
    )
    assert len(offered()) == 2


def test_a_version_is_spelt_as_the_mirrors_files_spell_it(index, demo, actor):
    index.publish(
        "demo",
        [
            dist("demo-1.5-py3-none-any.whl", b"one", upload_time=OLD),
            dist("demo-3.0.tar.gz", b"three", upload_time=OLD),
        ],
    )
    UpstreamProject.objects.update(checked_at=None)
    mirror.refresh("demo")
    # "3" and "3.0.0" are the version the file demo-3.0 names (PEP 440).
    block = curation.upstream_block(name="demo", version="3", actor=actor, reason="bad")
    assert block.version == "3.0"
    assert offered() == ["demo-1.5-py3-none-any.whl"]
    assert curation.upstream_unblock(name="demo", version="3.0.0", actor=actor, reason="ok")
    assert len(offered()) == 2


def test_a_version_blocked_before_its_files_are_known_is_unblocked_in_any_spelling(index, actor):
    block = curation.upstream_block(name="demo", version="4.0.0", actor=actor, reason="bad")
    assert block.version == "4.0.0"
    curation.upstream_unblock(name="demo", version="4", actor=actor, reason="ok")
    assert not UpstreamBlock.objects.exists()


def test_a_name_can_be_blocked_before_it_is_ever_fetched(index, actor):
    curation.upstream_block(name="evil", actor=actor, reason="known malware")
    assert UpstreamBlock.objects.get().normalized_name == "evil"
    assert not UpstreamProject.objects.exists()


@pytest.mark.parametrize(
    ("name", "version", "message"),
    [
        ("bad name!", None, "'bad name!' is not a valid project name (PEP 508"),
        ("-demo", None, "'-demo' is not a valid project name"),
        ("demo", "not.a.version", "'not.a.version' is not a valid version (PEP 440)."),
        ("demo", "1" * 101, "A version is at most 100 characters long."),
    ],
)
def test_block_refuses_bad_input(index, actor, name, version, message):
    with pytest.raises(ModerationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        curation.upstream_block(name=name, version=version, actor=actor, reason="x")
    assert not UpstreamBlock.objects.exists() and not ModerationAction.objects.exists()


def test_block_needs_a_reason(index, actor):
    with pytest.raises(ModerationError, match="A reason is required"):
        curation.upstream_block(name="demo", actor=actor, reason="  ")


def test_a_block_is_made_once(index, actor):
    curation.upstream_block(name="demo", version="1.0", actor=actor, reason="x")
    # Blocked already, in any spelling of the version.
    for spelling in ("1.0", "1", "1.0.0"):
        with pytest.raises(ModerationError, match=r"^demo 1\.0 is already blocked\.$"):
            curation.upstream_block(name="Demo", version=spelling, actor=actor, reason="again")
    assert ModerationAction.objects.count() == 1


def test_unblock_what_is_not_blocked(index, actor):
    curation.upstream_block(name="demo", version="1.0", actor=actor, reason="x")
    with pytest.raises(ModerationError, match=r"^demo is not blocked\.$"):
        curation.upstream_unblock(name="demo", actor=actor, reason="x")
    with pytest.raises(ModerationError, match=r"^demo 2\.0 is not blocked\.$"):
        curation.upstream_unblock(name="demo", version="2.0", actor=actor, reason="x")


# --- quarantine -----------------------------------------------------------------------


def test_quarantine_and_release(demo, actor, django_capture_on_commit_callbacks):
    generation = mirror.generation()
    with django_capture_on_commit_callbacks(execute=True):
        row = curation.upstream_quarantine(name="Demo", actor=actor, reason="malware")
    assert (row.quarantine_reason, row.quarantined_at is not None) == ("malware", True)
    assert offered() == []
    assert mirror.generation() != generation
    assert last_action().action == "quarantine upstream project"
    generation = mirror.generation()
    with django_capture_on_commit_callbacks(execute=True):
        row = curation.upstream_unquarantine(name="demo", actor=actor, reason="false alarm")
    assert (row.quarantined_at, row.quarantine_reason) == (None, "")
    assert len(offered()) == 2
    assert mirror.generation() != generation
    action = last_action()
    assert (action.action, action.reason, action.details) == (
        "release upstream quarantine",
        "false alarm",
        {"quarantine_reason": "malware"},
    )


def test_quarantine_refusals(demo, actor):
    with pytest.raises(ModerationError, match="is not quarantined"):
        curation.upstream_unquarantine(name="demo", actor=actor, reason="x")
    curation.upstream_quarantine(name="demo", actor=actor, reason="x")
    with pytest.raises(ModerationError, match="is already quarantined"):
        curation.upstream_quarantine(name="demo", actor=actor, reason="x")
    with pytest.raises(ModerationError, match="Block the name to keep it out"):
        curation.upstream_quarantine(name="never-fetched", actor=actor, reason="x")


# --- claims ---------------------------------------------------------------------------


def test_allow_a_claim(demo, actor, moderator):
    row = curation.upstream_claim_allow(name="demo", actor=actor, reason="our fork")
    assert (row.claim_allowed_by, row.claim_reason) == (moderator, "our fork")
    assert row.claim_allowed_at is not None
    assert last_action().action == "allow upstream claim"
    with pytest.raises(ModerationError, match="may already take the name demo"):
        curation.upstream_claim_allow(name="demo", actor=actor, reason="again")


def test_allow_a_claim_before_the_name_was_ever_asked(index, actor):
    curation.upstream_claim_allow(name="Acme.Fork", actor=actor, reason="ours")
    row = UpstreamProject.objects.get()
    assert (row.normalized_name, row.checked_at) == ("acme-fork", None)
    # Not listed as mirrored: nothing of it was ever fetched.
    assert mirror.listed_projects() == []


def test_no_claim_for_a_name_a_local_project_has(project, index, actor):
    with pytest.raises(
        ModerationError, match="A local project already has the name sample-project"
    ):
        curation.upstream_claim_allow(name="Sample_Project", actor=actor, reason="x")


# --- which local names the upstream has ---------------------------------------------


def test_check_records_which_local_names_the_upstream_has(index, settings):
    index.publish("sample-project", [dist("sample_project-1.0.tar.gz", b"s")])
    for name in ("sample-project", "only-here", "acme-secret"):
        Project.objects.create(name=name, normalized_name=name)
    # Known as upstream before, since dropped there.
    UpstreamProject.objects.create(normalized_name="only-here", exists=True)
    seen = []
    report = curation.upstream_check(progress=lambda done, total: seen.append((done, total)))
    assert (report.checked, report.on_upstream, report.private, report.failed) == (
        2,
        ["sample-project"],
        1,
        [],
    )
    assert seen == [(1, 2), (2, 2)]
    rows = dict(UpstreamProject.objects.values_list("normalized_name", "exists"))
    assert rows == {"sample-project": True, "only-here": False}
    # The private name was never asked.
    assert index.requested("/simple/acme-secret/") == 0
    # Answers only: the mirror's next request fetches the page itself.
    assert UpstreamProject.objects.get(normalized_name="sample-project").checked_at is None


def test_check_does_not_ask_names_under_a_restricted_namespace(index, owner):
    from tests.factories import make_namespace, make_organization

    make_namespace("acme", make_organization("Acme", owners=[owner]), is_hidden=True)
    index.publish("acme-tools", [dist("acme_tools-1.0.tar.gz", b"a squatter's")])
    Project.objects.create(name="acme-tools", normalized_name="acme-tools")
    report = curation.upstream_check()
    assert (report.checked, report.on_upstream, report.private) == (0, [], 1)
    assert index.requested("/simple/acme-tools/") == 0


def test_check_lists_what_the_upstream_did_not_answer(index, project):
    index.fail_with = 503
    report = curation.upstream_check()
    assert report.checked == 0 and report.on_upstream == []
    [(name, error)] = report.failed
    assert name == "sample-project"
    assert "answered 503" in error
    assert not UpstreamProject.objects.exists()


def test_check_needs_an_upstream(settings, project):
    settings.UPSTREAM_INDEX_URL = ""
    with pytest.raises(ModerationError, match=r"UPSTREAM_INDEX_URL is unset"):
        curation.upstream_check()


# --- through the simple page ----------------------------------------------------------


def test_the_cached_page_drops_what_a_moderator_hides(
    client, demo, actor, django_capture_on_commit_callbacks
):
    page = client.get("/simple/demo/")
    assert page.status_code == 200 and b"demo-2.5.tar.gz" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        curation.upstream_block(name="demo", version="2.5", actor=actor, reason="bad")
    page = client.get("/simple/demo/")
    assert b"demo-1.5-py3-none-any.whl" in page.content
    assert b"demo-2.5.tar.gz" not in page.content
    with django_capture_on_commit_callbacks(execute=True):
        curation.upstream_quarantine(name="demo", actor=actor, reason="malware")
    assert client.get("/simple/demo/").status_code == 404
