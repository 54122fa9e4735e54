import pyotp
import pytest
from django.contrib.auth.models import Group

from tests.conftest import verified_user

# The admin admits staff with two-factor authentication only (pypi_site.admin):
# every staff account here has an authenticator app.


@pytest.fixture
def moderator(db):
    """A staff account in the Moderators group the data migration made."""
    user = verified_user("mona")
    user.is_staff = True
    user.totp_secret = pyotp.random_base32()
    user.save()
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


@pytest.fixture
def staff(db):
    """Staff, but not a moderator: the admin must refuse it everything."""
    user = verified_user("stan")
    user.is_staff = True
    user.totp_secret = pyotp.random_base32()
    user.save()
    return user


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
