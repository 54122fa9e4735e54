import pytest

from packages.releases import pick_latest, releases_newest_first
from tests.factories import make_release

pytestmark = pytest.mark.django_db


def versions(releases) -> list[str]:
    return [release.version for release in releases]


def test_releases_are_ordered_by_pep_440_not_by_text(project):
    for version in ["1.9", "1.10", "1.10rc1", "0.post1"]:
        make_release(project, version)
    assert versions(releases_newest_first(project.releases.all())) == [
        "1.10",
        "1.10rc1",
        "1.9",
        "0.post1",
    ]


def test_latest_skips_yanked_releases_and_pre_releases(project):
    make_release(project, "1.0")
    make_release(project, "2.0", yanked=True)
    make_release(project, "3.0b1", is_prerelease=True)
    assert pick_latest(project.releases.all()).version == "1.0"


def test_latest_is_a_pre_release_when_only_pre_releases_are_left(project):
    make_release(project, "2.0", yanked=True)
    make_release(project, "3.0b1", is_prerelease=True)
    make_release(project, "3.0b2", is_prerelease=True)
    assert pick_latest(project.releases.all()).version == "3.0b2"


def test_latest_is_the_newest_yanked_release_when_all_are_yanked(project):
    make_release(project, "1.0", yanked=True)
    make_release(project, "2.0", yanked=True)
    assert pick_latest(project.releases.all()).version == "2.0"


def test_no_releases_no_latest(project):
    assert pick_latest(project.releases.all()) is None
