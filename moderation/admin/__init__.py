"""The moderators' console: every model the Django admin shows, registered
here, so the apps below (accounts, packages) carry no admin of their own and
never import moderation. See docs/moderation.md.

- ``support``: the pieces every page shares (read-only model admins, counts
  that stay fast on large tables, actions that ask for a reason);
- ``accounts``: accounts, e-mails, events, tokens, kill switches;
- ``packages``: projects, releases, files, roles, the journal;
- ``queues``: reports, name reviews, prohibited names, moderators' actions;
- ``upstream``: the mirrored upstream index's projects and blocks.
- ``namespaces``: namespace grants (PEP 752);
- ``organizations``: organizations, their people and teams.
- ``advisories``: security advisories (OSV records) on projects.
- ``trusted_publishing``: OIDC issuers the admins trust, projects' publishers.
- ``upload_sessions``: publishing sessions (PEP 694) and their staged files.
"""

# Registering is importing.
from . import (  # noqa: F401
    accounts,
    advisories,
    namespaces,
    organizations,
    packages,
    queues,
    trusted_publishing,
    upload_sessions,
    upstream,
)
