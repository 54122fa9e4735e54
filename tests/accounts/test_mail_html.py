"""Mails go out as plain text with an HTML alternative when the template has
an HTML twin."""

import re

from django.core import mail

from accounts.services import send_templated_mail


def _html(message) -> str:
    ((body, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    return body


def test_verification_mail_has_an_html_twin_with_the_same_link(
    client, db, settings, django_capture_on_commit_callbacks
):
    settings.SITE_NAME = "Acme Packages"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/account/register/",
            {
                "username": "hana",
                "email": "hana@example.com",
                "password1": "a long enough passphrase",
                "password2": "a long enough passphrase",
            },
        )
    (message,) = mail.outbox
    link = re.search(r"http://testserver\S+", message.body).group(0)
    html = _html(message)
    assert f'href="{link.replace("&", "&amp;")}"' in html
    assert "Verify hana@example.com" in html
    assert "Acme Packages" in html


def test_html_twin_escapes_what_the_context_brings(db):
    send_templated_mail(
        subject_template="accounts/email/token_leaked_subject.txt",
        body_template="accounts/email/token_leaked.txt",
        context={
            "user": {"username": "mallory"},
            "description": "<script>alert(1)</script>",
            "prefix": "pypi-0123",
            "url": "https://example.com/leak?a=1&b=2",
            "source": "github",
            "tokens_url": "https://index.example/manage/account/tokens/",
        },
        to="mallory@example.com",
        failure="unused",
    )
    (message,) = mail.outbox
    # The plain text keeps what was given; the HTML escapes it.
    assert "<script>alert(1)</script>" in message.body
    html = _html(message)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "https://example.com/leak?a=1&amp;b=2" in html
    assert 'href="https://index.example/manage/account/tokens/"' in html


def test_mail_without_an_html_twin_is_plain_text_only(db, tmp_path, settings):
    (tmp_path / "plain.txt").write_text("Just text.")
    (tmp_path / "plain_subject.txt").write_text("Subject")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    send_templated_mail(
        subject_template="plain_subject.txt",
        body_template="plain.txt",
        context={},
        to="someone@example.com",
        failure="unused",
    )
    (message,) = mail.outbox
    assert message.body == "Just text."
    assert message.alternatives == []


def test_password_reset_mail_has_an_html_twin_with_the_same_link(client, db):
    from accounts.models import Email, User

    user = User.objects.create_user("ines", "ines@example.com", "old passphrase here")
    Email.objects.create(user=user, email="ines@example.com", primary=True, verified=True)
    client.post("/account/password/reset/", {"email": "ines@example.com"})
    (message,) = mail.outbox
    link = re.search(r"http://testserver/account/password/reset/\S+", message.body).group(0)
    html = _html(message)
    assert f'href="{link}"' in html
    assert "Reset the password of ines" in html
