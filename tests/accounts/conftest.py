import pytest

from accounts.models import Event, User

from .two_factor_helpers import add_key, enrol_totp


# The suite's cast (tests/conftest.py: olivia, max, oscar), but the account
# tests manage e-mail addresses themselves: here the same people start with
# none (elsewhere each has a verified primary one).
def without_emails(user: User) -> User:
    user.emails.all().delete()
    return user


@pytest.fixture
def owner(owner):
    return without_emails(owner)


@pytest.fixture
def maintainer(maintainer):
    return without_emails(maintainer)


@pytest.fixture
def outsider(outsider):
    return without_emails(outsider)


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
