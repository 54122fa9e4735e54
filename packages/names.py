"""Project names: the one place that validates and normalizes them."""

import re

from packaging.utils import canonicalize_name

# PEP 508 names: ASCII letters and digits, with . _ - inside.
_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
MAX_NAME_LENGTH = 200
# PEP 503 normalized form of a valid PEP 508 name: lowercase alphanumerics with
# single dashes inside (the database's check constraint also refuses "--").
NORMALIZED_NAME_RE = r"^([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$"
_NORMALIZED_NAME = re.compile(NORMALIZED_NAME_RE)


def is_valid_project_name(name: str) -> bool:
    return len(name) <= MAX_NAME_LENGTH and bool(_VALID_NAME.match(name))


def is_normalized_project_name(name: str) -> bool:
    """Whether ``name`` is already in its normalized form (no redirect needed)."""
    return (
        len(name) <= MAX_NAME_LENGTH
        and "--" not in name
        and _NORMALIZED_NAME.match(name) is not None
    )


def normalize_project_name(name: str) -> str:
    """PEP 503 normalization: runs of -_. become one dash, all lowercase."""
    return canonicalize_name(name)
