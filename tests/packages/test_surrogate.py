"""What the edge is told: surrogate keys on every cacheable answer, the keys a
purge names (packages.purges.project_keys), and Surrogate-Control only where
purges are configured."""

import pytest

from packages.surrogate import purges_configured, surrogate_headers
from packages.views import files
from tests.factories import make_release, make_wheel
from tests.packages.test_simple import add_file

EDGE_CONTROL = "max-age=86400, stale-if-error=86400"


@pytest.fixture
def purged_at_varnish(settings):
    settings.EDGE_PURGE_URLS = ["http://127.0.0.1:8001"]


def test_without_purges_no_long_edge_lifetime(settings):
    assert not purges_configured()

    assert surrogate_headers("simple", "simple-demo") == {"Surrogate-Key": "simple simple-demo"}


def test_varnish_purges_allow_the_long_edge_lifetime(settings, purged_at_varnish):
    settings.EDGE_MAX_AGE = 7200
    settings.EDGE_STALE_IF_ERROR = 600

    assert surrogate_headers("json-demo") == {
        "Surrogate-Key": "json-demo",
        "Surrogate-Control": "max-age=7200, stale-if-error=600",
    }


@pytest.mark.parametrize(
    ("token", "service", "configured"),
    [("secret", "svc", True), ("secret", "", False), ("", "svc", False)],
)
def test_fastly_purges_need_a_token_and_a_service(settings, token, service, configured):
    settings.FASTLY_API_TOKEN = token
    settings.FASTLY_SERVICE_ID = service

    assert purges_configured() is configured
    assert ("Surrogate-Control" in surrogate_headers("rss")) is configured


def test_edge_max_age_zero_sends_no_surrogate_control(settings, purged_at_varnish):
    settings.EDGE_MAX_AGE = 0

    assert surrogate_headers("rss") == {"Surrogate-Key": "rss"}


def test_simple_page_keys_and_edge_lifetime(client, project, purged_at_varnish):
    response = client.get(f"/simple/{project.normalized_name}/")

    assert response.status_code == 200
    assert response["Surrogate-Key"] == f"simple simple-{project.normalized_name}"
    assert response["Surrogate-Control"] == EDGE_CONTROL
    assert response["Cache-Control"] == "max-age=600, public"


def test_json_keys_and_edge_lifetime(client, project, purged_at_varnish):
    make_release(project, "1.0")

    response = client.get(f"/pypi/{project.normalized_name}/json")

    assert response.status_code == 200
    assert response["Surrogate-Key"] == f"json json-{project.normalized_name}"
    assert response["Surrogate-Control"] == EDGE_CONTROL


def test_anonymous_project_and_release_pages_carry_the_project_key(
    client, project, purged_at_varnish
):
    make_release(project, "1.0")
    name = project.normalized_name

    for url in (f"/project/{name}/", f"/project/{name}/1.0/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == "public, max-age=60"
        assert response["Surrogate-Key"] == f"project-{name} pages"
        assert response["Surrogate-Control"] == EDGE_CONTROL


def test_signed_in_project_page_is_private_and_keyless(client, project, owner):
    make_release(project, "1.0")
    client.force_login(owner)

    response = client.get(f"/project/{project.normalized_name}/")

    assert response["Cache-Control"] == "private, no-cache"
    assert "Surrogate-Key" not in response


@pytest.mark.parametrize("url", ["/", "/help/", "/search/?q=demo"])
def test_pages_of_no_project_have_only_the_pages_key(client, db, purged_at_varnish, url):
    response = client.get(url)

    assert response.status_code == 200
    assert response["Surrogate-Key"] == "pages"
    # Purged by no change of data: at the edge no longer than Cache-Control says.
    assert "Surrogate-Control" not in response


def test_global_feeds_have_the_rss_key(client, project, purged_at_varnish):
    for url in ("/rss/updates.xml", "/rss/packages.xml"):
        response = client.get(url)
        assert response.status_code == 200
        assert response["Surrogate-Key"] == "rss"
        assert response["Surrogate-Control"] == EDGE_CONTROL


def test_project_feed_and_its_redirect_have_the_project_feed_key(client, project):
    make_release(project, "1.0")
    name = project.normalized_name

    feed = client.get(f"/rss/project/{name}/releases.xml")
    redirect = client.get(f"/rss/project/{name.upper()}/releases.xml")

    assert feed.status_code == 200
    assert feed["Surrogate-Key"] == f"rss rss-{name}"
    assert redirect.status_code == 301
    assert redirect["Surrogate-Key"] == f"rss rss-{name}"


def test_files_and_metadata_carry_the_project_files_key(client, project, purged_at_varnish):
    wheel = add_file(project, make_wheel(), with_metadata=True)

    for path in (wheel.path, wheel.path + ".metadata"):
        response = client.get(f"/packages/{path}")
        assert response.status_code == 200, path
        assert response["Surrogate-Key"] == f"files files-{project.normalized_name}"
        # Immutable bytes: the year of Cache-Control, not the edge lifetime.
        assert response["Cache-Control"] == "public, max-age=31536000, immutable"
        assert "Surrogate-Control" not in response


def test_file_lookup_names_the_project(project):
    wheel = add_file(project, make_wheel())

    assert files.lookup(wheel.path).project == project.normalized_name
