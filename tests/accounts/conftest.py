import pytest

from accounts.models import Event, User

from .two_factor_helpers import add_key, enrol_totp


# The account tests manage e-mail addresses themselves: their users start
# with none (the suite-wide fixtures give every user a verified primary one).
def plain_user(username: str) -> User:
    return User.objects.create_user(username, f"{username}@example.com", "correct horse battery")


@pytest.fixture
def owner(db):
    return plain_user("olivia")


@pytest.fixture
def maintainer(db):
    return plain_user("max")


@pytest.fixture
def outsider(db):
    return plain_user("oscar")


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def totp_owner(client, owner):
    """olivia with an authenticator app and recovery codes, signed out."""
    client.force_login(owner)
    secret, codes = enrol_totp(client)
    client.logout()
    # As if a minute passed since the enrolment: the current code is fresh again.
    owner.refresh_from_db()
    owner.totp_last_step -= 2
    owner.save()
    owner.secret, owner.codes = secret, codes
    Event.objects.filter(tag="account:login:success").delete()  # force_login's
    return owner


@pytest.fixture
def key_owner(client, owner):
    client.force_login(owner)
    authenticator, _ = add_key(client, label="blue key")
    client.logout()
    owner.authenticator = authenticator
    Event.objects.filter(tag="account:login:success").delete()  # force_login's
    return owner
