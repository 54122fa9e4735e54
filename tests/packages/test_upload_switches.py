"""The kill switches at ``/legacy/``: what twine shows (the reason phrase) and
what is left behind (nothing), through the view."""

import pytest

from accounts import flags
from accounts.models import AdminFlag
from packages.models import File, Project
from tests.factories import make_wheel, post_upload

pytestmark = pytest.mark.django_db


def turn_on(flag_id: str) -> None:
    AdminFlag.objects.filter(pk=flag_id).update(enabled=True)


def assert_refused(response, message: str) -> None:
    # 403 as the public index answers, not a 5xx that uv publish would retry.
    assert response.status_code == 403, response.content
    assert response.reason_phrase == message
    assert message in response.content.decode()
    assert not File.objects.exists()


@pytest.mark.parametrize(
    ("flag_id", "message"),
    [
        (flags.READ_ONLY, "Read-only mode: Uploads are temporarily disabled."),
        (
            flags.DISALLOW_NEW_UPLOAD,
            "New uploads are temporarily disabled by the administrators. Try again later.",
        ),
    ],
)
def test_uploads_are_refused(client, project, token, flag_id, message):
    turn_on(flag_id)
    assert_refused(post_upload(client, make_wheel(), token), message)


def test_a_new_project_is_refused_while_new_projects_are_off(client, token):
    turn_on(flags.DISALLOW_NEW_PROJECT_REGISTRATION)
    response = post_upload(client, make_wheel("brand-new"), token)
    assert_refused(response, flags.NEW_PROJECT_DISABLED)
    assert not Project.objects.exists()


def test_uploads_to_existing_projects_work_while_new_projects_are_off(client, project, token):
    turn_on(flags.DISALLOW_NEW_PROJECT_REGISTRATION)
    turn_on(flags.DISALLOW_NEW_USER_REGISTRATION)
    response = post_upload(client, make_wheel(), token)
    assert response.status_code == 200
    assert File.objects.get().release.project == project


def test_a_switch_stops_the_next_upload_at_once(client, project, token):
    # The cached copy the pages read says "all off"; the upload reads the rows.
    assert flags.enabled_flags() == frozenset()
    turn_on(flags.DISALLOW_NEW_UPLOAD)
    assert post_upload(client, make_wheel(), token).status_code == 403
