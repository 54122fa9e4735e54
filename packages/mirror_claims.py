"""Who may take a name the upstream index has (issue 14, dependency confusion).

With a mirrored upstream, a local project shadows the upstream's project of the
same name completely (packages.mirror never merges them). So a new local project
may take a name only when the upstream has no such project, or a moderator
allowed it (moderation.upstream.upstream_claim_allow): otherwise any uploader
could replace a public dependency for every client of this index. Names under
PRIVATE_NAME_PATTERNS are never asked about (the company's own namespace), nor
are names under a restricted namespace grant (PEP 752, hidden ones too): the
upload's permission check (packages.policy, before this one) lets only the
grant's organization's Owners and Managers create such a project (409 for
anyone else), and the name is the organization's whatever the upstream has:
the mirror never offers it either (packages.mirror.is_reserved).
"""

from django.conf import settings

from . import mirror
from .models import UpstreamProject
from .policy import UploadError


def _upstream_has(normalized_name: str) -> bool:
    """Whether the upstream has the name, by the mirror's own page of it
    (fetched, or revalidated when older than UPSTREAM_FRESHNESS), so the answer
    is recorded where the mirror and the moderators read it."""
    before = (
        UpstreamProject.objects.filter(normalized_name=normalized_name)
        .values_list("checked_at", flat=True)
        .first()
    )
    row = mirror.refresh(normalized_name)
    # refresh answers with what it holds when the upstream can't be asked: an
    # answer is fresh, or was just given (checked_at moved).
    if row is None or not (mirror.is_fresh(row) or row.checked_at != before):
        # Refused rather than let through: a name claimed while the upstream
        # is down could be a public project's, shadowed from then on.
        raise UploadError(
            f"The name {normalized_name!r} can't be checked against the upstream index "
            f"{settings.UPSTREAM_INDEX_URL} right now (it did not answer); "
            f"try the upload again later.",
            status=503,
        )
    return row.exists


def check_claim(normalized_name: str) -> None:
    """May a new local project take ``normalized_name``? UploadError if not:
    403 when the upstream has the name and no moderator allowed the claim, 503
    when the upstream can't be asked."""
    if not mirror.enabled() or mirror.is_reserved(normalized_name):
        return
    allowed = UpstreamProject.objects.filter(
        normalized_name=normalized_name, claim_allowed_at__isnull=False
    ).exists()
    if allowed:
        return
    if _upstream_has(normalized_name):
        raise UploadError(
            f"The name {normalized_name!r} belongs to a project on the upstream index "
            f"{settings.UPSTREAM_INDEX_URL}; a local project can take it only with a "
            f"moderator's permission (ask them to allow the claim).",
            status=403,
        )


def project_claimed(normalized_name: str) -> None:
    """A local project takes ``normalized_name`` (in the transaction creating
    it): once it commits, what the mirror offered for the name (cached pages,
    files at the edges) is dropped."""
    if mirror.enabled():
        mirror.forget(normalized_name)
