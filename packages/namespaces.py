"""Namespaces (PEP 752): a name prefix granted to an organization. The one
place their rules are written; the upload (through packages.policy), the
moderators' services (moderation.namespaces), the APIs and the project page ask
here.

- A grant of ``acme`` covers the project ``acme`` and every ``acme-...``
  project, on PEP 503 normalized names (``Acme.Foo`` is ``acme-foo``).
- Root grants never overlap: ``acme`` and ``acme-cloud`` can't both be roots.
  Inside its root grant an organization holds child grants (``acme-contrib``,
  e.g. open while the root is restricted); a child belongs to its root's
  organization, and has no children of its own. A project answers to the
  longest grant it matches.
- Restricted (not open): a NEW project under it is created only by an Owner or
  Manager of the organization, and it is created owned by the organization
  (``Project.organization``), so the grant's people own it from its first
  upload. Anyone else gets 409 with a message saying whose namespace it is.
  Open: anyone may create projects under it; those of the organization's
  Owners and Managers still go to the organization. Existing projects are
  never touched by a grant.
- Hidden grants are enforced like restricted ones but never shown: not in the
  APIs, not on project pages, and a refused upload does not name the
  organization.
- Grants of a deactivated organization stay: the names stay reserved (nobody
  can create under a restricted one) until a moderator revokes them.

A visible grant, its revocation or a change of its flags alters the
``namespace`` key of every project under it: ``grant_changed`` journals each
(moving its serial, which the cached simple pages are checked against) and
purges their pages and the namespace endpoints. A hidden one changes nothing
shown, and is not journaled (the journal is public).
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.events import Actor, record_event
from accounts.models import Organization, OrganizationRole
from accounts.organizations import organization_role
from common.xact_lock import hold_until_commit

from . import mirror
from .cache import purge_project
from .journal import journal_append
from .models import Namespace, Project
from .names import is_valid_project_name, normalize_project_name
from .purges import enqueue, project_keys

# The edge key of /namespaces and every /namespace/<prefix> answer.
NAMESPACES_KEY = "namespaces"
# Who may create a project under the organization's namespace (and so in it).
CREATORS = frozenset({OrganizationRole.Name.OWNER, OrganizationRole.Name.MANAGER})


class NamespaceError(Exception):
    """A grant that the rules refuse; the message says why."""


def normalize_prefix(prefix: str) -> str:
    """A namespace is a valid project name, compared normalized (PEP 752)."""
    prefix = (prefix or "").strip()
    if not is_valid_project_name(prefix):
        raise NamespaceError(
            f"{prefix!r} is not a valid namespace: it must be a valid project name "
            "(letters, digits and . _ - inside)."
        )
    return normalize_project_name(prefix)


def _prefixes(normalized_name: str) -> list[str]:
    """Every namespace that could hold ``normalized_name``: ``a-b-c`` is held by
    ``a``, ``a-b`` and ``a-b-c`` only (never by ``a-b-c-d``, and ``a-bc`` never
    by ``a-b``)."""
    parts = normalized_name.split("-")
    return ["-".join(parts[: index + 1]) for index in range(len(parts))]


def grant_for(normalized_name: str) -> Namespace | None:
    """The grant a project name answers to: the longest one it matches."""
    grants = Namespace.objects.filter(
        normalized_prefix__in=_prefixes(normalized_name)
    ).select_related("organization", "parent")
    return max(grants, key=lambda grant: len(grant.normalized_prefix), default=None)


def _overlaps(proposed: str, existing: str) -> bool:
    # PEP 752: with a hyphen appended to both, one starts with the other
    # (``foo-`` and ``foo-bar-``; never ``foo-`` and ``foobar-``).
    proposed, existing = proposed + "-", existing + "-"
    return existing.startswith(proposed) or proposed.startswith(existing)


def check_grant(
    normalized_prefix: str,
    *,
    organization: Organization,
    parent: Namespace | None,
    is_open: bool,
    is_hidden: bool,
) -> None:
    """NamespaceError unless a grant so made keeps the rules."""
    if is_open and is_hidden:
        raise NamespaceError("A hidden namespace can't be open: nobody could see it is.")
    if Namespace.objects.filter(normalized_prefix=normalized_prefix).exists():
        raise NamespaceError(f"The namespace {normalized_prefix!r} is already granted.")
    if parent is None:
        roots = Namespace.objects.filter(parent=None).values_list("normalized_prefix", flat=True)
        overlapping = sorted(root for root in roots if _overlaps(normalized_prefix, root))
        if overlapping:
            raise NamespaceError(
                f"The namespace {normalized_prefix!r} overlaps the granted namespace "
                f"{overlapping[0]!r}: grants must not overlap (inside a granted namespace "
                "only its organization holds child namespaces)."
            )
        return
    if parent.parent_id is not None:
        raise NamespaceError(
            f"{parent.normalized_prefix!r} is itself a child namespace; child namespaces "
            f"are made inside a root namespace ({parent.parent.normalized_prefix!r})."
        )
    if not normalized_prefix.startswith(parent.normalized_prefix + "-"):
        raise NamespaceError(
            f"A child of {parent.normalized_prefix!r} must start with "
            f"'{parent.normalized_prefix}-' (e.g. '{parent.normalized_prefix}-contrib')."
        )
    if organization.pk != parent.organization_id:
        raise NamespaceError(
            f"A child of {parent.normalized_prefix!r} belongs to its organization "
            f"{parent.organization.name!r}, not {organization.name!r}."
        )


# --- Uploads -----------------------------------------------------------------------


class NamespaceRefused(Exception):
    """A new project refused by its namespace; the message is for the uploader
    (packages.policy answers 409 with it)."""


def _refusal(name: str, grant: Namespace) -> str:
    if not _shown(grant):
        return (
            f"The name {name!r} is reserved on this index: no new project can be created "
            "under it. Choose another name, or ask the index's moderators."
        )
    return (
        f"The name {name!r} is in the namespace {grant.normalized_prefix!r} reserved for the "
        f"organization {grant.organization.name!r}; only its Owners and Managers can create "
        "projects under it. Choose another name, or ask the organization. "
        f"See /namespace/{grant.normalized_prefix} for more information."
    )


def new_project_organization(user, name: str) -> Organization | None:
    """The organization a new project ``name`` made by ``user`` belongs to:
    that of the grant it falls under when ``user`` is one of its Owners or
    Managers; else None (the uploader's own project)."""
    grant = grant_for(normalize_project_name(name))
    if grant is not None and organization_role(user, grant.organization) in CREATORS:
        return grant.organization
    return None


def check_new_project(user, name: str) -> None:
    """NamespaceRefused when ``user`` may not create the project ``name``.

    PEP 752 refuses a new project under a restricted grant unless an
    organization holding the grant owns it. A project made by an upload has no
    owner yet: the grant's Owners and Managers create it owned by the
    organization (new_project_organization, asked where the project is made),
    and only they pass."""
    grant = grant_for(normalize_project_name(name))
    if grant is None or grant.is_open:
        return
    if organization_role(user, grant.organization) not in CREATORS:
        raise NamespaceRefused(_refusal(name, grant))


# --- What the APIs and pages show ----------------------------------------------------


def visible() -> QuerySet:
    """The grants the public may see: not hidden, nor inside a hidden root."""
    return Namespace.objects.filter(is_hidden=False).exclude(parent__is_hidden=True)


@dataclass(frozen=True, slots=True)
class ProjectNamespace:
    prefix: str
    owner: str  # the organization's name
    owner_url_name: str  # its normalized name, for its page's URL
    authorized: bool  # the project belongs to the grant's organization
    open: bool

    def as_json(self) -> dict:
        """PEP 752's ``namespace`` of a project detail."""
        return {"prefix": self.prefix, "authorized": self.authorized, "open": self.open}


def project_namespace(normalized_name: str) -> ProjectNamespace | None:
    """The longest visible grant the local project's name matches, and whether
    the project belongs to the grant's organization; None without one. A
    hidden grant is passed over as if it were not there (a hidden child inside a
    visible root leaves the root shown). One query: the simple page's render
    counts them."""
    owned = Project.objects.filter(
        normalized_name=normalized_name, organization=OuterRef("organization")
    )
    grants = (
        Namespace.objects.filter(normalized_prefix__in=_prefixes(normalized_name))
        .select_related("organization", "parent")
        .annotate(authorized=Exists(owned))
    )
    shown = [grant for grant in grants if _shown(grant)]
    grant = max(shown, key=lambda grant: len(grant.normalized_prefix), default=None)
    if grant is None:
        return None
    return ProjectNamespace(
        prefix=grant.normalized_prefix,
        owner=grant.organization.name,
        owner_url_name=grant.organization.normalized_name,
        authorized=grant.authorized,
        open=grant.is_open,
    )


def _shown(grant: Namespace) -> bool:
    """``visible()`` for one grant already loaded with its parent."""
    return not grant.is_hidden and (grant.parent is None or not grant.parent.is_hidden)


def namespace_json(grant: Namespace) -> dict:
    """PEP 752's namespace detail (``/namespace/<prefix>``). Children: the
    visible child grants (a child has none of its own)."""
    return {
        "prefix": grant.normalized_prefix,
        "owner": grant.organization.name,
        "open": grant.is_open,
        "parent": grant.parent.normalized_prefix if grant.parent is not None else None,
        "children": [
            child.normalized_prefix
            for child in visible().filter(parent=grant).order_by("normalized_prefix")
        ],
    }


def namespaces_json() -> dict:
    """Every visible grant, by prefix, in the detail's shape (``/namespaces``)."""
    grants = list(visible().select_related("organization", "parent"))
    children: dict[int, list[str]] = {}
    for grant in grants:
        if grant.parent_id is not None:
            children.setdefault(grant.parent_id, []).append(grant.normalized_prefix)
    return {
        "namespaces": [
            {
                "prefix": grant.normalized_prefix,
                "owner": grant.organization.name,
                "open": grant.is_open,
                "parent": grant.parent.normalized_prefix if grant.parent is not None else None,
                "children": children.get(grant.pk, []),
            }
            for grant in grants
        ]
    }


# --- After a change ------------------------------------------------------------------


def projects_under(normalized_prefix: str):
    return Project.objects.filter(
        Q(normalized_name=normalized_prefix)
        | Q(normalized_name__startswith=normalized_prefix + "-")
    )


def grant_changed(normalized_prefix: str, *, action: str, actor: Actor) -> int:
    """Call in the transaction of a visible grant's creation, revocation or
    change: every project under it shows another ``namespace`` now. Each gets
    a journal entry (its serial moves, so a simple page rendered from what was
    read before the commit is never kept: packages.simple checks the serial
    after storing), and after the commit its cached pages go, here and at the
    edges, with the namespace endpoints. Returns the number of projects. (A
    hidden grant changes nothing anyone sees, and its prefix must not reach
    the public journal: it is not called for one.)"""
    names = []
    for project in projects_under(normalized_prefix).order_by("normalized_name"):
        journal_append(project=project, action=f"{action} {normalized_prefix}", actor=actor)
        names.append(project.normalized_name)

    def purge() -> None:
        for name in names:
            purge_project(name)

    transaction.on_commit(purge)
    enqueue([NAMESPACES_KEY, *(key for name in names for key in project_keys(name))])
    return len(names)


# --- Changes (moderation.namespaces for moderators; the organization's Owners
# --- for child grants) ------------------------------------------------------------

# Arbitrary constant naming the advisory lock that orders grant changes.
_GRANTS_LOCK_ID = 7_520_752


def _serialize_grants() -> None:
    # Two grants checked at once could each find no overlap with the other
    # (``foo`` and ``foo-bar``). On PostgreSQL this lock, held until commit,
    # orders them; SQLite has one writer, and a transaction that read before
    # another's write fails to write instead of overlapping.
    hold_until_commit(_GRANTS_LOCK_ID)


def namespace_create(
    *,
    prefix: str,
    organization: Organization,
    actor: Actor,
    parent: Namespace | None = None,
    is_open: bool = False,
    is_hidden: bool = False,
    reason: str = "",
) -> Namespace:
    """Grant ``prefix`` to ``organization`` (inside ``parent``: a child
    grant), or NamespaceError. Call inside the caller's transaction, which
    records who asked and why."""
    normalized = normalize_prefix(prefix)
    _serialize_grants()
    check_grant(
        normalized,
        organization=organization,
        parent=parent,
        is_open=is_open,
        is_hidden=is_hidden,
    )
    try:
        with transaction.atomic():
            grant = Namespace.objects.create(
                prefix=prefix.strip(),
                normalized_prefix=normalized,
                organization=organization,
                parent=parent,
                is_open=is_open,
                is_hidden=is_hidden,
                reason=reason,
                created_by=actor.user,
            )
    except IntegrityError:
        # The same prefix granted a moment ago (SQLite: checked before it committed).
        raise NamespaceError(f"The namespace {normalized!r} is already granted.") from None
    if _shown(grant):
        grant_changed(normalized, action="namespace granted", actor=actor)
    # Hidden or not: a restricted grant takes its names from the mirrored upstream.
    mirror.grant_changed(normalized)
    _event("organization:namespace:granted", grant, actor, open=is_open, hidden=is_hidden)
    return grant


def namespace_update(
    *, grant: Namespace, actor: Actor, is_open: bool | None = None, is_hidden: bool | None = None
) -> Namespace:
    """Make ``grant`` open or restricted, hidden or shown (None: unchanged)."""
    grant = Namespace.objects.select_for_update().get(pk=grant.pk)
    is_open = grant.is_open if is_open is None else is_open
    is_hidden = grant.is_hidden if is_hidden is None else is_hidden
    if is_open and is_hidden:
        raise NamespaceError("A hidden namespace can't be open: nobody could see it is.")
    if (is_open, is_hidden) == (grant.is_open, grant.is_hidden):
        raise NamespaceError(f"The namespace {grant.normalized_prefix!r} is already so.")
    was_shown, was_open = _shown(grant), grant.is_open
    grant.is_open, grant.is_hidden = is_open, is_hidden
    grant.save(update_fields=["is_open", "is_hidden"])
    if was_shown or _shown(grant):
        grant_changed(grant.normalized_prefix, action="namespace changed", actor=actor)
    if is_open != was_open:
        mirror.grant_changed(grant.normalized_prefix)
    _event("organization:namespace:changed", grant, actor, open=is_open, hidden=is_hidden)
    return grant


def namespace_delete(*, grant: Namespace, actor: Actor) -> list[str]:
    """Revoke ``grant`` and its child grants; their projects stay as they are
    (PEP 752: the namespace key becomes null). Returns the prefixes revoked."""
    revoked = [grant.normalized_prefix, *grant.children.values_list("normalized_prefix", flat=True)]
    _event("organization:namespace:revoked", grant, actor, revoked=revoked)
    shown = _shown(grant)
    grant.delete()  # its children with it (Namespace.parent: CASCADE)
    if shown:
        grant_changed(revoked[0], action="namespace revoked", actor=actor)
    mirror.grant_changed(revoked[0])
    return revoked


def _event(tag: str, grant: Namespace, actor: Actor, **details) -> None:
    # In the organization's security history; a hidden grant only there.
    record_event(
        tag,
        actor=actor,
        organization=grant.organization,
        namespace=grant.normalized_prefix,
        parent=grant.parent.normalized_prefix if grant.parent_id else None,
        **details,
    )


# --- Child grants by the organization's Owners ---------------------------------------


def child_namespace_create(
    *, parent: Namespace, prefix: str, is_open: bool, actor: Actor
) -> Namespace:
    """PEP 752: the owner of a root grant makes child grants inside it, e.g.
    ``acme-contrib`` open to everyone while ``acme`` stays restricted. For an
    Owner of the grant's organization only (PermissionDenied otherwise);
    NamespaceError when the rules refuse it."""
    _require_owner(actor, parent.organization)
    if parent.parent_id is not None:
        raise NamespaceError(
            f"{parent.normalized_prefix!r} is itself a child namespace; child namespaces "
            "are made inside a root namespace."
        )
    with transaction.atomic():
        return namespace_create(
            prefix=prefix,
            organization=parent.organization,
            actor=actor,
            parent=parent,
            is_open=is_open,
            reason="Made by an Owner of the organization.",
        )


def child_namespace_delete(*, grant: Namespace, actor: Actor) -> None:
    """An Owner of the organization removes one of its child grants (the root
    grant is the moderators')."""
    _require_owner(actor, grant.organization)
    if grant.parent_id is None:
        raise NamespaceError("A root namespace is revoked by the index's moderators.")
    with transaction.atomic():
        namespace_delete(grant=grant, actor=actor)


def _require_owner(actor: Actor, organization: Organization) -> None:
    if organization_role(actor.user, organization) != OrganizationRole.Name.OWNER:
        raise PermissionDenied("Only an Owner of the organization may do this.")


def organization_grants(organization: Organization) -> list[Namespace]:
    """The organization's grants, hidden ones too (its people know them), each
    root followed by its children."""
    grants = list(Namespace.objects.filter(organization=organization).select_related("parent"))
    roots = [grant for grant in grants if grant.parent_id is None]
    ordered = []
    for root in roots:
        ordered.append(root)
        ordered += [grant for grant in grants if grant.parent_id == root.pk]
    return ordered
