"""The public page of an organization, /org/<name>/: who it is and the projects
it owns. An unknown or deactivated organization is a 404."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.organizations import organization_by_name

from .. import organization_projects
from ..pages import _is_web_url
from .pages import cacheable


# The URL's segment is ``organization``, not ``name``: cacheable() would tag the
# answer with the surrogate key of a project called ``name``. The page is kept
# at an edge no longer than its max-age, as the profile pages are.
@cacheable()
def organization_detail(request: HttpRequest, organization: str) -> HttpResponse:
    found = organization_by_name(organization)
    if found is None:
        raise Http404(f"No organization named {organization!r}.")
    if organization != found.normalized_name:
        return redirect("organization", found.normalized_name, permanent=True)
    return render(
        request,
        "packages/organization.html",
        {
            "organization": found,
            "members": found.roles.count(),
            # Its Owners typed it; only a web address becomes a link.
            "link_url": found.link_url if _is_web_url(found.link_url) else "",
            "page": organization_projects.public_projects(found, request.GET.get("page")),
        },
    )
