from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiToken
from accounts.tokens import TokenError, api_token_revoke, api_tokens_matching, token_display_prefix

# Candidates named when a prefix is ambiguous.
_SHOWN = 10


def _describe(token: ApiToken) -> str:
    note = f", “{token.description}”" if token.description else ""
    return f"{token_display_prefix(token)}… ({token.user.username}{note})"


def _candidate(token: ApiToken) -> str:
    return _describe(token) + (" revoked" if token.revoked_at is not None else "")


class Command(BaseCommand):
    help = (
        "Revoke an API token, given whole (as leaked) or by its start as the token pages "
        "show it (pypi-1a2b3c…). Recorded in its owner's security history."
    )

    def add_arguments(self, parser):
        parser.add_argument("token", help="the whole token, or 'pypi-' and its first characters")

    def handle(self, *args, token, **options):
        try:
            matches = api_tokens_matching(token)
        except TokenError as error:
            raise CommandError(str(error)) from None
        if not matches:
            raise CommandError("No API token matches that; nothing was revoked.")
        if len(matches) > 1:
            shown = "\n  ".join(_candidate(match) for match in matches[:_SHOWN])
            more = f"\n  ... and {len(matches) - _SHOWN} more" if len(matches) > _SHOWN else ""
            raise CommandError(
                f"{len(matches)} API tokens start so; give more characters. Nothing was "
                f"revoked.\n  {shown}{more}"
            )
        (match,) = matches
        # The service's conditional update decides a race with a revocation
        # elsewhere (the owner's click, a leak report): only one wins.
        if not api_token_revoke(match):
            raise CommandError(
                f"{_describe(match)} was already revoked at {match.revoked_at:%Y-%m-%d %H:%M} UTC."
            )
        self.stdout.write(f"Revoked {_describe(match)}.")
