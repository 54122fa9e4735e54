"""/manage/project/<name>/publishing/ (packages.views.manage_publishing): Owners
add and remove trusted publishers; nobody else may."""

import pytest

from accounts.models import Event
from packages.models import OIDCIssuer, TrustedPublisher
from tests.conftest import give_two_factor

pytestmark = pytest.mark.django_db

URL = "/manage/project/sample-project/publishing/"
REMOVE = URL + "remove/"


@pytest.fixture(autouse=True)
def _two_factor(settings, owner, maintainer):
    settings.REQUIRE_2FA_TO_MANAGE = True
    for user in (owner, maintainer):
        give_two_factor(user)


@pytest.fixture
def as_owner(client, owner, project):
    client.force_login(owner)
    return client


GITHUB = {
    "provider": "github",
    "repository": "octo/sample",
    "workflow": "release.yml",
    "environment": "pypi",
    "repository_owner_id": "42",
}


def test_the_settings_page_links_here(as_owner):
    page = as_owner.get("/manage/project/sample-project/settings/").content.decode()
    assert f'href="{URL}"' in page


def test_an_owner_adds_a_github_publisher(as_owner, owner, project):
    response = as_owner.post(URL, GITHUB, follow=True)
    publisher = TrustedPublisher.objects.get()
    assert (publisher.project, publisher.added_by) == (project, owner)
    assert publisher.repository_owner_id == "42" and publisher.environment == "pypi"
    page = response.content.decode()
    assert "GitHub Actions octo/sample release.yml (environment pypi) may now publish" in page
    assert f'data-publisher="{publisher.pk}"' in page and "owner id 42" in page
    event = Event.objects.get(tag="project:trusted-publisher:added")
    assert event.project == project and event.user_id is None


def test_an_owner_adds_a_google_publisher(as_owner):
    as_owner.post(URL, {"provider": "google", "email": "b@p.iam", "subject": "7"})
    page = as_owner.get(URL).content.decode()
    assert "Google Cloud b@p.iam (subject 7)" in page


def test_a_refused_publisher_says_why(as_owner):
    response = as_owner.post(URL, {**GITHUB, "repository": "no-slash"})
    assert response.status_code == 400
    assert "The GitHub repository must be OWNER/NAME" in response.content.decode()
    assert not TrustedPublisher.objects.exists()


def test_a_malformed_form_says_why(as_owner):
    response = as_owner.post(URL, {"provider": "svn"})
    assert response.status_code == 400
    assert "provider: Select a valid choice" in response.content.decode()


@pytest.fixture
def company_ci():
    return OIDCIssuer.objects.create(
        name="Acme CI", issuer_url="https://ci.acme.test", jwks_url="https://ci.acme.test/jwks"
    )


def test_without_a_custom_issuer_the_form_offers_none(as_owner):
    page = as_owner.get(URL).content.decode()
    assert 'value="github"' in page and 'value="custom"' not in page
    assert 'name="claims"' not in page
    response = as_owner.post(URL, {"provider": "custom", "claims": "sub=x"})
    assert response.status_code == 400
    assert "provider: Select a valid choice" in response.content.decode()


def test_an_owner_adds_a_custom_issuers_publisher(as_owner, project, company_ci):
    page = as_owner.get(URL).content.decode()
    assert 'value="custom"' in page and "Acme CI (https://ci.acme.test)" in page
    claims = "sub=project:acme/app:ref:main\r\n\r\n  team = infra \r\n"
    response = as_owner.post(
        URL, {"provider": "custom", "custom_issuer": company_ci.pk, "claims": claims}, follow=True
    )
    publisher = TrustedPublisher.objects.get()
    assert (publisher.project, publisher.custom_issuer) == (project, company_ci)
    assert publisher.claims == {"sub": "project:acme/app:ref:main", "team": "infra"}
    page = response.content.decode()
    assert (
        "Acme CI sub=project:acme/app:ref:main, team=infra may now publish Sample.Project" in page
    )


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ("novalue", "A claim is NAME=VALUE, not &#x27;novalue&#x27;."),
        ("sub=", "A claim is NAME=VALUE"),
        ("aud=pypi", "The claim &#x27;aud&#x27; is the token&#x27;s own"),
        ("sub=a\nsub=b", "The claim &#x27;sub&#x27; is given twice."),
        ("\n".join(f"c{n}=v" for n in range(21)), "At most 20 claims."),
        ("", "A custom publisher needs at least one claim."),
    ],
)
def test_a_custom_publishers_claims_are_checked(as_owner, company_ci, claims, message):
    response = as_owner.post(
        URL, {"provider": "custom", "custom_issuer": company_ci.pk, "claims": claims}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TrustedPublisher.objects.exists()


def test_a_custom_publisher_needs_its_issuer(as_owner, company_ci):
    response = as_owner.post(URL, {"provider": "custom", "claims": "sub=x"})
    assert response.status_code == 400
    assert "needs an issuer the index" in response.content.decode()


def test_an_owner_removes_a_publisher(as_owner, project):
    publisher = TrustedPublisher.objects.create(project=project, provider="google", email="b@p.iam")
    response = as_owner.post(REMOVE, {"publisher": publisher.pk}, follow=True)
    assert "Google Cloud b@p.iam may no longer publish Sample.Project." in response.content.decode()
    assert not TrustedPublisher.objects.exists()
    assert Event.objects.filter(project=project, tag="project:trusted-publisher:removed").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [("999", "Sample.Project has no such publisher."), ("x", "publisher: Enter a whole number.")],
)
def test_removing_what_is_not_a_publisher_of_the_project(as_owner, value, message):
    response = as_owner.post(REMOVE, {"publisher": value}, follow=True)
    assert response.redirect_chain[-1][0] == URL
    assert message in response.content.decode()


def test_another_projects_publisher_is_not_removed(as_owner, project):
    other = TrustedPublisher.objects.create(
        pending_name="elsewhere", pending_normalized_name="elsewhere", provider="google",
        email="b@p.iam",
    )  # fmt: skip
    response = as_owner.post(REMOVE, {"publisher": other.pk}, follow=True)
    assert "Sample.Project has no such publisher." in response.content.decode()
    assert TrustedPublisher.objects.filter(pk=other.pk).exists()


def test_maintainers_may_not(client, maintainer, project):
    client.force_login(maintainer)
    assert client.get(URL).status_code == 403
    assert client.post(URL, GITHUB).status_code == 403
    assert not TrustedPublisher.objects.exists()


# --- /manage/account/publishing/: pending publishers

PENDING = "/manage/account/publishing/"


@pytest.fixture
def as_user(client, owner):
    client.force_login(owner)
    return client


def test_your_projects_links_to_pending_publishers(as_user):
    assert f'href="{PENDING}"' in as_user.get("/manage/projects/").content.decode()


def test_add_a_pending_publisher(as_user, owner):
    response = as_user.post(PENDING, {"project_name": "Brand.New", **GITHUB}, follow=True)
    publisher = TrustedPublisher.objects.get()
    assert publisher.pending_name == "Brand.New" and publisher.added_by == owner
    page = response.content.decode()
    assert "may now create Brand.New" in page
    assert f'data-publisher="{publisher.pk}"' in page


def test_a_refused_pending_publisher_says_why(as_user, project):
    response = as_user.post(PENDING, {"project_name": "sample-project", **GITHUB})
    assert response.status_code == 400
    assert "exists already" in response.content.decode()


def test_a_pending_publisher_needs_a_name(as_user):
    response = as_user.post(PENDING, GITHUB)
    assert response.status_code == 400
    assert "Project name: This field is required." in response.content.decode()
    assert not TrustedPublisher.objects.exists()


def test_remove_a_pending_publisher(as_user, owner):
    publisher = TrustedPublisher.objects.create(
        pending_name="new", pending_normalized_name="new", provider="google", email="b@p.iam",
        added_by=owner,
    )  # fmt: skip
    response = as_user.post(PENDING + "remove/", {"publisher": publisher.pk}, follow=True)
    assert "may no longer create new" in response.content.decode()
    assert not TrustedPublisher.objects.exists()


def test_another_accounts_pending_publisher_is_not_removed(as_user, maintainer):
    publisher = TrustedPublisher.objects.create(
        pending_name="new", pending_normalized_name="new", provider="google", email="b@p.iam",
        added_by=maintainer,
    )  # fmt: skip
    response = as_user.post(PENDING + "remove/", {"publisher": publisher.pk}, follow=True)
    assert "You have no such pending publisher." in response.content.decode()
    assert TrustedPublisher.objects.exists()
    response = as_user.post(PENDING + "remove/", {"publisher": "x"}, follow=True)
    assert "You have no such pending publisher." in response.content.decode()


def test_a_pending_custom_publisher(as_user, owner, company_ci):
    response = as_user.post(
        PENDING,
        {"project_name": "new-thing", "provider": "custom", "custom_issuer": company_ci.pk,
         "claims": "sub=x"},
    )  # fmt: skip
    assert response.status_code == 302
    assert TrustedPublisher.objects.get().claims == {"sub": "x"}
