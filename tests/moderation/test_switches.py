"""Switching the kill switches: the service, ``manage.py moderate switch`` and
the admin, each change recorded with who, when and why."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts import flags
from accounts.events import Actor
from accounts.models import AdminFlag
from moderation.models import ModerationAction
from moderation.services import ModerationError, kill_switch_set
from packages.models import EdgePurge
from packages.surrogate import PAGES_KEY

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:accounts_adminflag_changelist")


def flag(flag_id: str) -> AdminFlag:
    return AdminFlag.objects.get(pk=flag_id)


def moderate(*args) -> str:
    out = StringIO()
    call_command("moderate", *args, stdout=out)
    return out.getvalue().strip()


# --- the service ------------------------------------------------------------------------


def test_switching_on_records_who_when_and_why(moderator):
    kill_switch_set(
        flag=flag(flags.READ_ONLY), enabled=True, actor=Actor(user=moderator), reason="db failover"
    )
    row = flag(flags.READ_ONLY)
    assert row.enabled and row.reason == "db failover" and row.changed_by == moderator
    assert row.changed_at is not None
    action = ModerationAction.objects.get()
    assert (action.action, action.moderator, action.reason) == (
        "kill switch on",
        moderator,
        "db failover",
    )
    assert action.details == {"switch": "read-only"}


def test_switching_off_is_recorded_too(moderator):
    kill_switch_set(
        flag=flag(flags.READ_ONLY), enabled=True, actor=Actor(user=moderator), reason="a"
    )
    kill_switch_set(
        flag=flag(flags.READ_ONLY), enabled=False, actor=Actor(user=moderator), reason="b"
    )
    assert not flag(flags.READ_ONLY).enabled
    assert list(ModerationAction.objects.values_list("action", flat=True)) == [
        "kill switch off",
        "kill switch on",
    ]


def test_switching_to_the_current_state_is_refused(moderator):
    with pytest.raises(ModerationError, match=r"The kill switch read-only is already off\."):
        kill_switch_set(
            flag=flag(flags.READ_ONLY), enabled=False, actor=Actor(user=moderator), reason="x"
        )
    assert not ModerationAction.objects.exists()


def test_a_switch_needs_a_reason(moderator):
    with pytest.raises(ModerationError, match="A reason is required"):
        kill_switch_set(
            flag=flag(flags.READ_ONLY), enabled=True, actor=Actor(user=moderator), reason=" "
        )
    assert not flag(flags.READ_ONLY).enabled


# --- the edges ------------------------------------------------------------------------


class EdgeStandIn:
    """Takes ``PURGE /`` as edge/default.vcl does, recording the keys and the
    switches a page fetched at that moment would show."""

    def __init__(self) -> None:
        self.purges: list[tuple[list[str], frozenset[str]]] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_PURGE(self):
                keys = self.headers.get("xkey-purge", "").split()
                standin.purges.append((keys, flags.enabled_flags()))
                self.send_response(200)
                self.send_header("Content-Length", "1")
                self.end_headers()
                self.wfile.write(b"1")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll: shutdown() waits for it, after every test.
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def edge(settings):
    standin = EdgeStandIn()
    settings.EDGE_PURGE_URLS = [standin.url]
    settings.EDGE_PURGE_ECHO_SECONDS = 0
    yield standin
    standin.close()


def test_switching_read_only_queues_a_purge_of_every_page(moderator, edge):
    kill_switch_set(
        flag=flag(flags.READ_ONLY), enabled=True, actor=Actor(user=moderator), reason="x"
    )
    assert list(EdgePurge.objects.values_list("keys", flat=True)) == [PAGES_KEY]


def test_the_page_purge_reaches_the_edge_after_the_new_state_is_stored(
    moderator, edge, django_capture_on_commit_callbacks
):
    for enabled in (True, False):
        with django_capture_on_commit_callbacks(execute=True):
            kill_switch_set(
                flag=flag(flags.READ_ONLY), enabled=enabled, actor=Actor(user=moderator), reason="x"
            )
    # A page the edge fetched again right after each purge shows the new state.
    assert edge.purges == [([PAGES_KEY], {flags.READ_ONLY}), ([PAGES_KEY], frozenset())]
    assert not EdgePurge.objects.exists()


@pytest.mark.parametrize("flag_id", sorted(set(flags.KILL_SWITCHES) - flags.SHOWN_ON_PAGES))
def test_switches_no_page_shows_purge_nothing(moderator, edge, flag_id):
    kill_switch_set(flag=flag(flag_id), enabled=True, actor=Actor(user=moderator), reason="x")
    assert not EdgePurge.objects.exists()


def test_the_command_purges_the_edge_before_it_returns(edge, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        moderate("switch", "read-only", "on", "--reason", "failover")
    assert edge.purges == [([PAGES_KEY], {flags.READ_ONLY})]
    assert not EdgePurge.objects.exists()


# --- manage.py moderate switch ----------------------------------------------------------


def test_command_switches_as_the_named_moderator(moderator):
    out = moderate(
        "switch", "disallow-new-upload", "on", "--reason", "spam wave", "--moderator", "mona"
    )
    assert out == "Kill switch disallow-new-upload is on."
    assert flag(flags.DISALLOW_NEW_UPLOAD).enabled
    assert ModerationAction.objects.get().moderator == moderator


def test_command_without_a_moderator_is_recorded_as_from_the_shell():
    assert moderate("switch", "read-only", "on", "--reason", "upgrade") == (
        "Kill switch read-only is on."
    )
    action = ModerationAction.objects.get()
    assert action.moderator is None
    assert action.details == {"switch": "read-only", "via": "shell"}
    assert moderate("switch", "read-only", "off", "--reason", "done") == (
        "Kill switch read-only is off."
    )


def test_command_refuses_an_unknown_switch():
    with pytest.raises(CommandError, match="invalid choice: 'everything'"):
        moderate("switch", "everything", "on", "--reason", "x")


def test_command_refuses_the_current_state():
    with pytest.raises(CommandError, match="already off"):
        moderate("switch", "read-only", "off", "--reason", "x")


def test_command_refuses_an_unknown_moderator():
    with pytest.raises(CommandError, match="No user 'nobody'"):
        moderate("switch", "read-only", "on", "--reason", "x", "--moderator", "nobody")
    assert not flag(flags.READ_ONLY).enabled


# --- the admin --------------------------------------------------------------------------


def switch_in_admin(client, action: str, flag_id: str, reason: str):
    first = client.post(CHANGELIST, {"action": action, "index": 0, ACTION_CHECKBOX_NAME: [flag_id]})
    assert first.status_code == 200 and b'name="reason"' in first.content
    return client.post(
        CHANGELIST,
        {"action": action, ACTION_CHECKBOX_NAME: [flag_id], "confirm": "yes", "reason": reason},
        follow=True,
    )


def test_moderator_sees_the_switches(mod_client):
    page = mod_client.get(CHANGELIST)
    assert page.status_code == 200
    for flag_id in flags.KILL_SWITCHES:
        assert flag_id in page.content.decode()


def test_moderator_switches_in_the_admin_with_a_reason(mod_client, moderator):
    response = switch_in_admin(mod_client, "switch_on", flags.READ_ONLY, "incident 42")
    assert "Switch on: done for 1." in response.content.decode()
    assert flag(flags.READ_ONLY).enabled
    action = ModerationAction.objects.get()
    assert (action.moderator, action.reason) == (moderator, "incident 42")


def test_the_admin_switches_read_only_off_while_it_is_on(mod_client):
    # Read-only refuses writes everywhere but here: otherwise nobody could end it.
    switch_in_admin(mod_client, "switch_on", flags.READ_ONLY, "incident")
    response = switch_in_admin(mod_client, "switch_off", flags.READ_ONLY, "over")
    assert response.status_code == 200
    assert not flag(flags.READ_ONLY).enabled


def test_the_admin_reports_a_switch_already_in_that_state(mod_client):
    response = switch_in_admin(mod_client, "switch_off", flags.READ_ONLY, "x")
    assert "The kill switch read-only is already off." in response.content.decode()
    assert not ModerationAction.objects.exists()


def test_the_switch_rows_are_not_edited_by_hand(mod_client):
    page = mod_client.get(reverse("admin:accounts_adminflag_change", args=[flags.READ_ONLY]))
    assert page.status_code == 200 and b'name="enabled"' not in page.content
    assert mod_client.get(reverse("admin:accounts_adminflag_add")).status_code == 403


def test_staff_without_the_permission_cannot_switch(client, staff):
    client.force_login(staff)
    assert client.get(CHANGELIST).status_code == 403
    client.post(
        CHANGELIST,
        {
            "action": "switch_on",
            ACTION_CHECKBOX_NAME: [flags.READ_ONLY],
            "confirm": "yes",
            "reason": "x",
        },
    )
    assert not flag(flags.READ_ONLY).enabled


def test_moderators_group_may_see_and_change_the_switches(moderator):
    assert moderator.has_perm("accounts.change_adminflag")
    assert moderator.has_perm("accounts.view_adminflag")
    assert not moderator.has_perm("accounts.add_adminflag")
    assert not moderator.has_perm("accounts.delete_adminflag")
