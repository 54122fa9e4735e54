"""Which release of a project stands for it on its page, in search and feeds."""

from collections.abc import Iterable

from packaging.version import Version

from .models import Release


def release_sort_key(release: Release) -> Version:
    return Version(release.version)


def releases_newest_first(releases: Iterable[Release]) -> list[Release]:
    """By PEP 440 order, newest first (the database cannot order versions)."""
    return sorted(releases, key=release_sort_key, reverse=True)


def pick_latest(releases: Iterable[Release]) -> Release | None:
    """The newest release that is neither yanked nor a pre-release; failing
    that the newest non-yanked one; failing that the newest of all, as the
    public index's project page does."""
    return latest_of_ordered(releases_newest_first(releases))


def latest_of_ordered(ordered: list[Release]) -> Release | None:
    """``pick_latest`` of releases already ordered newest first."""
    for wanted in (
        lambda r: not r.yanked and not r.is_prerelease,
        lambda r: not r.yanked,
        lambda r: True,
    ):
        for release in ordered:
            if wanted(release):
                return release
    return None
