from django.contrib import admin
from django.urls import include, path, re_path

from accounts.views import secret_scanning
from packages import feeds
from packages.converters import (
    FILENAME,
    FILENAME_PATTERN,
    LETTER,
    PROJECT,
    PYTHON_TAG,
    STORED,
    USERNAME,
    VERSION,
)
from packages.views import (
    files,
    integrity,
    json_api,
    legacy_files,
    namespaces,
    organizations,
    pages,
    simple,
    suggest,
    trusted_publishing,
    upload,
    xmlrpc,
)

from . import views

# Path segments go through the converters of packages.converters: a name,
# version, username or filename no row could hold is a 404 before any view.
NAME = f"<{PROJECT}:name>"
RELEASE = f"{NAME}/<{VERSION}:version>"

urlpatterns = [
    path("", pages.home, name="home"),
    path(f"project/{NAME}/", pages.project_detail, name="project"),
    # Before the release route, or "report" would be taken for a version.
    path(f"project/{NAME}/report/", include("moderation.urls")),
    path(f"project/{RELEASE}/", pages.release_detail, name="release"),
    path(f"pypi/{NAME}/json", json_api.project_json, name="json-project"),
    path(f"pypi/{RELEASE}/json", json_api.release_json, name="json-release"),
    # Anything else in their shape: the JSON API's own 404, in JSON.
    re_path(r"^pypi/[^/]+/(?:[^/]+/)?json\Z", json_api.not_a_name),
    path("pypi", xmlrpc.xmlrpc, name="xmlrpc"),
    path("api/openapi.json", json_api.openapi_schema, name="openapi-schema"),
    # Paths the public index still redirects to the project pages.
    path(f"pypi/{NAME}/", pages.legacy_project_redirect, name="legacy-project"),
    path(f"pypi/{RELEASE}/", pages.legacy_release_redirect, name="legacy-release"),
    path(f"user/<{USERNAME}:username>/", pages.user_profile, name="user"),
    # An organization's name is shaped like a project's (accounts.organizations).
    path(f"org/<{PROJECT}:organization>/", organizations.organization_detail, name="organization"),
    path("help/", pages.help_page, name="help"),
    path("search/", pages.search_page, name="search"),
    path("search/suggest/", suggest.suggest, name="search-suggest"),
    path("classifiers/", pages.classifiers, name="classifiers"),
    path("rss/updates.xml", feeds.LatestReleasesFeed(), name="rss-updates"),
    path("rss/packages.xml", feeds.NewestProjectsFeed(), name="rss-packages"),
    path(
        f"rss/project/{NAME}/releases.xml",
        feeds.ProjectReleasesFeed(),
        name="rss-project-releases",
    ),
    # PEP 752's namespaces (packages.views.namespaces); anything else in the
    # detail's shape is its JSON 404.
    path("namespaces", namespaces.namespace_list, name="namespaces"),
    path(f"namespace/<{PROJECT}:prefix>", namespaces.namespace_detail, name="namespace"),
    re_path(r"^namespace/", namespaces.not_a_namespace),
    path("simple/", simple.index, name="simple-index"),
    path(f"simple/{NAME}/", simple.detail, name="simple-detail"),
    path("legacy/", upload.file_upload, name="upload"),
    # The Upload 2.0 API (PEP 694): publishing sessions and their stages.
    path("upload/2.0/", include("packages.upload_session_urls")),
    # PEP 740: a file's provenance (packages.attestations).
    path(
        f"integrity/{RELEASE}/<{FILENAME}:filename>/provenance",
        integrity.provenance,
        name="provenance",
    ),
    path(f"packages/<{STORED}:path>", files.serve, name="file"),
    # Files of the upstream index (packages.mirror), fetched on first request.
    re_path(
        rf"^packages/mirror/(?P<sha256>[0-9a-f]{{64}})/(?P<filename>{FILENAME_PATTERN})\Z",
        files.serve_mirror,
        name="mirror-file",
    ),
    # The public index's older file URLs, redirected to where the file is.
    path(
        f"packages/<{PYTHON_TAG}:python_version>/<{LETTER}:letter>/{NAME}/<{FILENAME}:filename>",
        legacy_files.redirect_legacy_file,
        name="legacy-file",
    ),
    path("account/", include("accounts.urls")),
    path("manage/account/tokens/", include("accounts.token_urls")),
    path("manage/", include("packages.manage_urls")),
    # /manage/organizations/ and /manage/organization/<name>/...
    path("manage/", include("accounts.organization_urls")),
    # Where code hosts report leaked tokens (secret scanning).
    path(
        "_/secrets/disclose-token/", secret_scanning.disclose_token, name="secrets-disclose-token"
    ),
    path("_health/", views.health, name="health"),
    path("_/oidc/audience", trusted_publishing.oidc_audience, name="oidc-audience"),
    path("_/oidc/mint-token", trusted_publishing.oidc_mint_token, name="oidc-mint-token"),
    path("_/oidc/burn-token", trusted_publishing.oidc_burn_token, name="oidc-burn-token"),
    path(".well-known/pytp/<str:key>", trusted_publishing.pytp_discovery, name="pytp-discovery"),
    path("admin/", admin.site.urls),
]
