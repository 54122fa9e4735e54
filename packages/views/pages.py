"""The web pages people read: home, project and release pages, profiles,
help, search and the classifier browse.

Views parse the request, call one function of ``packages.pages`` and render.
Anonymous answers are public and short-lived in caches; the ETag (and the 304
that saves the body) comes from ConditionalGetMiddleware.
"""

from functools import wraps

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

from packages import pages, project_status
from packages.mirrored import Mirrored, cap_edge_lifetime
from packages.models import Project, Release
from packages.surrogate import page_headers
from packages.upload import human_size

# How long a browser may keep a public HTML page (its Cache-Control max-age).
HTML_CACHE_SECONDS = 60
HELP_CACHE_SECONDS = 3600


def cacheable(max_age: int = HTML_CACHE_SECONDS):
    """GET/HEAD only; a successful answer is public for ``max_age`` seconds to
    anonymous visitors and private to signed-in ones, whose pages may differ.
    Every such page carries the surrogate key of all pages, which a kill
    switch purges (its banner); a project's pages (the views taking ``name``)
    also carry its ``project-<name>`` key, which the purge after each change of
    the project names. A mirrored project's page (``response.mirrored``) is
    kept at an edge only while its copy is fresh (packages.mirrored)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            response = view(request, *args, **kwargs)
            if response.status_code == 200:
                if request.user.is_authenticated:
                    response["Cache-Control"] = "private, no-cache"
                else:
                    response["Cache-Control"] = f"public, max-age={max_age}"
                    # Only a 200 is public, and only at the normalized name.
                    for header, value in page_headers(kwargs.get("name")).items():
                        response[header] = value
                    if getattr(response, "mirrored", False):
                        cap_edge_lifetime(response)
                # The session cookie decides which of the two a visitor gets.
                patch_vary_headers(response, ["Cookie"])
            return response

        return require_safe(wrapped)

    return decorator


def _release_or_404(project: Project, version: str) -> Release:
    release = pages.find_release(project, version)
    if release is None:
        raise Http404(f"{project.name} has no release {version!r}.")
    return release


def _simple_index_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("simple-index"))


@cacheable()
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "packages/home.html",
        {
            "counts": pages.site_counts(),
            "newest_projects": pages.newest_projects(),
            "latest_releases": pages.latest_releases(),
        },
    )


def _render_project(request: HttpRequest, page: pages.ProjectPage) -> HttpResponse:
    name = page.project.normalized_name
    return render(
        request,
        "packages/project.html",
        {
            "page": page,
            "project": page.project,
            "release": page.release,
            "simple_index_url": _simple_index_url(request),
            "simple_url": reverse("simple-detail", args=[name]),
            "rss_url": reverse("rss-project-releases", args=[name]),
        },
    )


def _render_mirrored(request: HttpRequest, page: pages.MirroredPage) -> HttpResponse:
    name = page.mirrored.name
    response = render(
        request,
        "packages/mirrored_project.html",
        {
            "page": page,
            "mirrored": page.mirrored,
            "release": page.release,
            "simple_index_url": _simple_index_url(request),
            "simple_url": reverse("simple-detail", args=[name]),
            "json_url": reverse("json-project", args=[name]),
        },
    )
    # Read by cacheable(): the edge keeps it only while the copy is fresh.
    response.mirrored = True
    return response


@cacheable()
def project_detail(request: HttpRequest, name: str) -> HttpResponse:
    # Looked up first, so a name that only normalizes to something unknown
    # answers 404 at once instead of redirecting to one.
    try:
        project = pages.project_or_mirrored(name)
    except Http404:
        return _quarantined_page(request, name)
    if isinstance(project, Mirrored):
        if name != project.name:
            return redirect("project", project.name, permanent=True)
        return _render_mirrored(request, pages.mirrored_page(project))
    if name != project.normalized_name:
        return redirect("project", project.normalized_name, permanent=True)
    return _render_project(request, pages.project_page(project))


def _quarantined_page(request: HttpRequest, name: str) -> HttpResponse:
    """PEP 792: a quarantined project's page says so, and why, and shows
    nothing else of it; any other unknown name stays a 404."""
    project = project_status.quarantined_project(name)
    if project is None:
        raise Http404(f"No project named {name!r}.")
    if name != project.normalized_name:
        return redirect("project", project.normalized_name, permanent=True)
    return render(request, "packages/quarantined_project.html", {"project": project})


@cacheable()
def release_detail(request: HttpRequest, name: str, version: str) -> HttpResponse:
    project = pages.project_or_mirrored(name)
    if isinstance(project, Mirrored):
        shown = project.find(version)
        if shown is None:
            raise Http404(f"{project.name} has no version {version!r} here.")
        if name != project.name or version != shown.version:
            return redirect("release", project.name, shown.version, permanent=True)
        return _render_mirrored(request, pages.mirrored_page(project, shown))
    release = _release_or_404(project, version)
    if name != project.normalized_name or version != release.version:
        return redirect("release", project.normalized_name, release.version, permanent=True)
    return _render_project(request, pages.project_page(project, release))


@require_safe
def legacy_project_redirect(request: HttpRequest, name: str) -> HttpResponse:
    project = pages.project_or_404(name)
    return redirect("project", project.normalized_name, permanent=True)


@require_safe
def legacy_release_redirect(request: HttpRequest, name: str, version: str) -> HttpResponse:
    project = pages.project_or_404(name)
    release = _release_or_404(project, version)
    return redirect("release", project.normalized_name, release.version, permanent=True)


@cacheable()
def user_profile(request: HttpRequest, username: str) -> HttpResponse:
    profile = pages.user_profile(username)
    if profile is None:
        raise Http404(f"No user named {username!r}.")
    return render(request, "packages/user.html", {"profile": profile})


@cacheable(HELP_CACHE_SECONDS)
def help_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "packages/help.html",
        {
            "simple_index_url": _simple_index_url(request),
            "upload_url": request.build_absolute_uri(reverse("upload")),
            "upload_max_size": human_size(settings.UPLOAD_MAX_BYTES),
            "project_max_size": human_size(settings.PROJECT_MAX_BYTES),
            "require_2fa_to_manage": settings.REQUIRE_2FA_TO_MANAGE,
            "require_2fa_to_upload": settings.REQUIRE_2FA_TO_UPLOAD,
        },
    )


@cacheable()
def search_page(request: HttpRequest) -> HttpResponse:
    search = pages.SearchRequest.from_query(request.GET)
    results = pages.search_page(search, request.GET.get("page"))
    return render(
        request,
        "packages/search.html",
        {
            "search": search,
            "results": results,
            "pagination": pages.search_pagination(search, results),
            "orders": pages.SEARCH_ORDERS,
        },
    )


@cacheable()
def classifiers(request: HttpRequest) -> HttpResponse:
    return render(request, "packages/classifiers.html", {"groups": pages.classifiers_in_use()})
