"""The admin's event list filters by kind, each kind covering its tags."""

import pyotp
import pytest

from accounts.events import SYSTEM, record_event
from accounts.models import User

pytestmark = pytest.mark.django_db

TAGS = [
    "account:login:success",
    "account:token:created",
    "account:two-factor:totp-added",
    "account:email:added",
    "account:frozen",
    "account:unfrozen",
    "project:created",
]


@pytest.fixture
def admin_client(client, owner):
    user = User.objects.create_superuser(
        "ada", "ada@example.com", "correct horse battery", totp_secret=pyotp.random_base32()
    )
    for tag in TAGS:
        record_event(tag, actor=SYSTEM, user=owner)
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("kind", "tags"),
    [
        ("account:login", {"account:login:success"}),
        ("account:token", {"account:token:created"}),
        ("account:two-factor", {"account:two-factor:totp-added"}),
        ("account:email", {"account:email:added"}),
        ("account:frozen", {"account:frozen", "account:unfrozen"}),
        ("project:", {"project:created"}),
    ],
)
def test_each_kind_lists_its_events(admin_client, kind, tags):
    response = admin_client.get("/admin/accounts/event/", {"kind": kind})
    listed = {event.tag for event in response.context["cl"].result_list}
    # Some kinds also catch the admin's own sign-in event; only these tags matter.
    assert listed & set(TAGS) == tags


def test_an_unknown_kind_lists_everything(admin_client):
    response = admin_client.get("/admin/accounts/event/", {"kind": "nonsense"})
    listed = {event.tag for event in response.context["cl"].result_list}
    assert set(TAGS) <= listed
