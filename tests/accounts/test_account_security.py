import pytest
from django.urls import reverse

from accounts.events import SYSTEM, Actor, record_event
from accounts.models import Event
from accounts.views.accounts import EVENTS_PER_PAGE

pytestmark = pytest.mark.django_db


def test_history_shows_own_events_newest_first_in_plain_words(client, owner, outsider):
    record_event("account:password:changed", actor=SYSTEM, user=owner)
    record_event("account:two-factor:webauthn-added", actor=SYSTEM, user=owner, label="blue key")
    record_event("account:token:leaked", user=owner, actor=Actor(outsider))
    record_event("account:something:new", actor=SYSTEM, user=owner)
    record_event("account:password:changed", actor=SYSTEM, user=outsider)
    client.force_login(owner)  # records a sign-in too
    response = client.get(reverse("account-security"), REMOTE_ADDR="192.0.2.3")
    html = response.content.decode()
    assert response.status_code == 200
    assert "private" in response["Cache-Control"]
    assert html.count("<tr>") == 1 + 5  # header + olivia's five events
    assert html.index("Signed in") < html.index("account:something:new")
    assert html.index("account:something:new") < html.index("Password changed")
    assert "Security key added: “blue key”" in html
    assert "(by oscar)" in html
    assert "unknown" in html  # events recorded without a request have no IP


def test_history_names_the_token_the_upload_and_the_address(client, owner):
    record_event(
        "account:token:used",
        actor=SYSTEM,
        user=owner,
        token="pypi-0123abcd",
        uploaded_to="Sample.Project",
        filename="sample_project-1.0-py3-none-any.whl",
    )
    record_event("account:email:added", actor=SYSTEM, user=owner, email="work@example.com")
    client.force_login(owner)
    html = client.get(reverse("account-security")).content.decode()
    assert (
        "API token used to upload <code>pypi-0123abcd…</code> to Sample.Project "
        "(sample_project-1.0-py3-none-any.whl)" in html
    )
    assert "E-mail address added: work@example.com" in html


def test_history_is_paginated(client, owner):
    for _ in range(EVENTS_PER_PAGE + 1):
        record_event("account:password:changed", actor=SYSTEM, user=owner)
    client.force_login(owner)
    first = client.get(reverse("account-security")).content.decode()
    assert first.count("<tr>") == 1 + EVENTS_PER_PAGE
    assert 'href="?page=2" rel="next"' in first and "Page 1 of 2" in first
    second = client.get(reverse("account-security") + "?page=2").content.decode()
    assert second.count("<tr>") == 1 + 2
    assert 'href="?page=1" rel="prev"' in second and 'rel="next"' not in second


def test_empty_history(client, owner):
    client.force_login(owner)
    Event.objects.all().delete()
    html = client.get(reverse("account-security")).content.decode()
    assert "Nothing recorded yet." in html


def test_every_account_event_the_code_records_has_plain_words():
    """A tag recorded anywhere in the code but missing here would show raw."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    recorded = set()
    for app in ("accounts", "packages", "moderation"):
        for source in (root / app).rglob("*.py"):
            recorded |= set(re.findall(r'"(account:[a-z-]+(?::[a-z-]+)*)"', source.read_text()))
    recorded.discard("account:something:new")
    # Prefixes ("account:email", for filtering) are not tags.
    recorded = {tag for tag in recorded if not any(o.startswith(tag + ":") for o in recorded)}
    assert {"account:token:used", "account:frozen"} <= recorded  # the scan finds tags
    assert sorted(recorded - Event.DESCRIPTIONS.keys()) == []
