"""The claim rule (packages.mirror_claims): a new local project may take a name
the mirrored upstream has only with a moderator's permission. The upstream is a
real HTTP server on loopback (tests.upstream_server)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from packages import mirror
from packages.models import File, Project, UpstreamProject
from tests.factories import make_wheel, post_upload
from tests.upstream_server import StaticIndex, dist

pytestmark = pytest.mark.django_db


@pytest.fixture
def upstream_index(settings):
    """A running upstream that has the project "requests" (one file), and this
    index mirroring it, with acme-* names private."""
    with StaticIndex() as index:
        index.publish("requests", [dist("requests-2.0-py3-none-any.whl", b"not a real wheel")])
        settings.UPSTREAM_INDEX_URL = index.simple_url
        settings.PRIVATE_NAME_PATTERNS = ["acme-*"]
        yield index


def assert_refused(response, status: int, message: str) -> None:
    assert response.status_code == status, response.content
    # twine prints the reason phrase: the whole message is there.
    assert response.reason_phrase == message
    assert message in response.content.decode()
    assert not Project.objects.exists() and not File.objects.exists()


REFUSAL = (
    "The name 'requests' belongs to a project on the upstream index {url}; a local "
    "project can take it only with a moderator's permission (ask them to allow the claim)."
)


def test_a_name_the_upstream_has_is_refused(client, token, upstream_index):
    response = post_upload(client, make_wheel("Requests"), token)
    assert_refused(response, 403, REFUSAL.format(url=upstream_index.simple_url))
    assert upstream_index.requested("/simple/requests/") == 1
    # The answer is the mirror's page, recorded where moderators see it.
    row = UpstreamProject.objects.get()
    assert (row.normalized_name, row.exists) == ("requests", True)
    assert [f.filename for f in row.files.all()] == ["requests-2.0-py3-none-any.whl"]


def test_a_name_the_upstream_lacks_is_taken(
    client, token, upstream_index, django_capture_on_commit_callbacks
):
    generation = mirror.generation()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_upload(client, make_wheel("brand-new"), token)
    assert response.status_code == 200, response.content
    assert Project.objects.get().normalized_name == "brand-new"
    assert UpstreamProject.objects.get(normalized_name="brand-new").exists is False
    # The mirror forgot what it offered under the name (its pages' generation moved).
    assert mirror.generation() != generation


def test_a_fresh_answer_is_not_asked_again(client, token, upstream_index):
    UpstreamProject.objects.create(
        normalized_name="brand-new", exists=False, checked_at=timezone.now()
    )
    assert post_upload(client, make_wheel("brand-new"), token).status_code == 200
    assert upstream_index.requests == []


def test_an_old_answer_is_asked_again(client, token, upstream_index, settings):
    # Known as absent an hour ago; the upstream has it since.
    UpstreamProject.objects.create(
        normalized_name="requests", exists=False, checked_at=timezone.now() - timedelta(hours=1)
    )
    response = post_upload(client, make_wheel("requests"), token)
    assert_refused(response, 403, REFUSAL.format(url=upstream_index.simple_url))
    assert UpstreamProject.objects.get().exists is True


def test_an_answer_just_given_counts_without_any_freshness(client, token, upstream_index, settings):
    settings.UPSTREAM_FRESHNESS = 0  # every page is revalidated at once
    response = post_upload(client, make_wheel("requests"), token)
    assert_refused(response, 403, REFUSAL.format(url=upstream_index.simple_url))


def test_a_claim_a_moderator_allowed_is_taken(client, token, moderator, upstream_index):
    UpstreamProject.objects.create(
        normalized_name="requests",
        claim_allowed_at=timezone.now(),
        claim_allowed_by=moderator,
        claim_reason="our fork",
    )
    response = post_upload(client, make_wheel("requests"), token)
    assert response.status_code == 200, response.content
    assert Project.objects.get().normalized_name == "requests"
    assert upstream_index.requests == []


def test_a_private_name_is_never_asked(client, token, upstream_index):
    response = post_upload(client, make_wheel("Acme_Tools"), token)
    assert response.status_code == 200, response.content
    assert upstream_index.requests == []
    assert not UpstreamProject.objects.exists()


def unreachable(index: StaticIndex) -> str:
    return (
        "The name 'brand-new' can't be checked against the upstream index "
        f"{index.simple_url} right now (it did not answer); try the upload again later."
    )


def test_an_unreachable_upstream_refuses_the_claim(client, token, upstream_index):
    upstream_index.stop()
    response = post_upload(client, make_wheel("brand-new"), token)
    assert_refused(response, 503, unreachable(upstream_index))
    assert not UpstreamProject.objects.exists()


def test_an_old_answer_does_not_stand_in_for_a_down_upstream(client, token, upstream_index):
    UpstreamProject.objects.create(
        normalized_name="brand-new", exists=False, checked_at=timezone.now() - timedelta(hours=1)
    )
    upstream_index.fail_with = 502
    response = post_upload(client, make_wheel("brand-new"), token)
    assert_refused(response, 503, unreachable(upstream_index))


def test_uploads_to_an_existing_project_are_not_checked(client, token, project, upstream_index):
    upstream_index.publish("sample-project", [dist("sample_project-9.0.tar.gz", b"x")])
    assert post_upload(client, make_wheel(), token).status_code == 200
    assert upstream_index.requests == []


def test_without_an_upstream_any_name_is_taken(
    client, token, settings, django_capture_on_commit_callbacks
):
    settings.UPSTREAM_INDEX_URL = ""
    generation = mirror.generation()
    with django_capture_on_commit_callbacks(execute=True):
        assert post_upload(client, make_wheel("requests"), token).status_code == 200
    assert not UpstreamProject.objects.exists()
    assert mirror.generation() == generation
