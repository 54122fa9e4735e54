import pyotp
import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.files.storage import storages
from django.test import override_settings

from accounts.models import Email, User
from accounts.tokens import api_token_create
from packages.cache import local_pages
from packages.models import Project, Role


@pytest.fixture(autouse=True, scope="session")
def _session_cache_dir(tmp_path_factory):
    """The disk cache of the embedded default in a directory of this run, not
    var/cache/, which a running `make run` server or another test run shares."""
    from django.conf import settings

    default = settings.CACHES["default"]
    if not default["BACKEND"].endswith("SharedDiskCache"):
        yield  # Redis: the run's own database number keeps it apart
        return
    location = tmp_path_factory.mktemp("cache")
    with override_settings(
        CACHES={**settings.CACHES, "default": {**default, "LOCATION": str(location)}}
    ):
        yield


@pytest.fixture(autouse=True)
def _isolated_files(settings, tmp_path):
    """Every test gets its own empty file store and cache."""
    settings.STORAGES = {
        **settings.STORAGES,
        # Pages link their CSS through {% static %}; the manifest storage of
        # production needs a collectstatic run, which tests don't make.
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "files": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "files"},
        },
    }
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "tmp")
    storages._storages.pop("files", None)
    cache.clear()
    local_pages.clear()  # this process's copies of pages, in front of the cache
    yield
    storages._storages.pop("files", None)
    cache.clear()
    local_pages.clear()


def verified_user(username: str, *, staff: bool = False, two_factor: bool = False) -> User:
    """An account as it is once registered and verified: may upload. ``staff``
    may enter the admin, which wants ``two_factor`` too (pypi_site.admin)."""
    email = f"{username}@example.com"
    user = User.objects.create_user(username, email, "correct horse battery", is_staff=staff)
    Email.objects.create(user=user, email=email, primary=True, verified=True)
    if two_factor:
        give_two_factor(user)
    return user


def give_two_factor(user: User) -> User:
    """An authenticator app for ``user``, as REQUIRE_2FA_TO_* want."""
    user.totp_secret = pyotp.random_base32()
    user.save(update_fields=["totp_secret"])
    return user


@pytest.fixture
def owner(db):
    return verified_user("olivia")


@pytest.fixture
def maintainer(db):
    return verified_user("max")


@pytest.fixture
def outsider(db):
    return verified_user("oscar")


@pytest.fixture
def moderator(db):
    """A staff account with 2FA in the Moderators group the data migration made."""
    user = verified_user("mona", staff=True, two_factor=True)
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


@pytest.fixture
def token(owner):
    """olivia's API token (unscoped), as twine sends it."""
    return api_token_create(user=owner, description="ci").secret


@pytest.fixture
def project(db, owner, maintainer):
    project = Project.objects.create(name="Sample.Project", normalized_name="sample-project")
    Role.objects.create(project=project, user=owner, role_name=Role.Name.OWNER)
    Role.objects.create(project=project, user=maintainer, role_name=Role.Name.MAINTAINER)
    return project


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 is deliberately slow; the tests check flows, not the hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
