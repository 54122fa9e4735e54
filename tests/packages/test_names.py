"""Project names: what is a name, what is already normalized."""

import pytest

from packages.names import (
    MAX_NAME_LENGTH,
    is_normalized_project_name,
    is_valid_project_name,
    normalize_project_name,
)


@pytest.mark.parametrize(
    "name",
    ["a", "A1", "Sample.Project", "zope_interface", "a-b", "a" * MAX_NAME_LENGTH, "x.-_y"],
)
def test_valid_names(name):
    assert is_valid_project_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "-a",
        "a-",
        "a b",
        "ünïcode",
        "a" * (MAX_NAME_LENGTH + 1),
        # "$" matches before a final newline: the check must not.
        "smoke-pkg\n",
        "smoke-pkg\r",
        "a\x00b",
        "\nsmoke-pkg",
    ],
)
def test_invalid_names(name):
    assert not is_valid_project_name(name)


@pytest.mark.parametrize("name", ["a", "a-b", "zope-interface", "a1-b2", "a" * MAX_NAME_LENGTH])
def test_normalized_names(name):
    assert is_normalized_project_name(name)
    assert normalize_project_name(name) == name


@pytest.mark.parametrize(
    "name", ["A", "a_b", "a.b", "a--b", "-a", "x\n", "smoke-pkg\n", "a" * (MAX_NAME_LENGTH + 1)]
)
def test_not_normalized_names(name):
    assert not is_normalized_project_name(name)
