import io

import pytest
from django.core.management import call_command
from django.db.models.signals import post_save

from accounts.events import Actor
from accounts.models import Email, User
from accounts.services import ensure_verified_primary_email, user_has_verified_email

pytestmark = pytest.mark.django_db


def create(monkeypatch, **env):
    for key, value in env.items():
        monkeypatch.setenv(f"DJANGO_SUPERUSER_{key.upper()}", value)
    stderr = io.StringIO()
    call_command("createsuperuser", "--noinput", stdout=io.StringIO(), stderr=stderr)
    return stderr.getvalue()


def test_superuser_gets_a_verified_primary_address(monkeypatch):
    create(monkeypatch, username="admin", email="admin@example.com", password="s3cret-admin-pw")
    user = User.objects.get(username="admin")
    assert user.is_superuser and user.check_password("s3cret-admin-pw")
    email = Email.objects.get(user=user)
    assert (email.email, email.primary, email.verified) == ("admin@example.com", True, True)
    assert email.verified_at is not None
    assert user_has_verified_email(user)
    assert user.events.filter(tag="account:email:verified").exists()


def test_account_without_address_gets_none(owner):
    owner.email = ""
    assert ensure_verified_primary_email(user=owner, actor=Actor.shell()) is None
    assert not Email.objects.filter(user=owner).exists()


def test_address_of_another_account_is_not_taken_over(monkeypatch, outsider):
    Email.objects.create(user=outsider, email="oscar@example.com", primary=True)
    stderr = create(
        monkeypatch, username="admin", email="Oscar@example.com", password="s3cret-admin-pw"
    )
    assert "is already an address of another account" in stderr
    assert not Email.objects.filter(user__username="admin").exists()
    assert not user_has_verified_email(User.objects.get(username="admin"))


def test_only_the_new_account_is_collected(monkeypatch, owner):
    # Another receiver saving an existing account while the command runs must
    # not give that account the new address or a verified one of its own.
    def touch_owner(sender, instance, created, **kwargs):
        if created and instance.username == "admin":
            owner.save()

    post_save.connect(touch_owner, sender=User, weak=False, dispatch_uid="test-touch")
    try:
        create(monkeypatch, username="admin", email="admin@example.com", password="s3cret-pw1")
    finally:
        post_save.disconnect(sender=User, dispatch_uid="test-touch")
    assert not Email.objects.filter(user=owner).exists()
    assert Email.objects.get(user__username="admin").verified
