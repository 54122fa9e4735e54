"""Security headers and the security settings: a Content Security Policy and a
Permissions Policy on pages, nothing extra on JSON, CSRF on every form, secure
cookies and HSTS outside the local default."""

import base64
import hashlib
import re

import pytest
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.test import Client
from django.urls import get_resolver

from pypi_site import middleware
from pypi_site.middleware import (
    PERMISSIONS_POLICY,
    SecurityHeadersMiddleware,
    content_security_policy,
    document_headers,
    inline_style_hashes,
)
from tests.factories import add_file, make_release, make_wheel
from tests.pypi_site.test_settings import load

pytestmark = pytest.mark.django_db


def directives(policy: str) -> dict[str, str]:
    return dict((part.strip() + " ").split(" ", 1) for part in policy.split(";"))


@pytest.fixture
def published(project):
    add_file(make_release(project, "1.0"), make_wheel("sample-project", "1.0"))
    return project


def test_pages_carry_the_policy(client, published):
    response = client.get("/project/sample-project/")

    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"].strip() == "'self'"
    assert policy["img-src"].strip() == "'self' https: data:"
    assert policy["script-src"].strip() == "'self'"
    assert policy["style-src"].startswith("'self' 'sha256-")
    assert policy["object-src"].strip() == "'none'"
    assert policy["base-uri"].strip() == "'none'"
    assert policy["frame-ancestors"].strip() == "'none'"
    assert policy["form-action"].strip() == "'self'"
    assert "upgrade-insecure-requests" not in policy  # plain-http local default
    assert response["Permissions-Policy"] == PERMISSIONS_POLICY
    assert "camera=()" in PERMISSIONS_POLICY
    assert "geolocation=()" in PERMISSIONS_POLICY
    # From SecurityMiddleware and XFrameOptionsMiddleware.
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_error_pages_carry_the_policy(client, db):
    response = client.get("/project/no-such-project/")

    assert response.status_code == 404
    assert "Content-Security-Policy" in response


def test_html_simple_pages_carry_the_policy_json_ones_do_not(client, published):
    html = client.get("/simple/sample-project/")
    json = client.get("/simple/sample-project/", HTTP_ACCEPT="application/vnd.pypi.simple.v1+json")

    assert html["Content-Type"].startswith("text/html")
    assert "Content-Security-Policy" in html
    assert "Content-Security-Policy" not in json
    assert "Permissions-Policy" not in json
    assert json["X-Content-Type-Options"] == "nosniff"


def test_json_answers_have_no_page_headers(client, published):
    response = client.get("/search/suggest/", {"q": "sample"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "Content-Security-Policy" not in response
    assert "Permissions-Policy" not in response


def test_https_sites_upgrade_insecure_requests(settings):
    settings.DEBUG = False
    settings.SESSION_COOKIE_SECURE = True
    assert content_security_policy().endswith("; upgrade-insecure-requests")

    settings.DEBUG = True
    assert "upgrade-insecure-requests" not in content_security_policy()


def test_the_error_page_style_is_allowed_by_its_hash(settings):
    # What the browser hashes: the text of the <style> element as rendered.
    rendered = render_to_string("500.html")
    (css,) = re.findall(r"<style>(.*?)</style>", rendered, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()

    assert f"'sha256-{digest}'" in directives(content_security_policy())["style-src"]


def test_inline_style_hashes_of_a_missing_template(tmp_path):
    assert inline_style_hashes(tmp_path / "missing.html") == []


def test_inline_style_hashes_of_each_style_element(tmp_path):
    template = tmp_path / "page.html"
    template.write_text("<style>a{}</style><p>text</p><style>\nb{}\n</style>")

    assert len(inline_style_hashes(template)) == 2


def test_document_headers_only_for_html():
    assert [name for name, _ in document_headers("text/html; charset=utf-8")] == [
        "Content-Security-Policy",
        "Permissions-Policy",
    ]
    assert document_headers("application/json") == []
    assert document_headers("application/vnd.pypi.simple.v1+html") == []


def test_a_views_own_policy_is_kept(rf):
    def view(request):
        response = HttpResponse("<p>frame me</p>")
        response["Content-Security-Policy"] = "frame-ancestors 'self'"
        return response

    response = SecurityHeadersMiddleware(view)(rf.get("/"))

    assert response["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert response["Permissions-Policy"] == PERMISSIONS_POLICY


def test_responses_without_content_type_pass(rf):
    def view(request):
        response = HttpResponse(status=204)
        del response["Content-Type"]
        return response

    response = SecurityHeadersMiddleware(view)(rf.get("/"))

    assert "Content-Security-Policy" not in response


@pytest.mark.parametrize("status", [404, 500])
def test_debug_pages_keep_their_inline_styles(rf, settings, status):
    settings.DEBUG = True
    response = SecurityHeadersMiddleware(lambda request: HttpResponse(status=status))(rf.get("/"))

    assert "Content-Security-Policy" not in response


def test_debug_pages_that_are_not_errors_get_the_policy(rf, settings):
    settings.DEBUG = True
    response = SecurityHeadersMiddleware(lambda request: HttpResponse("page"))(rf.get("/"))
    json = SecurityHeadersMiddleware(lambda request: JsonResponse({}))(rf.get("/"))

    assert "Content-Security-Policy" in response
    assert "Content-Security-Policy" not in json


def test_policy_is_built_at_start_up():
    assert middleware._STYLE_SOURCES.startswith("'self' 'sha256-")


# --- CSRF ------------------------------------------------------------------------

# Views that take POSTs without Django's CSRF token, each for a reason: the upload
# authenticates every request with an API token (no cookie), the secret-scanning
# report with a signature. Anything new here needs the same kind of reason.
CSRF_EXEMPT = {
    "legacy/": "packages.views.upload.file_upload",
    "_/secrets/disclose-token/": "accounts.views.secret_scanning.disclose_token",
    # XML-RPC clients (mirrors, xmlrpc.client) post without cookies; it only reads.
    "pypi": "packages.views.xmlrpc.xmlrpc",
    # Trusted publishing: CI clients post an OIDC token (mint) or the minted
    # upload token (burn), never a cookie; the token is the credential.
    "_/oidc/mint-token": "packages.views.trusted_publishing.oidc_mint_token",
    "_/oidc/burn-token": "packages.views.trusted_publishing.oidc_burn_token",
    # Upload 2.0 (PEP 694): tools send an API token, never a cookie.
    **{
        f"upload/2.0/{path}": f"packages.views.upload_sessions.{view}"
        for path, view in {
            "": "create_session",
            "sessions/<uuid:uuid>/": "session_detail",
            "sessions/<uuid:uuid>/publish": "publish",
            "sessions/<uuid:uuid>/extend": "extend",
            "sessions/<uuid:uuid>/files/": "create_file_session",
            "sessions/<uuid:uuid>/files/<uuid:file_uuid>/": "file_session",
            "sessions/<uuid:uuid>/files/<uuid:file_uuid>/content": "file_content",
            "sessions/<uuid:uuid>/files/<uuid:file_uuid>/complete": "complete_file",
        }.items()
    },
}


def _views(patterns, prefix=""):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _views(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern.callback


def test_only_the_known_views_skip_csrf(settings):
    exempt = {
        path: f"{view.__module__}.{view.__name__}"
        for path, view in _views(get_resolver().url_patterns)
        if getattr(view, "csrf_exempt", False)
    }

    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE
    assert exempt == CSRF_EXEMPT


def test_forms_without_the_csrf_token_are_refused(owner):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/admin/login/", {"username": "olivia", "password": "correct horse battery"}
    )

    assert response.status_code == 403


# --- settings ------------------------------------------------------------------------

SECURITY_VARIABLES = ("SECURE_COOKIES", "SECURE_ORIGIN", "SECURE_HSTS_SECONDS")


def load_clean(monkeypatch, tmp_path, **env):
    for name in SECURITY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return load(monkeypatch, tmp_path, **env)


def test_local_default_keeps_plain_http_cookies(monkeypatch, tmp_path):
    settings = load_clean(monkeypatch, tmp_path)

    assert settings.SESSION_COOKIE_SECURE is False
    assert settings.CSRF_COOKIE_SECURE is False
    assert settings.SECURE_HSTS_SECONDS == 0
    position = settings.MIDDLEWARE.index("pypi_site.middleware.SecurityHeadersMiddleware")
    assert settings.MIDDLEWARE[position - 1] == "django.middleware.security.SecurityMiddleware"


@pytest.mark.parametrize("hosts", ["localhost,127.0.0.1,[::1],::1", "index.localhost"])
def test_loopback_names_keep_plain_http_cookies(monkeypatch, tmp_path, hosts):
    assert load_clean(monkeypatch, tmp_path, ALLOWED_HOSTS=hosts).SESSION_COOKIE_SECURE is False


@pytest.mark.parametrize("hosts", ["pypi.example.com", "127.0.0.1,pypi.example.com", "*"])
def test_a_public_host_name_means_secure_cookies(monkeypatch, tmp_path, hosts):
    settings = load_clean(monkeypatch, tmp_path, ALLOWED_HOSTS=hosts)

    assert settings.SESSION_COOKIE_SECURE is True
    assert settings.CSRF_COOKIE_SECURE is True


def test_secure_origin_means_secure_cookies(monkeypatch, tmp_path):
    settings = load_clean(monkeypatch, tmp_path, SECURE_ORIGIN="https://127.0.0.1")

    assert settings.SESSION_COOKIE_SECURE is True


def test_debug_never_defaults_to_secure_cookies(monkeypatch, tmp_path):
    settings = load_clean(monkeypatch, tmp_path, DEBUG="true", ALLOWED_HOSTS="pypi.example.com")

    assert settings.SESSION_COOKIE_SECURE is False


def test_secure_cookies_switch_wins(monkeypatch, tmp_path):
    off = load_clean(monkeypatch, tmp_path, ALLOWED_HOSTS="pypi.lan", SECURE_COOKIES="false")
    on = load_clean(monkeypatch, tmp_path, SECURE_COOKIES="true")

    assert off.SESSION_COOKIE_SECURE is False
    assert off.CSRF_COOKIE_SECURE is False
    assert on.SESSION_COOKIE_SECURE is True


def test_hsts_behind_a_tls_proxy(monkeypatch, tmp_path):
    settings = load_clean(
        monkeypatch, tmp_path, ALLOWED_HOSTS="pypi.example.com", BEHIND_TLS_PROXY="true"
    )

    assert settings.SECURE_HSTS_SECONDS == 365 * 24 * 60 * 60
    assert settings.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")


def test_hsts_explicit_and_off_in_debug(monkeypatch, tmp_path):
    explicit = load_clean(monkeypatch, tmp_path, BEHIND_TLS_PROXY="true", SECURE_HSTS_SECONDS="60")
    debug = load_clean(monkeypatch, tmp_path, BEHIND_TLS_PROXY="true", DEBUG="true")

    assert explicit.SECURE_HSTS_SECONDS == 60
    assert debug.SECURE_HSTS_SECONDS == 0


def test_hsts_is_sent_on_https_answers(client, settings, db):
    settings.SECURE_HSTS_SECONDS = 3600

    secure = client.get("/help/", secure=True)
    plain = client.get("/help/")

    assert secure["Strict-Transport-Security"] == "max-age=3600"
    assert "Strict-Transport-Security" not in plain
