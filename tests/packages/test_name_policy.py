"""The upload asks packages.name_policy which names a new project may take:
the moderation app's rules when it is installed (it registers them), and
otherwise a policy that refuses every new project."""

import pytest

from moderation import names as moderation_names
from packages import name_policy
from packages.models import Project
from tests.factories import make_wheel, post_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def without_moderation(monkeypatch):
    """As if the moderation app were not installed: nothing registered."""
    monkeypatch.setattr(name_policy, "_policy", name_policy.RefuseNewProjects())


def test_the_moderation_app_registers_its_name_rules():
    assert name_policy._policy is moderation_names


def test_without_moderation_a_new_project_is_refused(client, project, token, without_moderation):
    response = post_upload(client, make_wheel("brand-new"), token)
    assert response.status_code == 400
    assert response.reason_phrase == (
        "The name 'brand-new' can't be registered: this index has no rules for new project "
        "names (its moderation app is not installed), so it accepts uploads to existing "
        "projects only."
    )
    assert list(Project.objects.all()) == [project]


def test_without_moderation_existing_projects_still_take_uploads(
    client, project, token, without_moderation
):
    assert post_upload(client, make_wheel(), token).status_code == 200
    assert project.releases.get().version == "1.0"


def test_the_refusing_policy_flags_and_queues_nothing():
    refuse = name_policy.RefuseNewProjects()
    assert refuse.similar_popular_name("reqeusts") is None
    assert refuse.queue_name_review(Project(name="reqeusts"), "requests") is None
