"""Organizations: who belongs to one and in which role, and what each role
may do in it. The one place those rules are written; views, the admin and
packages (through its policy, for the organization's projects) ask here."""

from packaging.utils import canonicalize_name

from .models import Organization, OrganizationRole


def normalize_organization_name(name: str) -> str:
    """Organization names compare like project names (PEP 503)."""
    return canonicalize_name(name)


def organization_by_name(name: str) -> Organization | None:
    """The active organization ``name`` stands for, however it is spelled."""
    return Organization.objects.filter(
        normalized_name=normalize_organization_name(name), is_active=True
    ).first()


def organization_role(user, organization: Organization) -> str | None:
    """The role ``user`` holds in ``organization`` (Owner, Manager, Member), or
    None. Someone who can't act (anonymous, deactivated) holds none, and
    nobody acts through a deactivated organization."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if not organization.is_active:
        return None
    return (
        OrganizationRole.objects.filter(organization=organization, user=user)
        .values_list("role_name", flat=True)
        .first()
    )
