"""Lookups and confirmation shared by the release and file commands."""

import argparse
import sys

from django.core.management.base import CommandError
from packaging.utils import canonicalize_version

from accounts.events import Actor
from accounts.models import User
from packages.models import File, Project, Release


def add_actor_argument(parser) -> None:
    parser.add_argument(
        "--actor",
        metavar="USERNAME",
        help="The account the journal records as having made the change "
        "(default: none, shown as a system change).",
    )


def get_actor(username: str | None) -> User | None:
    if username is None:
        return None
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise CommandError(f"No user named {username!r}.") from None


def shell_actor(username: str | None) -> Actor:
    """The command's actor: done from the shell, as ``--actor`` if given."""
    return Actor.shell(get_actor(username))


def get_release(project_name: str, version: str) -> Release:
    """The release by any spelling of the project name and of the version
    (``1.0`` finds the release uploaded as ``1.0.0``)."""
    project = Project.objects.by_name(project_name)
    if project is None:
        raise CommandError(f"No project named {project_name!r}.")
    release = project.releases.filter(canonical_version=canonicalize_version(version)).first()
    if release is None:
        raise CommandError(f"{project.name} has no release {version!r}.")
    return release


def get_file(filename: str) -> File:
    file = File.objects.select_related("release__project").filter(filename=filename).first()
    if file is None:
        raise CommandError(f"No file named {filename!r}.")
    return file


def positive_int(value: str) -> int:
    """An argparse type: a whole number of at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def confirm(question: str, *, assume_yes: bool) -> bool:
    """Ask on the terminal; True to go ahead. Without a terminal, only --yes
    may authorize a deletion, so a script never deletes by accident."""
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise CommandError("Refusing to delete without confirmation: pass --yes.")
    return input(f"{question} [y/N] ").strip().lower() in {"y", "yes"}
