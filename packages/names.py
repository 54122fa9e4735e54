"""Project names: the one place that validates and normalizes them."""

import re

from packaging.utils import canonicalize_name

MAX_NAME_LENGTH = 200
# PEP 508 names: ASCII letters and digits, with . _ - inside; no longer than the
# column. Also what a project name in a URL must look like (packages.converters).
PROJECT_NAME_PATTERN = rf"[A-Za-z0-9](?:[A-Za-z0-9._-]{{0,{MAX_NAME_LENGTH - 2}}}[A-Za-z0-9])?"
_VALID_NAME = re.compile(PROJECT_NAME_PATTERN)
# PEP 503 normalized form of a valid PEP 508 name: lowercase alphanumerics with
# single dashes inside (the database's check constraint also refuses "--").
NORMALIZED_NAME_RE = r"^([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$"
_NORMALIZED_NAME = re.compile(NORMALIZED_NAME_RE)

# fullmatch below, never match: "$" also matches before a final newline, so
# "name\n" would pass and then reach a query and a response header.


def is_valid_project_name(name: str) -> bool:
    return _VALID_NAME.fullmatch(name) is not None


def is_normalized_project_name(name: str) -> bool:
    """Whether ``name`` is already in its normalized form (no redirect needed)."""
    return (
        len(name) <= MAX_NAME_LENGTH
        and "--" not in name
        and _NORMALIZED_NAME.fullmatch(name) is not None
    )


def normalize_project_name(name: str) -> str:
    """PEP 503 normalization: runs of -_. become one dash, all lowercase."""
    return canonicalize_name(name)
