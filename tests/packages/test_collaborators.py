import re
import threading
import time
from datetime import timedelta

import pytest
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from accounts.events import Actor
from accounts.models import Email, Event, User
from packages import policy
from packages.collaborators import (
    CollaboratorError,
    InvitationLinkError,
    invitation_accept,
    invitation_create,
    invitation_decline,
    invitation_from_token,
    invitation_revoke,
    invitation_token,
    role_change,
    role_remove,
)
from packages.models import Project, Role, RoleInvitation
from tests.conftest import verified_user

pytestmark = pytest.mark.django_db

IP = "198.51.100.4"


@pytest.fixture
def rf_request(owner):
    request = RequestFactory().post("/", REMOTE_ADDR=IP, HTTP_USER_AGENT="pytest")
    request.user = owner
    return request


@pytest.fixture
def invited(project, owner, outsider, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return invitation_create(
            project=project, username="oscar", role_name=Role.Name.MAINTAINER, actor=Actor(owner)
        )


def last_event() -> Event:
    return Event.objects.latest("id")


def mailed_token(body: str, prefix: str) -> str:
    # The token is signed with a timestamp: read it from the mail, never recompute it.
    assert prefix in body
    return body.split(prefix, 1)[1].split()[0]


def role_of(user, project):
    return (
        Role.objects.filter(user=user, project=project).values_list("role_name", flat=True).first()
    )


# --- invitation_create ------------------------------------------------------------------------


def test_invite_creates_an_expiring_invitation(project, owner, outsider, settings):
    settings.ROLE_INVITATION_MAX_AGE = 3600
    before = timezone.now()
    invitation = invitation_create(
        project=project, username="oscar", role_name="Owner", actor=Actor(owner)
    )
    assert invitation.user == outsider
    assert invitation.role_name == "Owner"
    assert invitation.invited_by == owner
    assert before + timedelta(seconds=3600) <= invitation.expires_at
    assert invitation.expires_at <= timezone.now() + timedelta(seconds=3600)


def test_invite_mails_a_signed_link_after_commit(
    project, owner, outsider, rf_request, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitation = invitation_create(
            project=project,
            username="oscar",
            role_name="Maintainer",
            actor=Actor.from_request(rf_request),
            request=rf_request,
        )
    assert mailoutbox == []
    for callback in callbacks:
        callback()
    (mail,) = mailoutbox
    assert mail.to == ["oscar@example.com"]
    assert "Sample.Project" in mail.subject
    assert "Maintainer" in mail.subject
    assert "olivia" in mail.body
    token = mailed_token(mail.body, "http://testserver/manage/invitation/?token=")
    assert invitation_from_token(token, outsider) == invitation


def test_the_html_mail_carries_the_same_link(invited, owner):
    # send_templated_mail attaches <body>.html as the HTML alternative.
    link = "https://index.example/manage/invitation/?token=a&b"
    html = render_to_string(
        "manage/email/invitation_body.html",
        {
            "invitation": invited,
            "project": invited.project,
            "invitee": invited.user,
            "inviter": owner,
            "link": link,
            "hours": 72,
            "site_name": "Index",
        },
    )
    assert '<a href="https://index.example/manage/invitation/?token=a&amp;b">' in html
    assert "<strong>Maintainer</strong>" in html
    assert "within 72 hours" in html


def test_invite_without_request_mails_a_relative_link(invited, mailoutbox):
    (mail,) = mailoutbox
    token = mailed_token(mail.body, "\n/manage/invitation/?token=")
    assert invitation_from_token(token, invited.user) == invited


def test_invite_records_an_event_with_actor_and_ip(project, owner, outsider, rf_request):
    invitation_create(
        project=project,
        username="oscar",
        role_name="Maintainer",
        actor=Actor.from_request(rf_request),
        request=rf_request,
    )
    event = last_event()
    assert event.tag == "project:role:invited"
    assert (event.project, event.user, event.actor) == (project, outsider, owner)
    assert event.ip_address == IP
    assert event.details == {"role": "Maintainer"}


def test_only_owners_may_invite(project, maintainer, outsider):
    with pytest.raises(PermissionDenied):
        invitation_create(
            project=project, username="oscar", role_name="Maintainer", actor=Actor(maintainer)
        )
    assert not RoleInvitation.objects.exists()


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("nobody", "There is no user named 'nobody'."),
        ("max", "max already has a role on Sample.Project."),
    ],
)
def test_invite_refuses_unknown_users_and_collaborators(project, owner, username, message):
    with pytest.raises(CollaboratorError, match=re.escape(message)) as caught:
        invitation_create(
            project=project, username=username, role_name="Maintainer", actor=Actor(owner)
        )
    assert caught.value.field == "username"


def test_invite_refuses_a_deactivated_user(project, owner, outsider):
    outsider.is_active = False
    outsider.save()
    with pytest.raises(CollaboratorError, match="no user named"):
        invitation_create(
            project=project, username="oscar", role_name="Maintainer", actor=Actor(owner)
        )


def test_invite_refuses_an_unknown_role(project, owner, outsider):
    with pytest.raises(CollaboratorError, match="Choose Owner or Maintainer") as caught:
        invitation_create(project=project, username="oscar", role_name="Admin", actor=Actor(owner))
    assert caught.value.field == "role_name"


def test_invite_says_when_already_invited(project, owner, invited):
    with pytest.raises(CollaboratorError, match="oscar has already been invited"):
        invitation_create(project=project, username="oscar", role_name="Owner", actor=Actor(owner))
    assert RoleInvitation.objects.get().role_name == "Maintainer"


def test_an_expired_invitation_is_replaced(project, owner, invited):
    RoleInvitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    again = invitation_create(
        project=project, username="oscar", role_name="Owner", actor=Actor(owner)
    )
    assert list(RoleInvitation.objects.all()) == [again]
    assert again.pk != invited.pk


@pytest.mark.parametrize("change", ["unverified", "not primary", "none"])
def test_invite_needs_a_verified_primary_address(project, owner, outsider, change):
    if change == "unverified":
        Email.objects.filter(user=outsider).update(verified=False)
    elif change == "not primary":
        Email.objects.filter(user=outsider).update(primary=False)
    else:
        Email.objects.filter(user=outsider).delete()
    with pytest.raises(CollaboratorError, match="no verified e-mail address"):
        invitation_create(
            project=project, username="oscar", role_name="Maintainer", actor=Actor(owner)
        )
    assert not RoleInvitation.objects.exists()


def test_invite_to_a_deleted_project(project, owner, outsider):
    stale = Project.objects.get(pk=project.pk)
    project.delete()
    with pytest.raises(CollaboratorError, match=r"Project Sample\.Project no longer exists"):
        invitation_create(
            project=stale, username="oscar", role_name="Maintainer", actor=Actor(owner)
        )


# --- the link ------------------------------------------------------------------------


def test_the_link_finds_the_invitation_for_its_invitee(invited, outsider):
    assert invitation_from_token(invitation_token(invited), outsider) == invited


def test_a_tampered_link_is_refused(invited, outsider):
    with pytest.raises(InvitationLinkError, match="not valid") as caught:
        invitation_from_token(invitation_token(invited) + "x", outsider)
    assert caught.value.status == 400


def test_a_link_signed_for_another_purpose_is_refused(invited, outsider):
    token = signing.dumps({"id": invited.pk, "user": outsider.pk}, salt="accounts.verify-email")
    with pytest.raises(InvitationLinkError) as caught:
        invitation_from_token(token, outsider)
    assert caught.value.status == 400


def test_a_link_for_another_user_is_refused(invited, maintainer):
    with pytest.raises(InvitationLinkError, match="another account") as caught:
        invitation_from_token(invitation_token(invited), maintainer)
    assert caught.value.status == 403


def test_an_old_signature_is_expired(invited, outsider, settings):
    token = invitation_token(invited)
    settings.ROLE_INVITATION_MAX_AGE = -1
    with pytest.raises(InvitationLinkError, match="expired") as caught:
        invitation_from_token(token, outsider)
    assert caught.value.status == 410


def test_an_invitation_past_its_expiry_is_expired(invited, outsider):
    RoleInvitation.objects.update(expires_at=timezone.now())
    with pytest.raises(InvitationLinkError, match="expired") as caught:
        invitation_from_token(invitation_token(invited), outsider)
    assert caught.value.status == 410


def test_a_used_link_is_refused(invited, outsider):
    token = invitation_token(invited)
    invitation_accept(invitation=invited, actor=Actor(outsider))
    with pytest.raises(InvitationLinkError, match="no longer valid") as caught:
        invitation_from_token(token, outsider)
    assert caught.value.status == 410


def test_a_link_to_a_revoked_invitation_stays_dead_after_a_new_invite(
    project, owner, invited, outsider
):
    token = invitation_token(invited)
    invitation_revoke(invitation=invited, actor=Actor(owner))
    invitation_create(project=project, username="oscar", role_name="Owner", actor=Actor(owner))
    with pytest.raises(InvitationLinkError, match="no longer valid"):
        invitation_from_token(token, outsider)


# --- accept, decline, revoke --------------------------------------------------------


def test_accept_creates_the_role_and_uses_up_the_invitation(project, invited, outsider):
    request = RequestFactory().post("/", REMOTE_ADDR=IP)
    request.user = outsider
    role = invitation_accept(invitation=invited, actor=Actor.from_request(request))
    assert (role.project, role.user, role.role_name) == (project, outsider, "Maintainer")
    assert not RoleInvitation.objects.exists()
    event = last_event()
    assert event.tag == "project:role:added"
    assert (event.project, event.user, event.actor, event.ip_address) == (
        project,
        outsider,
        outsider,
        IP,
    )
    assert event.details == {"role": "Maintainer", "invited_by": "olivia"}


def test_accept_after_the_inviter_is_gone(project, owner, invited, outsider):
    RoleInvitation.objects.update(invited_by=None)
    invited.refresh_from_db()
    invitation_accept(invitation=invited, actor=Actor(outsider))
    assert last_event().details["invited_by"] is None


def test_only_the_invitee_may_answer(invited, maintainer):
    for answer in (invitation_accept, invitation_decline):
        with pytest.raises(PermissionDenied):
            answer(invitation=invited, actor=Actor(maintainer))
    assert RoleInvitation.objects.exists()


@pytest.mark.parametrize("answer", [invitation_accept, invitation_decline])
def test_an_expired_invitation_cannot_be_answered(project, invited, outsider, answer):
    RoleInvitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(CollaboratorError, match="expired"):
        answer(invitation=invited, actor=Actor(outsider))
    assert role_of(outsider, project) is None


@pytest.mark.parametrize("answer", [invitation_accept, invitation_decline])
def test_an_answered_invitation_cannot_be_answered_again(invited, outsider, answer):
    invitation_decline(invitation=invited, actor=Actor(outsider))
    with pytest.raises(CollaboratorError, match="no longer valid"):
        answer(invitation=invited, actor=Actor(outsider))


def test_accept_when_a_role_appeared_meanwhile(project, invited, outsider):
    Role.objects.create(project=project, user=outsider, role_name="Owner")
    with pytest.raises(CollaboratorError, match="already have a role"):
        invitation_accept(invitation=invited, actor=Actor(outsider))
    assert role_of(outsider, project) == "Owner"
    assert not RoleInvitation.objects.exists()


def test_decline_deletes_the_invitation_and_records_it(project, invited, outsider):
    invitation_decline(invitation=invited, actor=Actor(outsider))
    assert not RoleInvitation.objects.exists()
    assert role_of(outsider, project) is None
    event = last_event()
    assert (event.tag, event.user, event.actor) == ("project:role:declined", outsider, outsider)


def test_revoke_deletes_the_invitation_and_records_it(
    project, owner, invited, outsider, rf_request
):
    invitation_revoke(invitation=invited, actor=Actor.from_request(rf_request))
    assert not RoleInvitation.objects.exists()
    event = last_event()
    assert event.tag == "project:role:invitation-revoked"
    assert (event.project, event.user, event.actor, event.ip_address) == (
        project,
        outsider,
        owner,
        IP,
    )


def test_revoke_twice(owner, invited):
    invitation_revoke(invitation=invited, actor=Actor(owner))
    with pytest.raises(CollaboratorError, match="already accepted, declined or revoked"):
        invitation_revoke(invitation=invited, actor=Actor(owner))


def test_only_owners_may_revoke(maintainer, invited):
    with pytest.raises(PermissionDenied):
        invitation_revoke(invitation=invited, actor=Actor(maintainer))
    assert RoleInvitation.objects.exists()


# --- role_change ---------------------------------------------------------------------


def test_owner_promotes_a_maintainer(project, owner, maintainer, rf_request):
    role_change(
        project=project, user=maintainer, role_name="Owner", actor=Actor.from_request(rf_request)
    )
    assert role_of(maintainer, project) == "Owner"
    event = last_event()
    assert event.tag == "project:role:changed"
    assert (event.user, event.actor, event.ip_address) == (maintainer, owner, IP)
    assert event.details == {"old_role": "Maintainer", "role": "Owner"}


def test_an_owner_may_be_demoted_while_another_remains(project, owner, maintainer):
    role_change(project=project, user=maintainer, role_name="Owner", actor=Actor(owner))
    role_change(project=project, user=owner, role_name="Maintainer", actor=Actor(maintainer))
    assert role_of(owner, project) == "Maintainer"


def test_the_last_owner_cannot_be_demoted(project, owner):
    with pytest.raises(CollaboratorError, match="last Owner"):
        role_change(project=project, user=owner, role_name="Maintainer", actor=Actor(owner))
    assert role_of(owner, project) == "Owner"


def test_change_to_the_same_role(project, owner, maintainer):
    with pytest.raises(CollaboratorError, match="already is Maintainer"):
        role_change(project=project, user=maintainer, role_name="Maintainer", actor=Actor(owner))


def test_change_role_of_a_user_without_role(project, owner, outsider):
    with pytest.raises(CollaboratorError, match="oscar has no role"):
        role_change(project=project, user=outsider, role_name="Owner", actor=Actor(owner))
    assert role_of(outsider, project) is None


def test_change_role_to_an_unknown_role(project, owner, maintainer):
    with pytest.raises(CollaboratorError, match="Choose Owner or Maintainer"):
        role_change(project=project, user=maintainer, role_name="God", actor=Actor(owner))


@pytest.mark.parametrize("who", ["maintainer", "outsider"])
def test_only_owners_change_roles(request, project, maintainer, who):
    with pytest.raises(PermissionDenied):
        role_change(
            project=project,
            user=maintainer,
            role_name="Owner",
            actor=Actor(request.getfixturevalue(who)),
        )
    assert role_of(maintainer, project) == "Maintainer"


# --- role_remove ---------------------------------------------------------------------


def test_owner_removes_a_maintainer(project, owner, maintainer, rf_request):
    role_remove(project=project, user=maintainer, actor=Actor.from_request(rf_request))
    assert role_of(maintainer, project) is None
    event = last_event()
    assert (event.tag, event.user, event.actor, event.ip_address) == (
        "project:role:removed",
        maintainer,
        owner,
        IP,
    )
    assert event.details == {"role": "Maintainer"}


def test_a_maintainer_may_leave(project, maintainer):
    role_remove(project=project, user=maintainer, actor=Actor(maintainer))
    assert role_of(maintainer, project) is None
    assert last_event().actor == maintainer


@pytest.mark.parametrize("who", ["maintainer", "outsider"])
def test_others_may_not_remove_anyone(request, project, owner, maintainer, who):
    actor = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        role_remove(project=project, user=owner, actor=Actor(actor))
    assert role_of(owner, project) == "Owner"


def test_nobody_removes_without_an_actor(project, maintainer):
    with pytest.raises(PermissionDenied):
        role_remove(project=project, user=maintainer, actor=Actor(None))


@pytest.mark.parametrize("actor", ["self", "other owner"])
def test_the_last_owner_can_be_neither_removed_nor_leave(project, owner, maintainer, actor):
    if actor == "other owner":
        # The first Owner hands over and leaves; the new one is then the last.
        role_change(project=project, user=maintainer, role_name="Owner", actor=Actor(owner))
        role_remove(project=project, user=owner, actor=Actor(maintainer))
        last, by = maintainer, maintainer
    else:
        last, by = owner, owner
    with pytest.raises(CollaboratorError, match="last Owner"):
        role_remove(project=project, user=last, actor=Actor(by))
    assert role_of(last, project) == "Owner"


def test_remove_a_user_without_role(project, owner, outsider):
    with pytest.raises(CollaboratorError, match="oscar has no role"):
        role_remove(project=project, user=outsider, actor=Actor(owner))


def test_one_of_two_owners_may_leave(project, owner, maintainer):
    role_change(project=project, user=maintainer, role_name="Owner", actor=Actor(owner))
    role_remove(project=project, user=owner, actor=Actor(owner))
    assert list(Role.objects.filter(project=project).values_list("user__username", flat=True)) == [
        "max"
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    "postgresql" not in __import__("os").environ.get("DATABASE_URL", ""),
    reason="row locks need a database server with concurrent connections",
)
def test_two_owners_leaving_at_once_leave_one_owner(monkeypatch):
    """Both would see two Owners if they counted before either committed; the
    lock on the project row makes the second wait for the first and count again."""
    alice = verified_user("alice")
    bob = verified_user("bob")
    project = Project.objects.create(name="race", normalized_name="race")
    Role.objects.create(project=project, user=alice, role_name="Owner")
    Role.objects.create(project=project, user=bob, role_name="Owner")
    count = policy.leaves_no_owner

    def slow_count(role):
        result = count(role)
        time.sleep(0.5)  # both would have counted by now, were they not serialized
        return result

    monkeypatch.setattr(policy, "leaves_no_owner", slow_count)
    outcomes = []

    def leave(user):
        try:
            role_remove(project=project, user=user, actor=Actor(user))
            outcomes.append("removed")
        except CollaboratorError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=leave, args=(alice,)),
        threading.Thread(target=leave, args=(bob,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "removed"]
    assert Role.objects.filter(project=project, role_name="Owner").count() == 1
    User.objects.all().delete()


def test_role_changes_get_a_journal_serial_as_on_the_public_index(
    project, owner, maintainer, invited, outsider, rf_request
):
    from packages.models import JournalEntry

    before = JournalEntry.objects.count()
    invitation_accept(invitation=invited, actor=Actor(outsider))
    role_change(
        project=project,
        user=maintainer,
        role_name=Role.Name.OWNER,
        actor=Actor.from_request(rf_request),
    )
    role_remove(project=project, user=outsider, actor=Actor.from_request(rf_request))
    entries = list(JournalEntry.objects.order_by("id")[before:])
    assert [entry.action for entry in entries] == [
        "accepted Maintainer oscar",
        "change Maintainer max to Owner",
        "remove Maintainer oscar",
    ]
    assert [entry.submitted_by for entry in entries] == [outsider, owner, owner]
    assert entries[1].ip_address == IP
    project.refresh_from_db()
    assert project.last_serial == entries[-1].id


def test_refused_role_changes_write_no_journal_entry(project, owner):
    from packages.models import JournalEntry

    before = JournalEntry.objects.count()
    with pytest.raises(CollaboratorError):
        role_remove(project=project, user=owner, actor=Actor(owner))
    assert JournalEntry.objects.count() == before
