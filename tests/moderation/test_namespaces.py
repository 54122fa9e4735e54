"""Moderators' namespace grants (moderation.namespaces): the services, the
admin (through its own URLs as a moderator) and ``manage.py moderate
namespace-grant|namespace-revoke``."""

from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.events import Actor
from moderation import namespaces
from moderation.models import ModerationAction
from moderation.services import ModerationError
from packages.models import Namespace, Project
from tests.factories import make_namespace, make_organization

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:packages_namespace_changelist")
ADD = reverse("admin:packages_namespace_add")


@pytest.fixture
def acme(owner):
    return make_organization("Acme", owners=[owner])


def shell() -> Actor:
    return Actor.shell()


# --- services ----------------------------------------------------------------------


def test_grant_is_recorded_with_its_reason(acme, moderator):
    grant = namespaces.namespace_grant(
        prefix="Acme", organization=acme, actor=Actor(moderator), reason="verified", is_open=True
    )
    assert (grant.normalized_prefix, grant.is_open, grant.created_by) == ("acme", True, moderator)
    action = ModerationAction.objects.get()
    assert (action.action, action.moderator, action.reason) == (
        "namespace grant",
        moderator,
        "verified",
    )
    assert action.details == {
        "namespace": "acme",
        "organization": "Acme",
        "open": True,
        "hidden": False,
        "parent": None,
    }


def test_a_shell_grant_says_so(acme):
    namespaces.namespace_grant(prefix="acme", organization=acme, actor=shell(), reason="r")
    action = ModerationAction.objects.get()
    assert action.moderator is None and action.details["via"] == "shell"


def test_a_refused_grant_records_nothing(acme):
    make_namespace("acme-cloud", acme)
    with pytest.raises(ModerationError, match="overlaps the granted namespace 'acme-cloud'"):
        namespaces.namespace_grant(prefix="acme", organization=acme, actor=shell(), reason="r")
    assert not ModerationAction.objects.exists()
    assert Namespace.objects.count() == 1


def test_every_action_needs_a_reason(acme):
    grant = make_namespace("acme", acme)
    with pytest.raises(ModerationError, match="reason is required"):
        namespaces.namespace_grant(prefix="x", organization=acme, actor=shell(), reason=" ")
    with pytest.raises(ModerationError, match="reason is required"):
        namespaces.namespace_revoke(grant=grant, actor=shell(), reason="")
    with pytest.raises(ModerationError, match="reason is required"):
        namespaces.namespace_change(grant=grant, actor=shell(), reason="", is_open=True)


def test_revoke_removes_the_grant_and_its_children(acme):
    root = make_namespace("acme", acme)
    make_namespace("acme-x", acme, parent=root)
    assert namespaces.namespace_revoke(grant=root, actor=shell(), reason="asked") == [
        "acme",
        "acme-x",
    ]
    assert not Namespace.objects.exists()
    assert ModerationAction.objects.get().action == "namespace revoke"


def test_change_records_the_new_flags_and_refuses_nonsense(acme):
    grant = make_namespace("acme", acme)
    grant = namespaces.namespace_change(grant=grant, actor=shell(), reason="r", is_hidden=True)
    assert grant.is_hidden
    assert ModerationAction.objects.get().details["hidden"] is True
    with pytest.raises(ModerationError, match="can't be open"):
        namespaces.namespace_change(grant=grant, actor=shell(), reason="r", is_open=True)


def test_lookups_say_what_is_missing(acme):
    with pytest.raises(ModerationError, match="No active organization 'nope'"):
        namespaces.organization_named("nope")
    with pytest.raises(ModerationError, match="No namespace 'acme' is granted"):
        namespaces.grant_named("Acme")
    with pytest.raises(ModerationError, match="not a valid namespace"):
        namespaces.grant_named("-x")
    assert namespaces.organization_named("ACME") == acme


# --- the command ------------------------------------------------------------------


def moderate(*args) -> str:
    out = StringIO()
    call_command("moderate", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_command_grants_a_restricted_namespace(acme):
    out = moderate("namespace-grant", "Acme", "--organization", "acme", "--reason", "verified")
    assert out == "The namespace acme (restricted) is granted to Acme.\n"
    assert ModerationAction.objects.get().details["via"] == "shell"


def test_command_grants_a_hidden_child_by_a_named_moderator(acme, moderator):
    root = make_namespace("acme", acme)
    out = moderate(
        "namespace-grant",
        "acme-internal",
        "--organization",
        "Acme",
        "--parent",
        "acme",
        "--hidden",
        "--reason",
        "r",
        "--moderator",
        moderator.username,
    )
    assert out == "The namespace acme-internal (restricted, hidden) is granted to Acme.\n"
    child = Namespace.objects.get(normalized_prefix="acme-internal")
    assert child.parent == root and child.created_by == moderator


def test_command_grants_an_open_namespace(acme):
    out = moderate("namespace-grant", "acme", "--organization", "Acme", "--open", "--reason", "r")
    assert "(open)" in out


def test_command_revokes(acme):
    make_namespace("acme", acme)
    assert moderate("namespace-revoke", "ACME", "--reason", "r") == "Revoked: acme.\n"


@pytest.mark.parametrize(
    ("flags", "expected", "said"),
    [
        (["--open"], (True, False), "now open"),
        (["--hidden"], (False, True), "now restricted, hidden"),
    ],
)
def test_command_changes_a_namespace(acme, flags, expected, said):
    grant = make_namespace("acme", acme)
    out = moderate("namespace-change", "acme", *flags, "--reason", "r")
    assert out == f"The namespace acme is {said}.\n"
    grant.refresh_from_db()
    assert (grant.is_open, grant.is_hidden) == expected


def test_command_change_without_a_change_says_so(acme):
    make_namespace("acme", acme)
    with pytest.raises(CommandError, match="already so"):
        moderate("namespace-change", "acme", "--reason", "r")


def test_command_change_back(acme):
    grant = make_namespace("acme", acme, is_open=True)
    moderate("namespace-change", "acme", "--restricted", "--reason", "r")
    grant.refresh_from_db()
    assert not grant.is_open
    grant.is_hidden = True
    grant.save()
    moderate("namespace-change", "acme", "--shown", "--reason", "r")
    grant.refresh_from_db()
    assert not grant.is_hidden


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("namespace-grant", "acme", "--organization", "nope"), "No active organization"),
        (("namespace-grant", "acme", "--organization", "Acme", "--open", "--hidden"), "hidden"),
        (("namespace-grant", "x", "--organization", "Acme", "--parent", "y"), "No namespace 'y'"),
        (("namespace-revoke", "nope"), "No namespace 'nope' is granted"),
    ],
)
def test_command_errors_say_why(acme, args, message):
    with pytest.raises(CommandError, match=message):
        moderate(*args, "--reason", "r")


# --- the admin ---------------------------------------------------------------------


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_grant_from_the_admin(mod_client, acme, moderator):
    assert mod_client.get(ADD).status_code == 200
    response = mod_client.post(
        ADD, {"prefix": "acme", "organization": "Acme", "is_open": "on", "reason": "verified"}
    )
    assert response.status_code == 302
    grant = Namespace.objects.get()
    assert grant.is_open and grant.created_by == moderator
    assert messages_of(response) == ["Granted acme to Acme."]


def test_a_child_grant_from_the_admin(mod_client, acme):
    make_namespace("acme", acme)
    response = mod_client.post(
        ADD, {"prefix": "acme-x", "organization": "Acme", "parent": "acme", "reason": "r"}
    )
    assert response.status_code == 302
    assert Namespace.objects.get(normalized_prefix="acme-x").parent.normalized_prefix == "acme"


def test_an_overlap_is_shown_on_the_form(mod_client, acme):
    make_namespace("acme-cloud", acme)
    response = mod_client.post(ADD, {"prefix": "acme", "organization": "Acme", "reason": "r"})
    assert response.status_code == 200
    assert b"overlaps the granted namespace" in response.content
    assert Namespace.objects.count() == 1


def act(client, action, objects, **form):
    ids = [obj.pk for obj in objects]
    first = client.post(CHANGELIST, {"action": action, "index": 0, ACTION_CHECKBOX_NAME: ids})
    assert b'name="reason"' in first.content
    return client.post(
        CHANGELIST, {"action": action, ACTION_CHECKBOX_NAME: ids, "confirm": "yes", **form}
    )


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        ("make_open", {}, (True, False)),
        ("make_restricted", {"is_open": True}, (False, False)),
        ("hide", {}, (False, True)),
        ("show", {"is_hidden": True}, (False, False)),
    ],
)
def test_admin_actions_change_the_flags(mod_client, acme, action, before, after):
    grant = make_namespace("acme", acme, **before)
    act(mod_client, action, [grant], reason="r")
    grant.refresh_from_db()
    assert (grant.is_open, grant.is_hidden) == after


def test_admin_revoke(mod_client, acme):
    grant = make_namespace("acme", acme)
    assert mod_client.get(CHANGELIST).status_code == 200
    act(mod_client, "revoke", [grant], reason="r")
    assert not Namespace.objects.exists()


def test_staff_cannot_grant(client, staff, acme):
    client.force_login(staff)
    assert client.get(ADD).status_code == 403
    assert (
        client.post(ADD, {"prefix": "acme", "organization": "Acme", "reason": "r"}).status_code
        == 403
    )
    assert not Namespace.objects.exists()


def test_existing_projects_stay_as_they_are(acme):
    project = Project.objects.create(name="acme-old", normalized_name="acme-old")
    namespaces.namespace_grant(prefix="acme", organization=acme, actor=shell(), reason="r")
    project.refresh_from_db()
    assert project.organization is None
