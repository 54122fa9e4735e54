"""What a visitor sees of a twine upload, from the real server: the README
rendered at upload (in gunicorn, through the renderer's child process), the
install command, search and the feed."""

import http.client
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.e2e


def page(server, path: str) -> str:
    status, body = server.get(path)
    assert status == 200, f"GET {path}: {status}\n{body[:2000]!r}"
    return body.decode()


def test_project_page_shows_the_rendered_readme_and_install_command(server, published):
    html = page(server, "/project/e2e-demo/")
    # 2.0 needs Python >= 3.99 but is still the newest non-yanked release.
    assert "e2e-demo" in html and "2.0" in html
    assert "<p>Hello from the README.</p>" in html
    assert "pip install e2e-demo" in html


def test_a_new_upload_is_found_by_search_and_listed_in_the_feed(server, published):
    assert 'href="/project/e2e-demo/"' in page(server, "/search/?q=e2e-demo")
    feed = page(server, "/rss/project/e2e-demo/releases.xml")
    assert "/project/e2e-demo/1.0/" in feed


@pytest.mark.parametrize("path", ["/project/E2E_Demo/", "/pypi/E2E.Demo/"])
def test_odd_project_urls_redirect_to_the_canonical_page(server, published, path):
    host, port = urlsplit(server.url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        assert (response.status, response.getheader("Location")) == (301, "/project/e2e-demo/")
    finally:
        connection.close()
