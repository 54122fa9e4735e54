"""Kill switches: site-wide flags moderators turn on during an incident (the
public index's AdminFlag ids, so its operators' habits carry over).

They live in accounts because accounts is the lowest app that enforces one
(registration): packages (uploads, new projects) and moderation (switching
them, the admin) import them from here, never the other way round.

Reading them: the gates (an upload, a registration, any other write) read the
database, once per request, so a switch takes effect on the next write on every
machine, and store what they read in the cache. Pages (the read-only banner)
read only that cached copy, never the database, so a page's queries do not
change; a missing copy (a flushed or evicted cache) reads as "all off" until
the next switch or gate stores it again. A switch stores the new state after
its commit.
"""

from django.core.cache import cache
from django.db import transaction
from django.shortcuts import render
from django.utils.functional import SimpleLazyObject

from .models import AdminFlag

READ_ONLY = "read-only"
DISALLOW_NEW_UPLOAD = "disallow-new-upload"
DISALLOW_NEW_PROJECT_REGISTRATION = "disallow-new-project-registration"
DISALLOW_NEW_USER_REGISTRATION = "disallow-new-user-registration"
KILL_SWITCHES = (
    READ_ONLY,
    DISALLOW_NEW_UPLOAD,
    DISALLOW_NEW_PROJECT_REGISTRATION,
    DISALLOW_NEW_USER_REGISTRATION,
)

# The switches every HTML page shows (templates/base.html: the read-only
# banner). Switching one changes every page, so moderation purges them all at
# the edges; the others change no cached answer.
SHOWN_ON_PAGES = frozenset({READ_ONLY})

# The messages people see. Uploads answer 403 with the message in the reason
# phrase, as the public index does (twine prints it; a 5xx would make uv retry).
UPLOAD_READ_ONLY = "Read-only mode: Uploads are temporarily disabled."
UPLOAD_DISABLED = "New uploads are temporarily disabled by the administrators. Try again later."
NEW_PROJECT_DISABLED = (
    "New project registration is temporarily disabled by the administrators. "
    "Uploads to existing projects still work."
)
REGISTRATION_DISABLED = (
    "New user registration is temporarily disabled by the administrators. Try again later."
)
READ_ONLY_MESSAGE = (
    "The index is in read-only mode for now: browsing and installing packages work, "
    "but changes to accounts and projects are refused. Try again later."
)

CACHE_KEY = "kill-switches:1"


def enabled_flags(*, fresh: bool = False) -> frozenset[str]:
    """The ids of the switches that are on: ``fresh``, from the database (a
    gate), else the cached copy (a page)."""
    if not fresh:
        return cache.get(CACHE_KEY, frozenset())
    flags = frozenset(AdminFlag.objects.filter(enabled=True).values_list("pk", flat=True))
    cache.set(CACHE_KEY, flags, None)
    return flags


def store_flags_on_commit() -> None:
    """After a switch commits, read the rows again and store them for the pages:
    read after the commit, so the copy is never older than this switch."""
    transaction.on_commit(lambda: enabled_flags(fresh=True))


def registration_closed() -> bool:
    flags = enabled_flags(fresh=True)
    return READ_ONLY in flags or DISALLOW_NEW_USER_REGISTRATION in flags


def context(request) -> dict:
    """Template context: ``kill_switches``, read only by a template that uses it."""
    return {"kill_switches": SimpleLazyObject(enabled_flags)}


# Writes that read-only mode lets through: signing in and out (moderators must
# be able to sign in to switch it off; a session is no index data), the admin
# (where it is switched off), the upload (it refuses with its own message, in
# the form twine prints) and XML-RPC (every call is a read, over POST).
READ_ONLY_EXEMPT = {
    "login",
    "logout",
    "login-two-factor",
    "login-two-factor-webauthn-options",
    "login-two-factor-webauthn-verify",
    "upload",
    "xmlrpc",
}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}


class ReadOnlyMiddleware:
    """In read-only mode every other write (POST and friends) is a 503 page
    saying so; reads, so pages and installs, are untouched and cost nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method in SAFE_METHODS:
            return None
        match = request.resolver_match
        if match.app_name == "admin" or match.url_name in READ_ONLY_EXEMPT:
            return None
        if READ_ONLY not in enabled_flags(fresh=True):
            return None
        return render(request, "read_only.html", {"message": READ_ONLY_MESSAGE}, status=503)
