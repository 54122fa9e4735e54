"""What the index's APIs for tools (the simple API and the JSON API) answer
alike: times as PEP 700 spells them, and the headers of a public answer."""

from collections.abc import Mapping
from datetime import UTC, datetime

from django.conf import settings

from .surrogate import surrogate_headers

# Browser code reads the APIs from other origins, as on the public index. Only
# simple GETs happen (OPTIONS is refused), so no preflight asks for more.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    # The mirror's headers say whether a page came from the upstream, and how fresh.
    "Access-Control-Expose-Headers": "X-PyPI-Last-Serial, X-Mirror-Status, X-Mirror-Checked",
}
# The JSON API also sends what the public index's sends for a CORS preflight
# (the methods and request headers allowed, and for how long).
JSON_CORS_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Headers": (
        "Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since"
    ),
    "Access-Control-Allow-Methods": "GET",
    "Access-Control-Max-Age": "86400",
}


def pep700_time(value: datetime) -> str:
    """``value`` as PEP 700's ``upload-time``: ISO 8601 in UTC, with
    microseconds and a "Z" suffix."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def public_headers(surrogate_key: str, cors: Mapping[str, str] = CORS_HEADERS) -> dict[str, str]:
    """The headers of an API answer anyone may keep and read: browsers and
    shared caches for SIMPLE_CACHE_SECONDS, an edge under ``surrogate_key``
    (packages.surrogate), and pages of other origins."""
    return {
        "Cache-Control": f"max-age={settings.SIMPLE_CACHE_SECONDS}, public",
        **surrogate_headers(surrogate_key),
        **cors,
    }
