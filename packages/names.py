"""Project names: the one place that validates and normalizes them."""

import re

from packaging.utils import canonicalize_name

# PEP 508 names: ASCII letters and digits, with . _ - inside.
_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
MAX_NAME_LENGTH = 200


def is_valid_project_name(name: str) -> bool:
    return len(name) <= MAX_NAME_LENGTH and bool(_VALID_NAME.match(name))


def normalize_project_name(name: str) -> str:
    """PEP 503 normalization: runs of -_. become one dash, all lowercase."""
    return canonicalize_name(name)
