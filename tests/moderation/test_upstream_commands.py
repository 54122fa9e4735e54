"""``manage.py moderate upstream-...``: the curation of the mirrored upstream from
a shell, against a real upstream on loopback (tests.upstream_server)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from moderation.management.commands import moderate as moderate_command
from moderation.models import ModerationAction
from packages import mirror
from packages.models import Project, UpstreamBlock, UpstreamProject
from tests.upstream_server import StaticIndex, dist

pytestmark = pytest.mark.django_db


@pytest.fixture
def index(settings):
    with StaticIndex() as upstream:
        upstream.publish("demo", [dist("demo-1.5.tar.gz", b"one")])
        settings.UPSTREAM_INDEX_URL = upstream.simple_url
        settings.PRIVATE_NAME_PATTERNS = ["acme-*"]
        yield upstream


@pytest.fixture
def demo(index):
    return mirror.refresh("demo")


def moderate(*args, moderator: bool = True):
    out = StringIO()
    extra = ("--moderator", "mona") if moderator else ()
    call_command("moderate", *args, *extra, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_block_and_unblock_a_project(index, moderator):
    assert moderate("upstream-block", "Demo", "--reason", "typosquat") == (
        "demo is blocked: not offered from the upstream."
    )
    assert UpstreamBlock.objects.get().reason == "typosquat"
    assert moderate("upstream-unblock", "demo", "--reason", "fine") == (
        "demo is unblocked: offered from the upstream again."
    )
    assert not UpstreamBlock.objects.exists()
    assert ModerationAction.objects.filter(moderator=moderator).count() == 2


def test_block_and_unblock_a_version(index, moderator):
    assert moderate("upstream-block", "demo", "1.5.0", "--reason", "broken") == (
        "demo 1.5.0 is blocked: not offered from the upstream."
    )
    assert moderate("upstream-unblock", "demo", "1.5", "--reason", "fixed") == (
        "demo 1.5.0 is unblocked: offered from the upstream again."
    )


def test_quarantine_and_release_a_mirrored_project(demo, moderator):
    assert moderate("upstream-quarantine", "demo", "--reason", "malware") == (
        "The mirrored project demo is quarantined."
    )
    assert moderate("upstream-unquarantine", "demo", "--reason", "ok") == (
        "The mirrored project demo is released from quarantine."
    )


def test_quarantine_takes_a_mirrored_name_when_no_local_project_has_it(demo, moderator):
    assert moderate("quarantine", "Demo", "--reason", "malware") == (
        "The mirrored project demo is quarantined."
    )
    assert UpstreamProject.objects.get().quarantine_reason == "malware"
    assert moderate("release-quarantine", "demo", "--reason", "ok") == (
        "The mirrored project demo is released from quarantine."
    )
    assert UpstreamProject.objects.get().quarantined_at is None


def test_quarantine_takes_the_local_project_first(demo, project, moderator):
    # The name is both here and upstream: the local project is the one served.
    UpstreamProject.objects.filter(normalized_name="demo").update(normalized_name="sample-project")
    assert moderate("quarantine", "sample-project", "--reason", "x") == (
        "Sample.Project is quarantined."
    )
    assert UpstreamProject.objects.get().quarantined_at is None


def test_without_a_moderator_the_shell_is_recorded(index):
    assert moderate("upstream-block", "demo", "--reason", "x", moderator=False) == (
        "demo is blocked: not offered from the upstream."
    )
    action = ModerationAction.objects.get()
    assert (action.moderator, action.details) == (None, {"via": "shell"})
    assert UpstreamBlock.objects.get().created_by is None


def test_allow_a_claim(index, moderator):
    assert moderate("upstream-allow-claim", "Demo", "--reason", "our fork") == (
        "A local project may now take the name demo."
    )
    assert UpstreamProject.objects.get().claim_reason == "our fork"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["upstream-block", "demo", "x/y", "--reason", "x"], "is not a valid version"),
        (["upstream-unblock", "demo", "--reason", "x"], "demo is not blocked."),
        (["upstream-quarantine", "nope", "--reason", "x"], "No mirrored project 'nope'"),
        (["upstream-allow-claim", "bad name", "--reason", "x"], "is not a valid project name"),
        (["upstream-block", "demo", "--reason", " "], "reason is required"),
    ],
)
def test_refusals(index, moderator, args, message):
    with pytest.raises(CommandError, match=message):
        moderate(*args)


class Output:
    def __init__(self):
        self.out, self.err = StringIO(), StringIO()

    def check(self) -> None:
        call_command("moderate", "upstream-check", stdout=self.out, stderr=self.err)

    def lines(self, stream: str) -> list[str]:
        return getattr(self, stream).getvalue().splitlines()


def test_check_reports_the_names_both_here_and_upstream(index):
    for name in ("demo", "only-here", "acme-secret"):
        Project.objects.create(name=name, normalized_name=name)
    output = Output()
    output.check()
    assert output.lines("out") == [
        "Checked 2 local names: 1 also on the upstream, 1 private (not asked), 0 unanswered.",
        "Also on the upstream: demo.",
    ]
    assert dict(UpstreamProject.objects.values_list("normalized_name", "exists")) == {
        "demo": True,
        "only-here": False,
    }


def test_check_reports_progress_and_lists_a_bounded_number(index, monkeypatch):
    # Small bounds, so a handful of projects shows both.
    monkeypatch.setattr(moderate_command, "CHECK_PROGRESS_EVERY", 2)
    monkeypatch.setattr(moderate_command, "CHECK_LIST_LIMIT", 2)
    for name in ("a", "b", "c"):
        index.publish(name, [dist(f"{name}-1.0.tar.gz", b"x")])
        Project.objects.create(name=name, normalized_name=name)
    output = Output()
    output.check()
    assert output.lines("err") == ["Asked the upstream about 2 of 3 names."]
    assert output.lines("out")[-1] == "Also on the upstream: a, b and 1 more."


def test_check_fails_when_the_upstream_does_not_answer(index, project):
    index.fail_with = 503
    output = Output()
    with pytest.raises(CommandError, match=r"did not answer for 1 names; run the check again"):
        output.check()
    assert output.lines("out")[0].startswith("Checked 0 local names: 0 also on the upstream")
    assert output.lines("err")[0].startswith("sample-project: The upstream index answered 503")


def test_check_without_an_upstream(settings, project):
    settings.UPSTREAM_INDEX_URL = ""
    with pytest.raises(CommandError, match="UPSTREAM_INDEX_URL is unset"):
        Output().check()
