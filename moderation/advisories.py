"""Moderators' security advisories: import an OSV record (pasted in the admin),
withdraw or delete an advisory, whoever entered it. The rules are
packages.advisories'; here each action takes the moderator's ``actor`` and a
non-empty ``reason`` and records a ModerationAction in the same transaction."""

from django.db import transaction

from accounts.events import Actor
from packages import advisories
from packages.models import Advisory

from .services import ModerationError, _reason, _record


def moderator_advisory_import(*, text: str, actor: Actor, reason: str) -> list:
    """Store the OSV record ``text`` on each of its projects here; the
    outcomes (packages.advisories.Outcome) say what became of each."""
    reason = _reason(reason)
    try:
        parsed = advisories.parse_osv_text(text)
    except advisories.AdvisoryError as exc:
        raise ModerationError(exc.message) from None
    with transaction.atomic():
        outcomes = advisories.advisory_import(parsed=parsed, actor=actor)
        for outcome in outcomes:
            if outcome.advisory is not None:
                _record(
                    "import advisory",
                    actor=actor,
                    reason=reason,
                    project=outcome.advisory.project,
                    advisory=parsed.osv_id,
                    result=outcome.result,
                )
    return outcomes


def _advisory_action(action: str, advisory: Advisory, actor: Actor, reason: str, call) -> None:
    reason = _reason(reason)
    with transaction.atomic():
        _record(
            action, actor=actor, reason=reason, project=advisory.project, advisory=advisory.osv_id
        )
        try:
            call()
        except advisories.AdvisoryError as exc:
            raise ModerationError(exc.message) from None


def moderator_advisory_withdraw(*, advisory: Advisory, actor: Actor, reason: str) -> None:
    _advisory_action(
        "withdraw advisory",
        advisory,
        actor,
        reason,
        lambda: advisories.advisory_withdraw(advisory=advisory, actor=actor),
    )


def moderator_advisory_delete(*, advisory: Advisory, actor: Actor, reason: str) -> None:
    _advisory_action(
        "delete advisory",
        advisory,
        actor,
        reason,
        lambda: advisories.advisory_delete(advisory=advisory, actor=actor),
    )
