"""accounts asks about a user's projects through accounts.projects, which the
packages app (a layer above) answers."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts import projects
from packages import roles


def test_the_packages_app_registers_its_answers():
    assert projects.project_directory() is roles


def test_asking_before_packages_registered_says_what_is_missing(monkeypatch):
    monkeypatch.setattr(projects, "_directory", None)
    with pytest.raises(ImproperlyConfigured, match="add 'packages' to INSTALLED_APPS"):
        projects.project_directory()
