"""API tokens in the web UI, through the test client with real rows."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken, Event
from accounts.tokens import (
    TokenError,
    api_token_create,
    api_token_find,
    api_token_revoke,
)
from packages.models import Project, Role
from packages.policy import upload_token

pytestmark = pytest.mark.django_db

LIST = "/manage/account/tokens/"
CREATE = "/manage/account/tokens/new/"
SECRET_RE = re.compile(r"pypi-[0-9a-f]{16}_[A-Za-z0-9_-]+")


def revoke_url(token) -> str:
    return f"/manage/account/tokens/{token.pk}/revoke/"


@pytest.fixture
def other_project(db, outsider):
    project = Project.objects.create(name="Other", normalized_name="other")
    Role.objects.create(project=project, user=outsider, role_name=Role.Name.OWNER)
    return project


def test_urls_have_their_names():
    assert reverse("tokens") == LIST
    assert reverse("token-create") == CREATE
    assert reverse("token-revoke", args=[7]) == "/manage/account/tokens/7/revoke/"


@pytest.mark.parametrize("url", [LIST, CREATE])
def test_pages_need_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "next=" in response["Location"]


def test_revoke_needs_a_login(client, owner):
    token = api_token_create(user=owner).token
    response = client.post(revoke_url(token))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is None


def test_empty_list(signed_in):
    response = signed_in.get(LIST)
    assert response.status_code == 200
    assert "You have no API tokens yet." in response.content.decode()
    assert "private" in response["Cache-Control"]
    assert "no-cache" in response["Cache-Control"]


def test_list_shows_tokens_without_secrets(signed_in, owner, outsider, project):
    minted = api_token_create(user=owner, description="ci job", projects=[project])
    user_wide = api_token_create(
        user=owner, description="laptop", expires_at=timezone.now() + timedelta(days=3)
    )
    api_token_create(user=outsider, description="not mine")
    ApiToken.objects.filter(pk=user_wide.token.pk).update(
        last_used_at=datetime(2024, 5, 6, 7, 8, tzinfo=UTC)
    )
    page = signed_in.get(LIST).content.decode()
    assert "ci job" in page and "laptop" in page
    assert "not mine" not in page
    assert f"pypi-{minted.token.lookup_id}…" in page
    assert minted.secret not in page and user_wide.secret not in page
    assert not SECRET_RE.search(page)
    assert "Sample.Project" in page  # the scoped token's project
    assert "All my projects" in page
    assert "2024-05-06 07:08" in page  # last used
    assert "never" in page  # the scoped token was never used and never expires
    assert page.count("Active") == 2


def test_list_shows_revoked_expired_and_emptied_scope(signed_in, owner, project):
    revoked = api_token_create(user=owner, description="old")
    api_token_revoke(revoked.token)
    api_token_create(
        user=owner, description="lapsed", expires_at=timezone.now() - timedelta(days=1)
    )
    api_token_create(user=owner, description="orphan", projects=[project])
    project.delete()
    page = signed_in.get(LIST).content.decode()
    assert "Revoked" in page and "Expired" in page
    assert "no projects left (unusable)" in page
    # Only the live tokens can be revoked.
    assert revoke_url(revoked.token) not in page


def test_list_query_count_does_not_grow_with_tokens(signed_in, owner, project):
    api_token_create(user=owner, projects=[project])
    with CaptureQueriesContext(connection) as one:
        signed_in.get(LIST)
    for _ in range(5):
        api_token_create(user=owner, projects=[project])
    with CaptureQueriesContext(connection) as six:
        signed_in.get(LIST)
    assert len(six) == len(one)


def test_create_form_offers_only_the_users_projects(signed_in, project, other_project):
    page = signed_in.get(CREATE).content.decode()
    assert "Sample.Project" in page
    assert "Other" not in page
    assert 'name="scope" value="projects"' in page
    assert "private" in signed_in.get(CREATE)["Cache-Control"]


def test_create_form_without_projects_only_offers_user_wide(signed_in):
    page = signed_in.get(CREATE).content.decode()
    assert "You have no projects yet" in page
    assert 'value="projects"' not in page


def test_create_user_wide_token_shows_secret_once(signed_in, owner):
    response = signed_in.post(CREATE, {"description": "laptop", "scope": "user", "expiry": "never"})
    assert response.status_code == 200
    page = response.content.decode()
    secrets_on_page = set(SECRET_RE.findall(page))
    assert len(secrets_on_page) == 1
    secret = secrets_on_page.pop()
    token = upload_token(secret)
    assert (token.user, token.description, token.scoped, token.expires_at) == (
        owner,
        "laptop",
        False,
        None,
    )
    # How to use it: twine's user name, .pypirc and uv.
    assert "__token__" in page
    assert "password = " + secret in page
    assert "uv publish --publish-url http://testserver/legacy/ --token " + secret in page
    assert 'data-copy-label="Copy the token"' in page
    assert "private" in response["Cache-Control"]
    # Never again.
    assert secret not in signed_in.get(LIST).content.decode()
    event = Event.objects.get(tag="account:token:created")
    assert (event.user, event.actor) == (owner, owner)
    assert event.details["scope"] == "user"
    assert event.details["expires_at"] is None
    assert event.details["token"] == f"pypi-{token.lookup_id}"


def test_create_scoped_token(signed_in, owner, project, other_project):
    second = Project.objects.create(name="Second", normalized_name="second")
    Role.objects.create(project=second, user=owner, role_name=Role.Name.MAINTAINER)
    response = signed_in.post(
        CREATE,
        {
            "description": "ci",
            "scope": "projects",
            "projects": [project.pk, second.pk],
            "expiry": "90",
        },
    )
    secret = SECRET_RE.search(response.content.decode()).group()
    token = upload_token(secret)
    assert token.scoped
    assert set(token.projects.all()) == {project, second}
    assert timedelta(days=89) < token.expires_at - timezone.now() <= timedelta(days=90)
    event = Event.objects.get(tag="account:token:created")
    assert event.details["scope"] == ["Sample.Project", "Second"]
    assert event.details["expires_at"] == token.expires_at.isoformat()


def test_projects_are_ignored_for_a_user_wide_token(signed_in, project):
    response = signed_in.post(
        CREATE, {"description": "x", "scope": "user", "projects": [project.pk], "expiry": "30"}
    )
    token = upload_token(SECRET_RE.search(response.content.decode()).group())
    assert not token.scoped
    assert not token.projects.exists()


def test_create_with_an_expiry_date(signed_in):
    day = (timezone.now() + timedelta(days=10)).date()
    response = signed_in.post(
        CREATE,
        {"description": "x", "scope": "user", "expiry": "date", "expires_on": day.isoformat()},
    )
    token = upload_token(SECRET_RE.search(response.content.decode()).group())
    # Usable through the whole chosen day.
    assert token.expires_at == datetime.combine(
        day + timedelta(days=1), datetime.min.time(), tzinfo=UTC
    )


def days_from_now(days: int) -> str:
    return (timezone.now() + timedelta(days=days)).date().isoformat()


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"description": ""}, "description", "This field is required."),
        ({"scope": "projects"}, "projects", "Choose at least one project"),
        ({"scope": "everything"}, "scope", "Select a valid choice"),
        ({"expiry": "7"}, "expiry", "Select a valid choice"),
        ({"expiry": "date"}, "expires_on", "Choose the date the token expires."),
        ({"expiry": "date", "expires_on": days_from_now(0)}, "expires_on", "in the future"),
        ({"expiry": "date", "expires_on": "soon"}, "expires_on", "Enter a valid date."),
    ],
)
def test_invalid_forms_create_nothing(signed_in, project, data, field, message):
    form = {"description": "x", "scope": "user", "expiry": "never", **data}
    response = signed_in.post(CREATE, form)
    assert response.status_code == 200
    assert not ApiToken.objects.exists()
    assert message in response.context["form"].errors[field][0]
    page = response.content.decode()
    assert 'role="alert"' in page
    # The error is tied to its field for screen readers.
    error_id = field.replace("_", "-") + "-error"
    assert f'id="{error_id}"' in page
    assert re.search(rf'aria-describedby="[^"]*\b{error_id}\b', page)


def test_cannot_scope_to_a_project_without_a_role(signed_in, other_project):
    response = signed_in.post(
        CREATE,
        {"description": "x", "scope": "projects", "projects": [other_project.pk], "expiry": "30"},
    )
    assert "Select a valid choice" in response.context["form"].errors["projects"][0]
    assert not ApiToken.objects.exists()


def test_revoke_own_token(signed_in, owner):
    minted = api_token_create(user=owner, description="ci")
    response = signed_in.post(revoke_url(minted.token), follow=True)
    assert response.redirect_chain == [(LIST, 302)]
    assert "The token “ci” is revoked." in response.content.decode()
    with pytest.raises(TokenError, match="revoked"):
        upload_token(minted.secret)
    event = Event.objects.get(tag="account:token:revoked")
    assert (event.user, event.actor, event.details["description"]) == (owner, owner, "ci")


def test_revoke_twice_says_so_and_records_once(signed_in, owner):
    minted = api_token_create(user=owner)
    signed_in.post(revoke_url(minted.token))
    response = signed_in.post(revoke_url(minted.token), follow=True)
    assert f"pypi-{minted.token.lookup_id}” was already revoked." in response.content.decode()
    assert Event.objects.filter(tag="account:token:revoked").count() == 1


def test_revoke_someone_elses_token_is_not_found(signed_in, outsider):
    minted = api_token_create(user=outsider)
    assert signed_in.post(revoke_url(minted.token)).status_code == 404
    assert upload_token(minted.secret) == minted.token


def test_revoke_needs_post(signed_in, owner):
    minted = api_token_create(user=owner)
    assert signed_in.get(revoke_url(minted.token)).status_code == 405
    assert upload_token(minted.secret) == minted.token


def test_revoke_needs_csrf(client, owner):
    client.handler.enforce_csrf_checks = True
    client.force_login(owner)
    minted = api_token_create(user=owner)
    assert client.post(revoke_url(minted.token)).status_code == 403
    assert upload_token(minted.secret) == minted.token


def test_revoke_of_a_stale_copy_reads_the_first_time(owner):
    minted = api_token_create(user=owner)
    stale = ApiToken.objects.get(pk=minted.token.pk)
    assert api_token_revoke(minted.token) is True
    assert api_token_revoke(stale) is False
    assert stale.revoked_at == minted.token.revoked_at


def test_find_matches_only_the_whole_secret(owner):
    minted = api_token_create(user=owner)
    api_token_revoke(minted.token)
    assert api_token_find(minted.secret) == minted.token  # whatever its state
    assert api_token_find(minted.secret + "x") is None
    assert api_token_find("pypi-short") is None
    assert api_token_find("ghp_something") is None
