import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Email, Event

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another long passphrase here"


@pytest.fixture
def verified(owner):
    return Email.objects.create(user=owner, email="olivia@example.com", primary=True, verified=True)


def reset_link(message) -> str:
    match = re.search(r"http://testserver(/account/password/reset/\S+/\S+/)", message.body)
    assert match, message.body
    return match.group(1)


def ask_reset(client, address):
    return client.post(reverse("password-reset"), {"email": address})


def test_reset_form_renders(client):
    response = client.get(reverse("password-reset"))
    assert response.status_code == 200
    assert '<label for="id_email"' in response.content.decode()


def test_reset_mails_a_verified_address_and_the_link_sets_a_password(client, owner, verified):
    response = ask_reset(client, "OLIVIA@example.com")
    assert response["Location"] == reverse("password-reset-done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["olivia@example.com"]
    assert message.subject == "Reset your password on testserver"
    link = reset_link(message)
    form_page = client.get(link, follow=True)
    assert form_page.context["validlink"]
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response["Location"] == reverse("password-reset-complete")
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    event = Event.objects.get(tag="account:password:reset")
    assert event.user == owner
    done = client.get(reverse("password-reset-complete"))
    assert "Your password is reset" in done.content.decode()
    # The link works once.
    again = client.get(link, follow=True)
    assert not again.context["validlink"]
    assert "This reset link is not valid" in again.content.decode()


def test_reset_goes_to_the_verified_secondary_address_asked_for(client, owner, verified):
    Email.objects.create(user=owner, email="work@example.com", verified=True)
    ask_reset(client, "work@example.com")
    assert [message.to for message in mail.outbox] == [["work@example.com"]]
    link = reset_link(mail.outbox[0])
    # The token is still valid: the stored User.email was left alone.
    assert client.get(link, follow=True).context["validlink"]


def test_reset_is_not_mailed_to_an_unverified_address(client, owner):
    Email.objects.create(user=owner, email="olivia@example.com", primary=True)
    response = ask_reset(client, "olivia@example.com")
    assert response["Location"] == reverse("password-reset-done")
    assert mail.outbox == []


def test_reset_skips_accounts_that_cannot_use_a_password(client, owner, verified):
    owner.set_unusable_password()
    owner.save()
    ask_reset(client, "olivia@example.com")
    assert mail.outbox == []


def test_unknown_address_gets_the_same_answer(client, owner, verified):
    known = ask_reset(client, "olivia@example.com")
    unknown = ask_reset(client, "nobody@example.com")
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert len(mail.outbox) == 1
    page = client.get(unknown["Location"]).content.decode()
    assert "If that address is a verified address of an account" in page


def test_password_change_needs_the_old_password_and_records_an_event(client, owner):
    client.force_login(owner)
    page = client.get(reverse("password-change"))
    assert "no-cache" in page["Cache-Control"]
    refused = client.post(
        reverse("password-change"),
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert "old_password" in refused.context["form"].errors
    response = client.post(
        reverse("password-change"),
        {
            "old_password": "correct horse battery",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("account-settings")
    assert "Your password is changed." in response.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    # Still signed in: Django rotates the session hash on change.
    assert response.context["user"] == owner
    assert Event.objects.filter(tag="account:password:changed", user=owner).count() == 1
