"""RSS feeds at the public index's paths: latest releases, newest projects,
and one project's releases. Each is a single bounded query (two for a
project's feed) and public in caches for a few minutes. Quarantined projects
and their releases are in none of them."""

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.feedgenerator import Rss201rev2Feed

from .models import Project, Release
from .names import is_normalized_project_name
from .pages import project_or_404
from .project_status import status_note
from .surrogate import surrogate_headers
from .xmltext import xml_text

FEED_ITEMS = 40
FEED_CACHE_SECONDS = 300


def _public(response: HttpResponse, *keys: str) -> HttpResponse:
    patch_cache_control(response, public=True, max_age=FEED_CACHE_SECONDS)
    # "rss": the global feeds, purged with every change; a project's feed
    # also has its own key.
    for header, value in surrogate_headers("rss", *keys).items():
        response[header] = value
    return response


def _xml_safe(value):
    if isinstance(value, str):
        return xml_text(value)
    if isinstance(value, list | tuple):
        return [_xml_safe(item) for item in value]
    return value


class _XmlSafeRss(Rss201rev2Feed):
    """RSS whose every text goes through ``xml_text`` on its way in: Django's
    XML writer refuses a control character, and an uploader's summary holding
    one would take down every feed listing it (packages.xmltext)."""

    # Django's Feed passes everything by keyword.
    def __init__(self, **kwargs):
        super().__init__(**{key: _xml_safe(value) for key, value in kwargs.items()})

    def add_item(self, **kwargs):
        super().add_item(**{key: _xml_safe(value) for key, value in kwargs.items()})


class _PublicFeed(Feed):
    feed_type = _XmlSafeRss

    def __call__(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        keys = [f"rss-{kwargs['name']}"] if "name" in kwargs else []
        return _public(super().__call__(request, *args, **kwargs), *keys)


class _ReleaseItems:
    """How a release reads as a feed item."""

    def item_title(self, release: Release) -> str:
        return f"{release.project.name} {release.version}"

    def item_link(self, release: Release) -> str:
        return reverse("release", args=[release.project.normalized_name, release.version])

    def item_description(self, release: Release) -> str:
        return release.summary

    def item_pubdate(self, release: Release):
        return release.created_at

    def item_author_name(self, release: Release) -> str | None:
        return release.author or None

    def item_author_email(self, release: Release) -> str | None:
        return release.author_email or None


class LatestReleasesFeed(_ReleaseItems, _PublicFeed):
    def title(self) -> str:
        return f"{settings.SITE_NAME}: latest releases"

    def description(self) -> str:
        return f"The {FEED_ITEMS} latest releases on the {settings.SITE_NAME}."

    def link(self) -> str:
        return reverse("home")

    def items(self):
        return (
            Release.objects.visible()
            .select_related("project")
            .order_by("-created_at", "-id")[:FEED_ITEMS]
        )


class NewestProjectsFeed(_PublicFeed):
    def title(self) -> str:
        return f"{settings.SITE_NAME}: newest projects"

    def description(self) -> str:
        return f"The {FEED_ITEMS} newest projects on the {settings.SITE_NAME}."

    def link(self) -> str:
        return reverse("home")

    def items(self):
        first_summary = (
            Release.objects.filter(project=OuterRef("pk"))
            .order_by("created_at", "id")
            .values("summary")[:1]
        )
        return (
            Project.objects.visible()
            .annotate(first_summary=Subquery(first_summary))
            .order_by("-created_at", "-id")[:FEED_ITEMS]
        )

    def item_title(self, project: Project) -> str:
        return project.name

    def item_link(self, project: Project) -> str:
        return reverse("project", args=[project.normalized_name])

    def item_description(self, project: Project) -> str:
        return project.first_summary or ""

    def item_pubdate(self, project: Project):
        return project.created_at


class ProjectReleasesFeed(_ReleaseItems, _PublicFeed):
    def __call__(self, request: HttpRequest, name: str) -> HttpResponse:
        if not is_normalized_project_name(name):
            # Looked up first, so a name that only normalizes to something
            # unknown answers 404 at once instead of redirecting to one.
            project = project_or_404(name)
            return _public(
                redirect("rss-project-releases", project.normalized_name, permanent=True),
                f"rss-{project.normalized_name}",
            )
        return super().__call__(request, name=name)

    def get_object(self, request: HttpRequest, name: str) -> Project:
        return project_or_404(name)

    def title(self, project: Project) -> str:
        return f"{settings.SITE_NAME}: latest releases of {project.name}"

    def description(self, project: Project) -> str:
        latest = f"The {FEED_ITEMS} latest releases of {project.name}."
        # PEP 792: an archived or deprecated project says so to its readers.
        note = status_note(project)
        return f"{latest} {note}" if note else latest

    def link(self, project: Project) -> str:
        return reverse("project", args=[project.normalized_name])

    def items(self, project: Project):
        # Through the project's manager, every release's .project is this
        # project without another query.
        return project.releases.order_by("-created_at", "-id")[:FEED_ITEMS]
