"""The security history of accounts and projects: one append-only table, and
the Actor every change is recorded against.

Tags name what happened, ``<subject>:<what>[:<outcome>]``, e.g.
``account:login:success``, ``account:login:failure``, ``account:two-factor:totp-added``,
``account:token:created``, ``project:role:added``, ``project:release:yanked``.
"""

from dataclasses import dataclass, replace

from django.http import HttpRequest

from common.client_address import client_address

from .models import Event, User

SHELL = "shell"


@dataclass(frozen=True)
class Actor:
    """Who makes a change and from where. Built once where the change enters
    (``from_request`` in a view, the upload or the admin; ``shell`` in a
    management command) and handed to every service, ``record_event`` and
    ``journal_append``. ``user`` None: nobody signed in, or a shell action
    that names no one; ``via`` is ``"shell"`` for the latter."""

    user: User | None = None
    ip_address: str | None = None
    user_agent: str = ""
    via: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest, *, user: User | None = None) -> "Actor":
        """The request's signed-in user (or ``user``: the upload's token holder)
        at the client's address, behind TRUSTED_PROXIES the one they forwarded for."""
        if user is None and request.user.is_authenticated:
            user = request.user
        return cls(
            user=user,
            ip_address=client_address(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )

    @classmethod
    def shell(cls, user: User | None = None) -> "Actor":
        """A management command, acting as ``user`` if it names one."""
        return cls(user=user, via=SHELL)

    def as_user(self, user: User) -> "Actor":
        """The same address and agent, acting as ``user`` (a new account
        registering, a login before the session has its user)."""
        return replace(self, user=user)


# A change no one asked for over HTTP or by name: a default for services the
# system (and the tests) call without an actor.
SYSTEM = Actor()


def record_event(
    tag: str,
    *,
    actor: Actor,
    user: User | None = None,
    project=None,
    organization=None,
    **details,
) -> Event:
    """Append one event about ``user``, ``project`` or ``organization`` (or
    several), done by ``actor``."""
    event = new_event(
        tag, actor=actor, user=user, project=project, organization=organization, **details
    )
    event.save(force_insert=True)
    return event


def new_event(
    tag: str,
    *,
    actor: Actor,
    user: User | None = None,
    project=None,
    organization=None,
    **details,
) -> Event:
    """``record_event``'s event, not saved yet: a change that records several
    saves them with one ``record_events``."""
    return Event(
        tag=tag,
        user=user,
        project=project,
        project_name=project.name if project is not None else "",
        organization=organization,
        organization_name=organization.name if organization is not None else "",
        actor=actor.user,
        ip_address=actor.ip_address,
        user_agent=actor.user_agent[:255],  # the column's width
        details=details,
    )


def record_events(events: list[Event]) -> None:
    """Append the events built by ``new_event``, in their order, in one INSERT."""
    Event.objects.bulk_create(events)
