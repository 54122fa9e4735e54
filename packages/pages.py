"""What the web pages show: read-only queries and the small rules of display.

The views in ``packages.views.pages`` parse the request and call one of these.
Every function costs a fixed number of queries however many releases, files or
maintainers a project has: pages are read far more often than they change.
A project a moderator has quarantined is on none of them.
"""

from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlencode, urlsplit

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Count
from django.http import Http404, QueryDict
from django.utils.text import slugify
from packaging.utils import canonicalize_version

from . import advisories, attestations, mirror
from .downloads import download_summary
from .mirrored import Mirrored, MirroredVersion, packagetype
from .mirrored import lookup as mirrored_lookup
from .models import (
    Classifier,
    File,
    Project,
    Release,
    Role,
    SearchDocument,
    UpstreamFile,
    visible_q,
)
from .releases import latest_of_ordered, releases_newest_first
from .search import clean_classifier, clean_query, search
from .storage import file_url

# Counting rows of the big tables on every hit of the home page would cost more
# than the rest of the page; a few minutes' staleness is invisible there.
COUNTS_CACHE_KEY = "pages:counts"
COUNTS_CACHE_SECONDS = 120
CLASSIFIERS_CACHE_KEY = "pages:classifiers"
CLASSIFIERS_CACHE_SECONDS = 300

HOME_LIST_LENGTH = 10
SEARCH_PAGE_SIZE = 20
SEARCH_ORDERS = {"relevance": "Relevance", "date": "Date (newest first)"}
# A bound on the filters of one search, so a crafted URL can't make a query
# join a classifier table dozens of times.
SEARCH_MAX_CLASSIFIERS = 10

# A license field longer than this (or over several lines) is a whole license
# text pasted into the metadata; the sidebar shows its first line.
LICENSE_SHORT_LENGTH = 80
CLASSIFIER_SEPARATOR = " :: "

# The release list of a project page needs only these; the descriptions of
# hundreds of releases would be read for nothing.
_HISTORY_FIELDS = (
    "id",
    "project_id",
    "version",
    "canonical_version",
    "is_prerelease",
    "created_at",
    "yanked",
    "yanked_reason",
    "deprecated_at",
    "deprecated_reason",
)


# --- Home ---------------------------------------------------------------------


def site_counts() -> dict[str, int]:
    counts = cache.get(COUNTS_CACHE_KEY)
    if counts is None:
        counts = {
            # Quarantined projects are not counted; their releases and files
            # are (a handful of rows, not worth a join over the big tables).
            "projects": Project.objects.visible().count(),
            "releases": Release.objects.count(),
            "files": File.objects.count(),
            "users": get_user_model().objects.filter(is_active=True).count(),
        }
        cache.set(COUNTS_CACHE_KEY, counts, COUNTS_CACHE_SECONDS)
    return counts


@dataclass(frozen=True)
class ProjectSummary:
    """A project as lists show it: its latest version and summary come from the
    search document, which holds them for exactly this (no scan of releases)."""

    name: str
    normalized_name: str
    version: str = ""
    summary: str = ""
    created_at: object = None
    role: str = ""


def _summary_of(project: Project, **extra) -> ProjectSummary:
    try:
        document = project.search_document
    except SearchDocument.DoesNotExist:
        document = None
    return ProjectSummary(
        name=project.name,
        normalized_name=project.normalized_name,
        version=document.version if document else "",
        summary=document.summary if document else "",
        created_at=project.created_at,
        **extra,
    )


def newest_projects(limit: int = HOME_LIST_LENGTH) -> list[ProjectSummary]:
    projects = (
        Project.objects.visible().select_related("search_document").order_by("-created_at", "-pk")
    )
    return [_summary_of(project) for project in projects[:limit]]


def latest_releases(limit: int = HOME_LIST_LENGTH) -> list[Release]:
    releases = (
        Release.objects.visible()
        .filter(yanked=False)
        .select_related("project")
        .only(
            "version",
            "summary",
            "created_at",
            "is_prerelease",
            "project__name",
            "project__normalized_name",
        )
        .order_by("-created_at", "-pk")
    )
    return list(releases[:limit])


# --- Project and release pages ------------------------------------------------


def project_or_404(name: str) -> Project:
    """The project ``name`` stands for, however spelled; an unknown (or
    quarantined) name is a 404."""
    project = Project.objects.visible().by_name(name)
    if project is None:
        raise Http404(f"No project named {name!r}.")
    return project


def project_or_mirrored(name: str) -> Project | Mirrored:
    """The local project ``name`` stands for, else the project mirrored from
    the upstream index under that name (fetched first when never asked for);
    neither is a 404, as is a quarantined local project."""
    project = Project.objects.visible().by_name(name)
    if project is not None:
        return project
    found = mirrored_lookup(name, fetch=True)
    if found is None:
        raise Http404(f"No project named {name!r}.")
    return found


def find_release(project: Project, version: str) -> Release | None:
    """The release ``version`` stands for (1.0 finds 1.0.0), without its long fields."""
    return (
        project.releases.only(*_HISTORY_FIELDS)
        .filter(canonical_version=canonicalize_version(version))
        .first()
    )


@dataclass(frozen=True)
class ProjectLink:
    label: str
    url: str


@dataclass(frozen=True)
class License:
    text: str
    # The full text, when ``text`` is only its first line.
    full_text: str = ""
    is_expression: bool = False


@dataclass(frozen=True)
class ClassifierGroup:
    name: str
    slug: str
    classifiers: list[dict] = field(default_factory=list)


@dataclass
class ProjectPage:
    project: Project
    # The release shown (all its fields), and the one that stands for the project.
    release: Release | None
    latest: Release | None
    history: list[Release]
    files: list[File]
    maintainers: list[Role]

    @property
    def is_latest(self) -> bool:
        return self.release is not None and self.release.pk == self.latest.pk

    @property
    def install_requirement(self) -> str:
        """What to ask pip for: the bare name gets the latest release, so any
        other release (or a pre-release, which pip skips) needs a pin."""
        name = self.project.name
        if self.release is None or (self.is_latest and not self.release.is_prerelease):
            return name
        return f"{name}=={self.release.version}"

    @cached_property
    def license(self) -> License | None:
        return release_license(self.release) if self.release else None

    @cached_property
    def links(self) -> list[ProjectLink]:
        return project_links(self.release) if self.release else []

    @cached_property
    def classifier_groups(self) -> list[ClassifierGroup]:
        return group_classifiers(self.release.classifiers) if self.release else []

    @cached_property
    def downloads(self) -> dict[str, int]:
        """Last day, week and month (one cached query)."""
        return download_summary(self.project)

    @cached_property
    def provenance(self) -> attestations.ReleaseProvenance:
        """Where the shown release's files were published from (PEP 740), and
        the continuity flag (one or two queries)."""
        return attestations.release_provenance(self.release, self.files)

    @cached_property
    def security(self) -> advisories.PageSecurity:
        """Insecure and deprecated marks (one query)."""
        return advisories.page_security(self.project, self.history, self.release)


def project_page(project: Project, release: Release | None = None) -> ProjectPage:
    """The project page, showing ``release`` (the latest when None)."""
    history = releases_newest_first(project.releases.only(*_HISTORY_FIELDS))
    latest = latest_of_ordered(history)
    wanted = release or latest
    shown = files = None
    if wanted is not None:
        # The history holds only short fields; the shown release needs them all.
        shown = Release.objects.get(pk=wanted.pk)
        shown.project = project
        files = sorted(
            File.objects.filter(release=shown),
            # The source first, as installers and people look for it there.
            key=lambda file: (file.packagetype != File.PackageType.SDIST, file.filename),
        )
        for file in files:
            file.url = file_url(file.path)
    maintainers = sorted(
        project.roles.filter(user__is_active=True).select_related("user"),
        key=lambda role: (role.role_name != Role.Name.OWNER, role.user.username),
    )
    return ProjectPage(
        project=project,
        release=shown,
        latest=latest,
        history=history,
        files=files or [],
        maintainers=maintainers,
    )


@dataclass
class MirroredPage:
    """The page of a mirrored project: one version's files and the versions,
    with where they come from and when the upstream was last asked."""

    mirrored: Mirrored
    # The version shown; the latest when the URL names none.
    release: MirroredVersion
    files: list[UpstreamFile]

    @property
    def is_latest(self) -> bool:
        return self.release is self.mirrored.latest

    @property
    def install_requirement(self) -> str:
        # As ProjectPage.install_requirement.
        name = self.mirrored.name
        if self.is_latest and not self.release.is_prerelease:
            return name
        return f"{name}=={self.release.version}"


def mirrored_page(found: Mirrored, version: MirroredVersion | None = None) -> MirroredPage:
    """The page of ``found`` showing ``version`` (the latest when None), its
    files linked where this index serves them."""
    shown = version or found.latest
    # The source first, as on a local project's page.
    files = sorted(
        shown.files,
        key=lambda file: (packagetype(file.filename) != File.PackageType.SDIST, file.filename),
    )
    for file in files:
        file.url = mirror.mirror_file_url(file)
        file.packagetype = packagetype(file.filename)
    return MirroredPage(mirrored=found, release=shown, files=files)


def release_license(release: Release) -> License | None:
    """The license for people: the SPDX expression when there is one (PEP 639),
    else the free-text field, else what the license classifiers say."""
    if release.license_expression.strip():
        return License(text=release.license_expression.strip(), is_expression=True)
    text = release.license.strip()
    if text:
        first_line = text.splitlines()[0].strip()
        if len(first_line) > LICENSE_SHORT_LENGTH:
            first_line = first_line[: LICENSE_SHORT_LENGTH - 1].rstrip() + "…"
        if first_line != text:
            return License(text=first_line, full_text=text)
        return License(text=text)
    names = [
        classifier.rpartition(CLASSIFIER_SEPARATOR)[2]
        for classifier in release.classifiers
        if classifier.startswith("License" + CLASSIFIER_SEPARATOR)
    ]
    return License(text=", ".join(names)) if names else None


def _is_web_url(url: str) -> bool:
    # Metadata is whatever the uploader typed: a javascript: or data: URL in a
    # link would run in this site's origin.
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def project_links(release: Release) -> list[ProjectLink]:
    """Project-URL entries, then Home-page and Download-URL; web links only,
    each address once."""
    pairs = []
    for entry in release.project_urls:
        if isinstance(entry, list | tuple) and len(entry) == 2:
            pairs.append((str(entry[0]).strip(), str(entry[1]).strip()))
    pairs.append(("Homepage", release.home_page.strip()))
    pairs.append(("Download", release.download_url.strip()))
    links, seen = [], set()
    for label, url in pairs:
        if _is_web_url(url) and url not in seen:
            seen.add(url)
            links.append(ProjectLink(label=label or url, url=url))
    return links


def group_classifiers(names) -> list[ClassifierGroup]:
    """Classifiers under their top-level heading ("License", "Programming Language")."""
    groups: dict[str, ClassifierGroup] = {}
    for name in names:
        top, _, rest = name.partition(CLASSIFIER_SEPARATOR)
        group = groups.setdefault(top, ClassifierGroup(name=top, slug=slugify(top)))
        group.classifiers.append({"name": name, "label": rest or top})
    return list(groups.values())


# --- User profile ---------------------------------------------------------------


@dataclass
class UserProfile:
    user: object
    projects: list[ProjectSummary]


def user_profile(username: str) -> UserProfile | None:
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        return None
    roles = (
        Role.objects.visible()
        .filter(user=user)
        .select_related("project__search_document")
        .order_by("project__normalized_name")
    )
    projects = [_summary_of(role.project, role=role.role_name) for role in roles]
    return UserProfile(user=user, projects=projects)


# --- Classifier browse --------------------------------------------------------


def classifiers_in_use() -> list[ClassifierGroup]:
    """Every classifier some project's latest release declares, with how many
    projects do, grouped by top-level heading."""
    groups = cache.get(CLASSIFIERS_CACHE_KEY)
    if groups is None:
        rows = (
            Classifier.objects.annotate(
                projects=Count("documents", filter=visible_q("documents__project__"))
            )
            .filter(projects__gt=0)
            .order_by("name")
            .values_list("name", "projects")
        )
        counts = dict(rows)
        groups = group_classifiers(counts)
        for group in groups:
            for item in group.classifiers:
                item["count"] = counts[item["name"]]
        cache.set(CLASSIFIERS_CACHE_KEY, groups, CLASSIFIERS_CACHE_SECONDS)
    return groups


# --- Search ---------------------------------------------------------------------


@dataclass(frozen=True)
class SearchRequest:
    q: str = ""
    classifiers: tuple[str, ...] = ()
    # "" is the default order (relevance), left out of URLs.
    order: str = ""

    @classmethod
    def from_query(cls, params: QueryDict) -> "SearchRequest":
        q = clean_query(" ".join(params.get("q", "").split()))
        wanted = [name for value in params.getlist("c") if (name := clean_classifier(value))]
        classifiers = tuple(dict.fromkeys(wanted))[:SEARCH_MAX_CLASSIFIERS]
        order = params.get("order", "")
        return cls(q=q, classifiers=classifiers, order=order if order in SEARCH_ORDERS else "")

    @property
    def is_empty(self) -> bool:
        return not self.q and not self.classifiers

    def query_string(self, *, page: int | None = None, without: str | None = None) -> str:
        """This search's URL parameters, on another page or with one filter removed."""
        params = []
        if self.q:
            params.append(("q", self.q))
        params += [("c", name) for name in self.classifiers if name != without]
        if self.order:
            params.append(("order", self.order))
        if page is not None and page > 1:
            params.append(("page", page))
        return urlencode(params)

    @property
    def chips(self) -> list[dict]:
        """The active filters, each with the query that removes it."""
        return [
            {"name": name, "remove": self.query_string(without=name)} for name in self.classifiers
        ]


def search_page(request: SearchRequest, page_number) -> Page | None:
    """One page of results (20 a page; a page number out of range gives the
    nearest page); None for an empty search, which has its own page."""
    if request.is_empty:
        return None
    results = search(request.q, classifiers=request.classifiers, order=request.order or "relevance")
    return Paginator(results, SEARCH_PAGE_SIZE).get_page(page_number)


def search_pagination(request: SearchRequest, page: Page | None) -> dict | None:
    """Links to the neighbouring and the first and last pages; None when all
    results fit on one page."""
    if page is None or page.paginator.num_pages < 2:
        return None

    def url(number: int) -> str:
        return "?" + request.query_string(page=number)

    items = []
    for number in page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1):
        if number == Paginator.ELLIPSIS:
            items.append({"gap": True})
        else:
            items.append({"number": number, "url": url(number), "current": number == page.number})
    return {
        "previous": url(page.previous_page_number()) if page.has_previous() else None,
        "next": url(page.next_page_number()) if page.has_next() else None,
        "pages": items,
    }
