"""What an edge cache (edge/default.vcl, Fastly) is told about an answer.

``Surrogate-Key`` names the keys a purge finds the answer by; the keys are the
ones ``packages.purges.project_keys`` purges when the project changes.
``Surrogate-Control: max-age`` lets the edge keep the answer long (hours)
while browsers keep the short ``Cache-Control`` max-age; it is sent only where
purges are configured (EDGE_PURGE_URLS, Fastly), since an edge that is never
told of a change must not keep a page past its short max-age. The edges remove
both headers before the answer goes on to a client.

Every HTML page people read also carries ``PAGES_KEY``: their common template
shows site-wide state (the read-only banner of accounts.flags), so a change of
that state (a kill switch, moderation.services) purges them all with one key.
"""

from django.conf import settings

# The key of every anonymous HTML page (packages.views.pages); JSON, simple,
# feeds and files show no banner and do not carry it.
PAGES_KEY = "pages"


def purges_configured() -> bool:
    """Whether changes are purged at some edge (packages.purges.targets)."""
    return bool(
        settings.EDGE_PURGE_URLS or (settings.FASTLY_API_TOKEN and settings.FASTLY_SERVICE_ID)
    )


def surrogate_headers(*keys: str) -> dict[str, str]:
    """The headers telling an edge the answer's keys and, with purges
    configured, its long lifetime there and how long it may be served stale
    while the app is down."""
    headers = {"Surrogate-Key": " ".join(keys)}
    if purges_configured() and settings.EDGE_MAX_AGE > 0:
        headers["Surrogate-Control"] = _control(settings.EDGE_MAX_AGE)
    return headers


def _control(max_age: int) -> str:
    return f"max-age={max_age}, stale-if-error={settings.EDGE_STALE_IF_ERROR}"


def cap_edge_lifetime(headers, seconds: int) -> None:
    """Let an edge keep the answer (where it may keep it long) at most
    ``seconds``: for an answer no purge follows when it changes.
    ``headers``: a response or a dict of its headers."""
    if "Surrogate-Control" in headers:
        headers["Surrogate-Control"] = _control(min(settings.EDGE_MAX_AGE, seconds))


def page_headers(project: str | None = None) -> dict[str, str]:
    """The headers of an anonymous HTML page: ``PAGES_KEY``, and for a page of
    ``project`` (normalized) its ``project-<name>`` key and the long edge
    lifetime, since every change of the project purges it. A page of no
    project (home, search, help) is purged by no change of data: the edge
    keeps it no longer than its Cache-Control max-age."""
    if project is None:
        return {"Surrogate-Key": PAGES_KEY}
    return surrogate_headers(f"project-{project}", PAGES_KEY)
