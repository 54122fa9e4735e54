"""The moderators' admin of the mirrored upstream: blocks and mirrored projects,
through its own URLs as a moderator, with real rows and a real upstream on
loopback (tests.upstream_server)."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.urls import reverse

from moderation.models import ModerationAction
from packages import mirror
from packages.models import Project, UpstreamBlock, UpstreamProject
from tests.upstream_server import StaticIndex, dist

pytestmark = pytest.mark.django_db


def url(model, view="changelist", *args):
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def act(client, model, action, objects, **form):
    """The two POSTs of an action: the changelist's, then the confirmation's."""
    ids = [obj.pk for obj in objects]
    first = client.post(url(model), {"action": action, "index": 0, ACTION_CHECKBOX_NAME: ids})
    assert first.status_code == 200, first
    assert b'name="reason"' in first.content
    return client.post(
        url(model), {"action": action, ACTION_CHECKBOX_NAME: ids, "confirm": "yes", **form}
    )


@pytest.fixture
def index(settings):
    with StaticIndex() as upstream:
        upstream.publish("demo", [dist("demo-1.5.tar.gz", b"one")])
        upstream.publish("sample-project", [dist("sample_project-9.0.tar.gz", b"s")])
        settings.UPSTREAM_INDEX_URL = upstream.simple_url
        yield upstream


@pytest.fixture
def demo(index):
    return mirror.refresh("demo")


# --- blocks ---------------------------------------------------------------------------


def test_add_a_block(mod_client, demo, moderator):
    form = mod_client.get(url(UpstreamBlock, "add"))
    assert "Block from the upstream: fill in the form, then confirm." in form.content.decode()
    response = mod_client.post(url(UpstreamBlock, "add"), {"name": "Demo", "version": "1.5.0"})
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    response = mod_client.post(
        url(UpstreamBlock, "add"), {"name": "Demo", "version": "1.5.0", "reason": "broken"}
    )
    assert response.status_code == 302
    assert messages_of(response) == [("success", "Blocked: demo 1.5.")]
    block = UpstreamBlock.objects.get()
    assert (block.normalized_name, block.version, block.created_by) == ("demo", "1.5", moderator)
    listing = mod_client.get(url(UpstreamBlock), {"q": "DEM"})
    assert list(listing.context["cl"].result_list) == [block]
    assert list(mod_client.get(url(UpstreamBlock), {"q": "x"}).context["cl"].result_list) == []


def test_a_bad_block_says_why(mod_client, index):
    response = mod_client.post(
        url(UpstreamBlock, "add"), {"name": "demo", "version": "latest", "reason": "x"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "name": ["'latest' is not a valid version (PEP 440)."]
    }
    assert "is not a valid version (PEP 440)." in response.content.decode()
    assert not UpstreamBlock.objects.exists()


def test_unblock_asks_for_a_reason(mod_client, index, moderator):
    mod_client.post(url(UpstreamBlock, "add"), {"name": "demo", "version": "", "reason": "bad"})
    block = UpstreamBlock.objects.get()
    actions = mod_client.get(url(UpstreamBlock)).context["action_form"].fields["action"].choices
    # The stock delete would record no reason: only the unblock action is offered.
    assert [name for name, _label in actions] == ["", "unblock"]
    response = act(mod_client, UpstreamBlock, "unblock", [block], reason="was fine")
    assert messages_of(response) == [("success", "Unblock (offer again): done for 1.")]
    assert not UpstreamBlock.objects.exists()
    assert ModerationAction.objects.latest("id").action == "unblock upstream project"
    # Nor can a block be deleted from its page.
    mod_client.post(url(UpstreamBlock, "add"), {"name": "demo", "reason": "bad"})
    block = UpstreamBlock.objects.get()
    assert mod_client.get(url(UpstreamBlock, "delete", block.pk)).status_code == 403


def test_staff_cannot_block(client, staff, index):
    client.force_login(staff)
    assert client.get(url(UpstreamBlock, "add")).status_code == 403
    assert client.get(url(UpstreamBlock)).status_code == 403


# --- mirrored projects ------------------------------------------------------------------


def test_quarantine_a_mirrored_project(mod_client, demo):
    response = act(mod_client, UpstreamProject, "quarantine", [demo], reason="malware")
    assert messages_of(response) == [("success", "Quarantine mirrored project: done for 1.")]
    demo.refresh_from_db()
    assert demo.quarantine_reason == "malware"
    assert mirror.offered_files(demo) == []
    listing = mod_client.get(url(UpstreamProject), {"quarantined": "yes"})
    assert list(listing.context["cl"].result_list) == [demo]
    assert (
        list(mod_client.get(url(UpstreamProject), {"quarantined": "no"}).context["cl"].result_list)
        == []
    )
    response = act(mod_client, UpstreamProject, "release_quarantine", [demo], reason="ok")
    demo.refresh_from_db()
    assert demo.quarantined_at is None


def test_an_action_that_cannot_be_done_says_why(mod_client, demo):
    response = act(mod_client, UpstreamProject, "release_quarantine", [demo], reason="ok")
    assert messages_of(response) == [
        ("error", "demo: The mirrored project demo is not quarantined.")
    ]


def test_allow_a_claim_and_block(mod_client, demo, moderator):
    act(mod_client, UpstreamProject, "allow_claim", [demo], reason="our fork")
    demo.refresh_from_db()
    assert (demo.claim_allowed_by, demo.claim_reason) == (moderator, "our fork")
    act(mod_client, UpstreamProject, "block", [demo], reason="typosquat")
    assert UpstreamBlock.objects.get().normalized_name == "demo"
    page = mod_client.get(url(UpstreamProject, "change", demo.pk))
    assert page.status_code == 200 and 'name="reason"' not in page.content.decode()
    assert "our fork" in page.content.decode()


def test_the_names_both_here_and_upstream(mod_client, demo, project, index):
    both = mirror.refresh("sample-project")
    UpstreamProject.objects.create(normalized_name="gone", exists=False)
    Project.objects.create(name="gone", normalized_name="gone")
    listing = mod_client.get(url(UpstreamProject), {"both": "yes"})
    assert list(listing.context["cl"].result_list) == [both]
    assert "Exists both here and upstream" in listing.content.decode()
    mirrored = mod_client.get(url(UpstreamProject), {"both": "no"}).context["cl"].result_list
    assert list(mirrored) == [demo]
    everything = mod_client.get(url(UpstreamProject)).context["cl"].result_list
    assert [(row.normalized_name, row.has_local) for row in everything] == [
        ("demo", False),
        ("gone", True),
        ("sample-project", True),
    ]
    found = mod_client.get(url(UpstreamProject), {"q": "Sample_P"}).context["cl"].result_list
    assert list(found) == [both]


def test_staff_cannot_see_mirrored_projects(client, staff, demo):
    client.force_login(staff)
    assert client.get(url(UpstreamProject)).status_code == 403
