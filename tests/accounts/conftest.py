import pytest

from accounts.models import User


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
