import datetime

import pytest
from django.core.cache import cache
from django.utils import timezone

from moderation.models import NameReview, ProhibitedName
from moderation.names import (
    POPULAR_NAMES_CACHE_KEY,
    ProjectNameError,
    check_new_project_name,
    fold_name,
    popular_project_names,
    queue_name_review,
    similar_popular_name,
    within_one_edit,
)
from packages.models import DownloadCount, Project
from tests.factories import add_file, make_release, make_wheel

pytestmark = pytest.mark.django_db


def new_project(name: str) -> Project:
    from packages.names import normalize_project_name

    return Project.objects.create(name=name, normalized_name=normalize_project_name(name))


@pytest.mark.parametrize("name", ["json", "Asyncio", "os", "email", "concurrent", "TKINTER"])
def test_standard_library_names_are_refused(name):
    with pytest.raises(ProjectNameError, match="standard library") as exc:
        check_new_project_name(name)
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize("name", ["python-os", "jsonx", "asyncio-extras", "requests"])
def test_names_merely_containing_a_module_name_are_fine(name):
    check_new_project_name(name)


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("requ1re", "requlre"),
        ("Iogging-Tool", "logglngtool"),  # every i is folded, not only a capital one
        ("f00_bar", "foobar"),
        ("Django.REST", "djangorest"),
    ],
)
def test_fold_name(name, folded):
    assert fold_name(name) == folded


@pytest.mark.parametrize(
    ("existing", "new"),
    [
        ("requlre", "requ1re"),  # l / 1
        ("requlre", "REQUIRE"),  # l / I
        ("boto", "b0t0"),  # o / 0
        ("req-uests", "requests"),  # separators
        ("c1ick", "click"),  # the existing name has the digit
    ],
)
def test_look_alikes_of_existing_projects_are_refused(existing, new):
    new_project(existing)
    with pytest.raises(ProjectNameError, match=f"too similar to an existing project, '{existing}'"):
        check_new_project_name(new)


def test_the_same_name_is_not_its_own_look_alike():
    new_project("requlre")
    check_new_project_name("Requlre")  # the upload goes to the existing project


def test_unrelated_names_pass():
    new_project("requests")
    check_new_project_name("reqeusts")  # a typo, not a look-alike: flagged, not refused


def test_prohibited_names_and_their_look_alikes_are_refused(moderator):
    ProhibitedName.objects.create(name="Evil-Pkg", normalized_name="evil-pkg", reason="x")
    for name in ["evil_pkg", "EVIL.PKG", "ev1l-pkg"]:
        with pytest.raises(ProjectNameError, match="prohibited 'Evil-Pkg'"):
            check_new_project_name(name)


@pytest.mark.parametrize(
    ("a", "b", "close"),
    [
        ("requests", "requests", True),
        ("requests", "reqeusts", True),  # adjacent swap
        ("requests", "requestz", True),  # substitution
        ("requests", "request", True),  # deletion
        ("requests", "rrequests", True),  # insertion
        ("requests", "requets", True),
        ("requests", "reqeustz", False),
        ("requests", "requestsxx", False),
        ("requests", "rqeuestss", False),
        ("django", "dajngo", True),
        ("django", "ojangd", False),
        ("abc", "bca", False),
    ],
)
def test_within_one_edit(a, b, close):
    assert within_one_edit(a, b) is close
    assert within_one_edit(b, a) is close


def downloads(project, count, days_ago=0):
    release = make_release(project, "1.0")
    file = add_file(release, make_wheel(project.name, "1.0"), store=False)
    DownloadCount.objects.create(
        file=file,
        project=project,
        day=timezone.now().date() - datetime.timedelta(days=days_ago),
        count=count,
    )


def test_popular_names_are_the_top_n_by_recent_downloads(settings):
    settings.NAME_REVIEW_TOP_PROJECTS = 2
    downloads(new_project("requests"), 1000)
    downloads(new_project("urllib3"), 500)
    downloads(new_project("numpy"), 100)
    downloads(new_project("oldie"), 10**6, days_ago=40)  # outside the window
    assert popular_project_names() == [("requests", "requests"), ("urllib3", "urllib3")]
    # Cached: a new burst of downloads changes nothing until it expires.
    downloads(new_project("six"), 10**6)
    assert [name for name, _ in popular_project_names()] == ["requests", "urllib3"]
    cache.delete(POPULAR_NAMES_CACHE_KEY)
    assert [name for name, _ in popular_project_names()] == ["six", "requests"]


def flag_similar_name(project: Project) -> NameReview | None:
    # As the upload does: the lookup before its transaction, the queueing in it.
    return queue_name_review(project, similar_popular_name(project.normalized_name))


def test_a_name_one_edit_from_a_popular_project_is_flagged():
    downloads(new_project("Requests"), 1000)
    squat = new_project("reqeusts")
    review = flag_similar_name(squat)
    assert review == NameReview.objects.get()
    assert (review.project, review.similar_to, review.status) == (squat, "Requests", "pending")


def test_other_names_are_not_flagged():
    popular = new_project("requests")
    downloads(popular, 1000)
    assert flag_similar_name(new_project("flask")) is None
    assert flag_similar_name(popular) is None  # not similar to itself
    assert not NameReview.objects.exists()


# --- Organizations take no prohibited name either ----------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["EvilCorp", "evil.corp", "Evi1Corp"])
def test_a_new_organization_may_not_take_a_prohibited_name(owner, name):
    from accounts import organizations
    from accounts.events import Actor
    from accounts.models import Organization

    ProhibitedName.objects.create(name="evil-corp", normalized_name="evil-corp", reason="abuse")
    with pytest.raises(organizations.OrganizationError) as refused:
        organizations.organization_create(name=name, actor=Actor(owner))
    assert refused.value.message == (
        f"The name {name} isn't allowed: the index's moderators have prohibited "
        "'evil-corp'. Choose another name."
    )
    assert refused.value.field == "name"
    assert not Organization.objects.exists()
    # Any other name is fine.
    assert organizations.organization_create(name="Acme", actor=Actor(owner)).name == "Acme"


@pytest.mark.django_db
def test_without_moderation_registered_no_organization_name_is_prohibited(owner, monkeypatch):
    from accounts import organizations
    from accounts.events import Actor

    ProhibitedName.objects.create(name="evil-corp", normalized_name="evil-corp", reason="abuse")
    monkeypatch.setattr(organizations, "_prohibited_name", None)
    assert organizations.organization_create(name="evil-corp", actor=Actor(owner)).pk
