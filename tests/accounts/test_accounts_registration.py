import re
import time
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core import mail, signing
from django.urls import reverse

from accounts import services
from accounts.events import Actor
from accounts.models import Email, Event, User

pytestmark = pytest.mark.django_db

PASSWORD = "a long and unusual passphrase"


def verification_link(message) -> str:
    match = re.search(r"https?://\S+/account/verify-email/\?token=\S+", message.body)
    assert match, message.body
    return match.group(0)


def path_of(link: str) -> str:
    return link.removeprefix("http://testserver")


@pytest.fixture
def register(client, django_capture_on_commit_callbacks):
    def post(username="newbie", email="newbie@example.com", password=PASSWORD, **extra):
        data = {"username": username, "email": email, "password1": password}
        data["password2"] = extra.pop("password2", password)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("register"), data)

    return post


def test_registration_page_renders_an_accessible_form(client):
    response = client.get(reverse("register"))
    assert response.status_code == 200
    assert "private" in response["Cache-Control"]  # carries a CSRF token
    html = response.content.decode()
    assert html.count("<h1") == 1
    assert '<label for="id_email"' in html
    assert 'href="/static/css/accounts.css"' in html


def test_register_creates_an_unverified_account_logs_in_and_mails_a_link(client, register):
    response = register()
    assert response.status_code == 302
    assert response["Location"] == reverse("account-settings")
    user = User.objects.get(username="newbie")
    assert user.check_password(PASSWORD)
    assert user.password.startswith("md5$")  # the tests' fast hasher; Argon2 in settings
    email = Email.objects.get(user=user)
    assert (email.email, email.primary, email.verified) == ("newbie@example.com", True, False)
    assert not services.user_has_verified_email(user)
    assert Event.objects.filter(user=user, tag="account:registered").exists()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["newbie@example.com"]
    assert message.subject == "Verify your e-mail address for newbie"
    assert "within 24 hours" in message.body
    page = client.get(reverse("account-settings"))
    assert page.context["user"] == user
    assert "We sent a verification link to newbie@example.com" in page.content.decode()


def test_following_the_link_verifies_the_address(client, register):
    register()
    link = verification_link(mail.outbox[0])
    response = client.get(path_of(link), follow=True)
    assert response.redirect_chain[-1][0] == reverse("account-settings")
    assert "newbie@example.com is verified." in response.content.decode()
    email = Email.objects.get(email="newbie@example.com")
    assert email.verified and email.verified_at is not None
    assert services.user_has_verified_email(email.user)
    event = Event.objects.get(tag="account:email:verified")
    assert event.user == email.user


def test_link_works_without_being_signed_in_and_then_offers_login(client, register):
    register()
    client.logout()
    response = client.get(path_of(verification_link(mail.outbox[0])), follow=True)
    assert response.redirect_chain[-1][0] == reverse("login")
    assert "newbie@example.com is verified." in response.content.decode()
    assert Email.objects.get(email="newbie@example.com").verified


def test_reused_link_says_already_verified(client, register):
    register()
    link = path_of(verification_link(mail.outbox[0]))
    client.get(link)
    response = client.get(link, follow=True)
    assert "newbie@example.com is already verified." in response.content.decode()
    assert Event.objects.filter(tag="account:email:verified").count() == 1


def travel(monkeypatch, seconds: float) -> None:
    """Move the clock the signing module reads (and only that one) forward."""
    now = time.time()
    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: now + seconds))


def test_expired_link_says_so_and_offers_a_new_one(client, register, settings, monkeypatch):
    register()
    link = path_of(verification_link(mail.outbox[0]))
    travel(monkeypatch, settings.EMAIL_VERIFICATION_MAX_AGE + 5)
    response = client.get(link)
    assert response.status_code == 400
    html = response.content.decode()
    assert "This verification link has expired." in html
    assert "Send a new link to newbie@example.com" in html
    assert not Email.objects.get(email="newbie@example.com").verified


def test_expired_link_offers_no_resend_button_to_someone_else(client, register, monkeypatch):
    register()
    link = path_of(verification_link(mail.outbox[0]))
    client.logout()
    travel(monkeypatch, 2 * 86400)
    html = client.get(link).content.decode()
    assert "This verification link has expired." in html
    assert "Send a new link" not in html
    assert "Log in</a> to ask for a new link" in html


def test_expired_link_of_an_address_verified_meanwhile_says_already_verified(
    client, register, monkeypatch
):
    register()
    first = path_of(verification_link(mail.outbox[0]))
    client.get(first)
    travel(monkeypatch, 2 * 86400)
    response = client.get(first, follow=True)
    assert "newbie@example.com is already verified." in response.content.decode()


def test_resend_from_the_expired_page_mails_a_working_link(
    client, register, monkeypatch, django_capture_on_commit_callbacks
):
    register()
    email = Email.objects.get(email="newbie@example.com")
    travel(monkeypatch, 2 * 86400)
    assert client.get(path_of(verification_link(mail.outbox[0]))).status_code == 400
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("account-settings"), {"action": "resend", "email": email.pk}, follow=True
        )
    assert "We sent a new verification link to newbie@example.com." in response.content.decode()
    assert len(mail.outbox) == 2
    client.get(path_of(verification_link(mail.outbox[1])))
    email.refresh_from_db()
    assert email.verified


@pytest.mark.parametrize("token", ["", "garbage", "eyJpZCI6MX0:1abc:forged"])
def test_tampered_link_is_refused(client, token, owner):
    response = client.get(reverse("verify-email"), {"token": token})
    assert response.status_code == 400
    assert "This verification link is not valid." in response.content.decode()


def test_link_for_a_removed_address_is_refused(client, register):
    register()
    link = path_of(verification_link(mail.outbox[0]))
    Email.objects.filter(email="newbie@example.com").delete()
    response = client.get(link)
    assert response.status_code == 400
    assert "no longer on any account" in response.content.decode()


def test_registration_refuses_an_address_in_use_in_any_case(register, owner):
    Email.objects.create(user=owner, email="Olivia@Example.com", primary=True)
    response = register(email="olivia@EXAMPLE.com")
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["That e-mail address is already in use."]
    assert not User.objects.filter(username="newbie").exists()
    assert mail.outbox == []


def test_registration_applies_the_password_validators(register):
    response = register(password="newbie12")
    errors = response.context["form"].errors["password2"]
    assert any("too similar" in error or "too short" in error for error in errors)
    assert not User.objects.filter(username="newbie").exists()


def test_registration_requires_an_email(register):
    response = register(email="")
    assert "email" in response.context["form"].errors


def test_error_is_tied_to_its_field_for_screen_readers(register):
    html = register(password2="something else entirely").content.decode()
    assert 'aria-describedby="id_password2_helptext id_password2_error"' in html
    assert 'id="id_password2_error"' in html


def test_signed_in_user_is_sent_from_register_to_settings(client, owner):
    client.force_login(owner)
    response = client.get(reverse("register"))
    assert response["Location"] == reverse("account-settings")


def test_register_user_reports_a_concurrent_duplicate(rf, owner):
    request = rf.post("/")
    request.user = AnonymousUser()
    # The form's checks passed, then another request took the username.
    with pytest.raises(services.AccountError, match="already in use"):
        services.user_register(
            username="olivia",
            email="fresh@example.com",
            password=PASSWORD,
            actor=Actor.from_request(request),
            request=request,
        )
    assert not Email.objects.filter(email="fresh@example.com").exists()


def test_mail_failure_is_logged_not_raised(
    register, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broken(*args, **kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr(services.EmailMultiAlternatives, "send", broken)
    response = register()
    assert response.status_code == 302
    assert User.objects.filter(username="newbie").exists()
    assert "Could not send accounts/email/verify_email_body.txt" in caplog.text
