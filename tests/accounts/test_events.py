import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from accounts.events import Actor, record_event
from accounts.models import Email, Event

pytestmark = pytest.mark.django_db


def request_from(user=None, **meta):
    request = RequestFactory().get("/", **meta)
    request.user = user or AnonymousUser()
    return request


def test_event_takes_actor_ip_and_agent_from_the_request(owner):
    request = request_from(owner, REMOTE_ADDR="192.0.2.1", HTTP_USER_AGENT="x" * 300)
    actor = Actor.from_request(request)
    event = record_event("account:login:success", actor=actor, user=owner, method="password")
    assert (event.actor, event.user, event.ip_address) == (owner, owner, "192.0.2.1")
    assert event.user_agent == "x" * 255
    assert event.details == {"method": "password"}
    assert str(event).startswith("account:login:success at ")


def test_anonymous_request_has_no_actor(owner):
    event = record_event(
        "account:login:failure", actor=Actor.from_request(request_from()), user=owner
    )
    assert event.actor is None
    assert event.ip_address == "127.0.0.1"


def test_event_without_request_keeps_the_project_name(project, owner):
    event = record_event("project:role:added", project=project, actor=Actor(owner), role="Owner")
    assert (event.ip_address, event.user_agent, event.project_name) == (None, "", "Sample.Project")
    project.delete()
    event.refresh_from_db()
    assert event.project is None
    assert event.project_name == "Sample.Project"


def test_an_actor_named_by_the_entry_point_keeps_the_requests_address(owner):
    # The upload: nobody is signed in, the token's holder acts.
    actor = Actor.from_request(request_from(REMOTE_ADDR="192.0.2.9"), user=owner)
    assert (actor.user, actor.ip_address, actor.via) == (owner, "192.0.2.9", "")
    assert Actor.from_request(request_from()).as_user(owner).user == owner


def test_a_shell_actor_has_no_address_and_says_so(owner):
    assert Actor.shell() == Actor(user=None, ip_address=None, user_agent="", via="shell")
    event = record_event("account:frozen", actor=Actor.shell(owner), user=owner)
    assert (event.actor, event.ip_address, event.user_agent) == (owner, None, "")


def test_empty_remote_addr_is_no_ip(owner):
    actor = Actor.from_request(request_from(REMOTE_ADDR=""))
    assert record_event("x", actor=actor, user=owner).ip_address is None


def test_addresses_are_unique_whatever_their_case(owner, outsider):
    from django.db import IntegrityError, transaction

    Email.objects.create(user=owner, email="Olivia@Example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Email.objects.create(user=outsider, email="olivia@example.COM")
    assert str(Email.objects.get()) == "Olivia@Example.com"
    assert Event.objects.count() == 0
