import re

import pytest
from django.core import mail
from django.db import IntegrityError
from django.urls import reverse

from accounts import services
from accounts.events import Actor
from accounts.models import Email, Event

pytestmark = pytest.mark.django_db

SETTINGS = "/account/settings/"


@pytest.fixture
def primary(owner):
    return Email.objects.create(user=owner, email="olivia@example.com", primary=True, verified=True)


@pytest.fixture
def signed_in(client, owner, primary):
    client.force_login(owner)
    return client


@pytest.fixture
def act(signed_in, django_capture_on_commit_callbacks):
    def post(action, **data):
        with django_capture_on_commit_callbacks(execute=True):
            return signed_in.post(SETTINGS, {"action": action, **data}, follow=True)

    return post


def test_settings_url_and_page(signed_in, primary):
    assert reverse("account-settings") == SETTINGS
    response = signed_in.get(SETTINGS)
    assert "no-cache" in response["Cache-Control"]
    html = response.content.decode()
    assert html.count("<h1") == 1
    assert "olivia@example.com" in html and "Primary" in html
    assert "is not verified" not in html


def test_settings_warns_when_the_primary_address_is_unverified(client, owner):
    Email.objects.create(user=owner, email="olivia@example.com", primary=True)
    client.force_login(owner)
    html = client.get(SETTINGS).content.decode()
    assert "Your primary e-mail address is not verified." in html
    assert "Resend verification" in html


def test_add_verify_and_make_primary(act, signed_in, owner):
    response = act("add", email="Work@Example.com")
    assert "Work@Example.com is added; we sent it a verification link." in response.content.decode()
    added = Email.objects.get(email="Work@Example.com")
    assert (added.user, added.primary, added.verified) == (owner, False, False)
    assert mail.outbox[0].to == ["Work@Example.com"]
    assert Event.objects.filter(tag="account:email:added", user=owner).exists()

    refused = act("primary", email=added.pk)
    assert "Verify Work@Example.com before making it your primary address." in (
        refused.content.decode()
    )

    link = re.search(r"http://testserver(\S+)", mail.outbox[0].body).group(1)
    signed_in.get(link)
    added.refresh_from_db()
    assert added.verified

    response = act("primary", email=added.pk)
    assert "Work@Example.com is now your primary address." in response.content.decode()
    owner.refresh_from_db()
    assert owner.email == "Work@Example.com"
    assert list(owner.emails.filter(primary=True)) == [added]
    event = Event.objects.get(tag="account:email:primary-changed")
    assert event.details == {"old": "olivia@example.com", "new": "Work@Example.com"}


def test_making_the_primary_primary_again_changes_nothing(act, primary):
    act("primary", email=primary.pk)
    assert not Event.objects.filter(tag="account:email:primary-changed").exists()


def test_first_verified_address_can_become_primary_without_a_previous_one(owner):
    email = Email.objects.create(user=owner, email="solo@example.com", verified=True)
    services.email_primary_set(email=email, actor=Actor(owner))
    event = Event.objects.get(tag="account:email:primary-changed")
    assert event.details == {"old": None, "new": "solo@example.com"}


def test_add_refuses_an_address_in_use(act, outsider):
    Email.objects.create(user=outsider, email="oscar@example.com", primary=True)
    response = act("add", email="OSCAR@example.com")
    assert response.context["add_form"].errors["email"] == [
        "That e-mail address is already in use."
    ]
    assert mail.outbox == []


def test_add_refuses_a_malformed_address(act):
    response = act("add", email="not an address")
    html = response.content.decode()
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_email_error"' in html


def test_add_reports_a_concurrent_duplicate(rf, owner, monkeypatch):
    # The check passed, then another request inserted the same address.
    monkeypatch.setattr(services, "_address_taken", lambda address: False)
    Email.objects.create(user=owner, email="dup@example.com")
    with pytest.raises(services.AccountError, match="already in use"):
        services.email_add(
            user=owner, address="DUP@example.com", actor=Actor(owner), request=rf.post("/")
        )


def test_remove_a_secondary_address(act, owner):
    extra = Email.objects.create(user=owner, email="old@example.com")
    response = act("remove", email=extra.pk)
    assert "old@example.com is removed from your account." in response.content.decode()
    assert not Email.objects.filter(pk=extra.pk).exists()
    assert Event.objects.get(tag="account:email:removed").details == {"email": "old@example.com"}


def test_primary_address_cannot_be_removed(act, primary):
    response = act("remove", email=primary.pk)
    assert "is your primary address; make another address primary first." in (
        response.content.decode()
    )
    assert Email.objects.filter(pk=primary.pk).exists()


def test_last_verified_address_cannot_be_removed(client, owner, act):
    Email.objects.filter(user=owner).update(verified=False)
    verified = Email.objects.create(user=owner, email="only@example.com", verified=True)
    response = act("remove", email=verified.pk)
    assert "only@example.com is your only verified address; it cannot be removed." in (
        response.content.decode()
    )
    assert Email.objects.filter(pk=verified.pk).exists()


def test_a_verified_address_can_go_while_another_stays(act, owner):
    extra = Email.objects.create(user=owner, email="extra@example.com", verified=True)
    act("remove", email=extra.pk)
    assert not Email.objects.filter(pk=extra.pk).exists()


def test_resend_refused_for_a_verified_address(act, primary):
    response = act("resend", email=primary.pk)
    assert "olivia@example.com is already verified." in response.content.decode()
    assert mail.outbox == []


@pytest.mark.parametrize(
    "data",
    [{"action": "remove", "email": "x"}, {"action": "explode"}, {"action": "remove"}],
)
def test_malformed_actions_are_bad_requests(signed_in, data):
    assert signed_in.post(SETTINGS, data).status_code == 400


def test_cannot_act_on_someone_elses_address(signed_in, outsider):
    theirs = Email.objects.create(user=outsider, email="oscar@example.com")
    response = signed_in.post(SETTINGS, {"action": "remove", "email": theirs.pk})
    assert response.status_code == 400
    assert Email.objects.filter(pk=theirs.pk).exists()


def test_database_allows_one_primary_per_user(owner, primary):
    with pytest.raises(IntegrityError):
        Email.objects.create(user=owner, email="second@example.com", primary=True)


def test_user_has_verified_email_means_a_verified_primary(owner, outsider, primary):
    Email.objects.create(user=outsider, email="oscar@example.com", primary=True)
    Email.objects.create(user=outsider, email="oscar2@example.com", verified=True)
    assert services.user_has_verified_email(owner)
    assert not services.user_has_verified_email(outsider)
