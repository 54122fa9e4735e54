"""Security headers for pages a browser renders.

SecurityMiddleware already sends X-Content-Type-Options, Referrer-Policy and
Cross-Origin-Opener-Policy on every answer (and HSTS on HTTPS ones); this adds
what it lacks for HTML documents: a Content Security Policy and a Permissions
Policy. JSON, feeds and files get neither: a browser doesn't run them as
documents, and downloads carry their own sandbox policy (packages.views.files).

The WSGI fast path answers simple pages before Django: it adds the same
headers through ``document_headers``, so both paths answer alike.
"""

import base64
import hashlib
import re
from pathlib import Path

from django.conf import settings

_ERROR_TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "500.html"
_STYLE_ELEMENT = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def inline_style_hashes(template: Path) -> list[str]:
    """CSP sources allowing the <style> elements of ``template`` exactly.

    500.html carries its CSS inline on purpose (it must render when static
    files are what failed); the hash allows that CSS and no other inline style.
    """
    try:
        text = template.read_text()
    except FileNotFoundError:
        return []
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()}'"
        for css in _STYLE_ELEMENT.findall(text)
    ]


_STYLE_SOURCES = " ".join(["'self'", *inline_style_hashes(_ERROR_TEMPLATE)])

# README images are hot-linked from anywhere on https (the renderer keeps
# remote <img> sources); everything else comes from this origin.
_POLICY = (
    "default-src 'self'",
    "img-src 'self' https: data:",
    "script-src 'self'",
    f"style-src {_STYLE_SOURCES}",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
)

# Powerful features no page here uses, off for the page and anything it frames.
# Only names Chromium knows: an unknown one is reported as a console error.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
)


def content_security_policy() -> str:
    directives = list(_POLICY)
    # Only where the site is HTTPS (secure cookies say so): on the plain-http
    # local default, upgraded requests for the CSS would fail.
    if not settings.DEBUG and settings.SESSION_COOKIE_SECURE:
        directives.append("upgrade-insecure-requests")
    return "; ".join(directives)


def document_headers(content_type: str) -> list[tuple[str, str]]:
    """The headers an answer of ``content_type`` gets on top of SecurityMiddleware's."""
    if not content_type.startswith("text/html"):
        return []
    return [
        ("Content-Security-Policy", content_security_policy()),
        ("Permissions-Policy", PERMISSIONS_POLICY),
    ]


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.DEBUG and response.status_code in (404, 500):
            # Django's debug pages are all inline CSS and scripts.
            return response
        for name, value in document_headers(response.get("Content-Type", "")):
            response.headers.setdefault(name, value)
        return response
