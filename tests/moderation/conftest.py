import pyotp
import pytest

from tests.conftest import verified_user

# The admin admits staff with two-factor authentication only (pypi_site.admin):
# every staff account here has an authenticator app, as tests.conftest's moderator.


@pytest.fixture
def staff(db):
    """Staff, but not a moderator: the admin must refuse it everything."""
    return verified_user("stan", staff=True, two_factor=True)


@pytest.fixture
def admin_user(db):
    from accounts.models import User

    return User.objects.create_superuser(
        "ada", "ada@example.com", "correct horse battery", totp_secret=pyotp.random_base32()
    )


@pytest.fixture
def mod_client(client, moderator):
    client.force_login(moderator)
    return client
