"""Security advisories in the moderators' admin: the list and its filters, an
OSV record pasted in to add or update one, and the actions that withdraw and
delete with a reason (moderation.advisories), whoever entered the advisory."""

import json

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.events import Actor
from accounts.models import Event
from moderation import advisories
from moderation.models import ModerationAction
from moderation.services import ModerationError
from packages.models import Advisory
from tests.packages.test_advisories import record

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:packages_advisory_changelist"
ADD = "admin:packages_advisory_add"


@pytest.fixture
def rows(project):
    imported = Advisory.objects.create(
        project=project, osv_id="PYSEC-1", summary="Imported", affected_versions=["1.0"]
    )
    entered = Advisory.objects.create(
        project=project,
        osv_id="LOCAL-1",
        source="index",
        withdrawn_at=timezone.now(),
    )
    return {"imported": imported, "entered": entered}


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def act(client, action, objects, **form):
    ids = [obj.pk for obj in objects]
    first = client.post(
        reverse(CHANGELIST), {"action": action, "index": 0, ACTION_CHECKBOX_NAME: ids}
    )
    assert b'name="reason"' in first.content
    return client.post(
        reverse(CHANGELIST), {"action": action, ACTION_CHECKBOX_NAME: ids, "confirm": "yes", **form}
    )


def test_moderators_list_and_filter_advisories(mod_client, rows):
    listed = mod_client.get(reverse(CHANGELIST))
    in_force = mod_client.get(reverse(CHANGELIST), {"withdrawn": "no"})
    withdrawn = mod_client.get(reverse(CHANGELIST), {"withdrawn": "yes"})
    searched = mod_client.get(reverse(CHANGELIST), {"q": "pysec"})

    def ids(response):
        return sorted(a.osv_id for a in response.context["cl"].result_list)

    assert ids(listed) == ["LOCAL-1", "PYSEC-1"]
    assert ids(in_force) == ["PYSEC-1"]
    assert ids(withdrawn) == ["LOCAL-1"]
    assert ids(searched) == ["PYSEC-1"]
    page = mod_client.get(reverse("admin:packages_advisory_change", args=[rows["imported"].pk]))
    assert page.status_code == 200 and b"Imported" in page.content
    assert b'name="_save"' not in page.content


def test_staff_who_are_not_moderators_see_nothing(client, staff, rows):
    client.force_login(staff)

    assert client.get(reverse(CHANGELIST)).status_code == 403
    assert client.get(reverse(ADD)).status_code == 403


def test_a_pasted_record_adds_then_updates(mod_client, moderator, project):
    form = mod_client.get(reverse(ADD))
    assert b'name="record"' in form.content

    added = mod_client.post(
        reverse(ADD), {"record": json.dumps(record()), "reason": "From the PSF's database"}
    )
    mod_client.get(added["Location"])  # shows (and so clears) its messages
    changed = record(summary="Changed", modified="2030-01-01T00:00:00Z")
    changed["affected"].append({"package": {"ecosystem": "PyPI", "name": "elsewhere"}})
    updated = mod_client.post(reverse(ADD), {"record": json.dumps(changed), "reason": "Newer"})

    assert added.status_code == updated.status_code == 302
    assert messages_of(added) == ["Sample.Project: created."]
    assert messages_of(updated) == [
        "Sample.Project: updated.",
        "elsewhere: skipped (no project named 'elsewhere' here).",
    ]
    stored = Advisory.objects.get()
    assert (stored.summary, stored.created_by) == ("Changed", moderator)
    logged = ModerationAction.objects.filter(action="import advisory").order_by("id")
    assert [(a.reason, a.details["result"]) for a in logged] == [
        ("From the PSF's database", "created"),
        ("Newer", "updated"),
    ]
    assert logged[0].moderator == moderator and logged[0].project == project


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"record": "{broken", "reason": "r"}, "This is not valid JSON"),
        ({"record": json.dumps(record(id="")), "reason": "r"}, "The record has no &quot;id&quot;."),
        ({"record": json.dumps(record()), "reason": " "}, "This field is required."),
    ],
)
def test_a_bad_record_is_refused_on_the_form(mod_client, project, data, message):
    response = mod_client.post(reverse(ADD), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Advisory.objects.exists()


def test_withdraw_and_delete_ask_for_a_reason(mod_client, moderator, rows):
    withdrawn = act(mod_client, "withdraw", [rows["imported"]], reason="Disputed by upstream")

    assert messages_of(withdrawn) == ["Withdraw advisory: done for 1."]
    assert Advisory.objects.get(pk=rows["imported"].pk).withdrawn_at is not None
    action = ModerationAction.objects.get(action="withdraw advisory")
    assert (action.reason, action.moderator, action.details) == (
        "Disputed by upstream",
        moderator,
        {"advisory": "PYSEC-1"},
    )
    assert Event.objects.get(tag="project:advisory:withdrawn").actor == moderator

    again = act(mod_client, "withdraw", [rows["entered"]], reason="Twice")
    assert messages_of(again) == ["LOCAL-1 (Sample.Project): LOCAL-1 is already withdrawn."]

    deleted = act(mod_client, "delete_advisory", list(rows.values()), reason="Spam")
    assert messages_of(deleted) == ["Delete advisory: done for 2."]
    assert not Advisory.objects.exists()


def test_the_services_need_a_reason_and_say_what_is_wrong(project, moderator):
    actor = Actor(moderator)
    with pytest.raises(ModerationError, match="A reason is required"):
        advisories.moderator_advisory_import(text="{}", actor=actor, reason="")
    with pytest.raises(ModerationError, match="An OSV record is a JSON object"):
        advisories.moderator_advisory_import(text="[1]", actor=actor, reason="r")
    gone = Advisory.objects.create(project=project, osv_id="X-1")
    Advisory.objects.filter(pk=gone.pk).delete()
    with pytest.raises(ModerationError, match="X-1 no longer exists"):
        advisories.moderator_advisory_delete(advisory=gone, actor=actor, reason="r")
    # The refused action records nothing.
    assert not ModerationAction.objects.exists()
