"""The security history of accounts and projects: one append-only table.

Tags name what happened, ``<subject>:<what>[:<outcome>]``, e.g.
``account:login:success``, ``account:login:failure``, ``account:two-factor:totp-added``,
``account:token:created``, ``project:role:added``, ``project:release:yanked``.
"""

from django.http import HttpRequest

from common.client_address import client_address

from .models import Event, User


def client_ip(request: HttpRequest | None) -> str | None:
    # The peer, or behind TRUSTED_PROXIES the client they forwarded for.
    if request is None:
        return None
    return client_address(request)


def record_event(
    tag: str,
    *,
    request: HttpRequest | None = None,
    user: User | None = None,
    project=None,
    actor: User | None = None,
    ip_address: str | None = None,
    user_agent: str = "",
    **details,
) -> Event:
    """Append one event about ``user`` or ``project`` (or both). ``actor``
    defaults to the signed-in user of ``request``; IP and user agent come from
    the request too, or, without one, from ``ip_address`` and ``user_agent``."""
    event = new_event(
        tag,
        request=request,
        user=user,
        project=project,
        actor=actor,
        ip_address=ip_address,
        user_agent=user_agent,
        **details,
    )
    event.save(force_insert=True)
    return event


def new_event(
    tag: str,
    *,
    request: HttpRequest | None = None,
    user: User | None = None,
    project=None,
    actor: User | None = None,
    ip_address: str | None = None,
    user_agent: str = "",
    **details,
) -> Event:
    """``record_event``'s event, not saved yet: a change that records several
    saves them with one ``record_events``."""
    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user
    return Event(
        tag=tag,
        user=user,
        project=project,
        project_name=project.name if project is not None else "",
        actor=actor,
        ip_address=client_ip(request) if request is not None else ip_address,
        user_agent=(request.META.get("HTTP_USER_AGENT", "") if request is not None else user_agent)[
            :255
        ],
        details=details,
    )


def record_events(events: list[Event]) -> None:
    """Append the events built by ``new_event``, in their order, in one INSERT."""
    Event.objects.bulk_create(events)
