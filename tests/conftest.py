"""Fixtures of the whole suite, and how `make test` spreads it over processes.

`make test` runs the suite in TEST_WORKERS pytest-xdist processes at once
(--dist loadgroup; `TEST_WORKERS=0 make test` runs it in one). Every test must
therefore keep to resources of its own, as all the tests here do:
- ports: bind 127.0.0.1:0 (tests/liveserver.py free_port) or let the server
  pick; never a fixed port.
- files: tmp_path / tmp_path_factory (each worker has its own basetemp), never a
  fixed path under var/, /tmp or the repository; a cache shared on purpose
  (var/test-cache, .cache/) must stand two processes filling it at once (a lock:
  tests/e2e/test_readme_publish.py).
- databases: pytest-django's test_<name>_gw<k>; a database a test creates itself
  gets a random suffix (tests/liveserver.py throwaway_postgresql_database).
- Redis: worker k uses the database number of REDIS_URL plus k (tests/settings.py),
  since the cache is emptied around every test; servers a test starts inherit it.
- test ids: the same in every process, which collects on its own: no parameter
  made from the clock (gzip.compress needs mtime=0, no now()) or at random.
Each test file runs whole, in order, in one process, except that the end-to-end
tests of one backend ([sqlite], [postgresql] in their ids) run together in one,
so that the session's server of that backend starts once (`_xdist_unit` below),
and that a file's transactional tests run apart, after every process's others.
"""

import re

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


# --- pytest-xdist ------------------------------------------------------------------

# The backend in an end-to-end test's id: [sqlite], [postgresql-wheel], ...
_BACKEND_IN_ID = re.compile(r"\[(?:[^\]]*-)?(sqlite|postgresql)(?:-[^\]]*)?\]$")


def _xdist_unit(nodeid: str) -> str:
    """What one worker runs whole, in order: a test file, except that the
    end-to-end tests of one backend go together whatever their file, so that the
    session's `server` of that backend (tests/e2e/conftest.py) starts once."""
    path = nodeid.split("::", 1)[0]
    if path.startswith("tests/e2e/") and (match := _BACKEND_IN_ID.search(nodeid)):
        return f"e2e-{match[1]}"
    return path


def _transactional(item) -> bool:
    """Whether ``item`` empties the database when it ends (pytest-django's
    transactional tests: the rows the data migrations made, the Moderators group
    among them, are gone for every later test of that process)."""
    marker = item.get_closest_marker("django_db")
    if marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")):
        return True
    return bool({"transactional_db", "live_server"} & set(item.fixturenames))


def _start_order(items) -> dict:
    """Item -> its place in the run. As pytest-django orders a single process,
    the transactional tests come after all the others; before them, long units
    first, so that no worker is left with one at the end while the other idles:
    the two backends' end-to-end tests (minutes), the other end-to-end files
    (tens of seconds, servers of their own), then the rest. Each unit's tests stay
    together, in the order pytest gave them."""
    first: dict[tuple, int] = {}
    order = {}
    for index, item in enumerate(items):
        unit = _xdist_unit(item.nodeid)
        if unit.startswith("e2e-"):
            rank = 0
        elif item.get_closest_marker("e2e"):
            rank = 1
        else:
            rank = 2
        phase = (_transactional(item), rank)
        place = first.setdefault((phase, unit), index)
        order[item] = (phase, place, index)
    return order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup` (make test): the units of `_xdist_unit`, a unit's
    transactional tests apart from its others, in the order the workers collected
    them (`--no-loadscope-reorder`): each worker then empties its database only
    after its last test that needs the migrations' rows. (xdist's own loadgroup
    reads xdist_group marks into node ids, which pytest 9 no longer lets it do.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        _units: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._units is None:
                # A unit seen again after another one (its transactional tests)
                # is a unit of its own, run after those before it.
                self._units, runs, previous = {}, {}, None
                for each in self.collection:
                    unit = _xdist_unit(each)
                    if unit != previous:
                        runs[unit] = runs.get(unit, 0) + 1
                        previous = unit
                    self._units[each] = f"{unit}#{runs[unit]}"
            return self._units[nodeid]

    return Scheduling(config, log)


def pytest_configure(config):
    if hasattr(config, "workerinput"):  # an xdist worker
        config.pluginmanager.register(_WorkerOrder(), "tests-worker-order")


class _WorkerOrder:
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        # After pytest-django's order and pytest's by fixture parameter (sqlite's
        # server tests, then postgresql's). The workers report this order to the
        # scheduler above.
        order = _start_order(items)
        items.sort(key=order.__getitem__)
