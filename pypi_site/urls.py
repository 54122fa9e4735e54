from django.contrib import admin
from django.urls import include, path, re_path

from accounts.views import secret_scanning
from packages import feeds
from packages.storage import STORED_PATH_PATTERN
from packages.views import (
    files,
    json_api,
    legacy_files,
    pages,
    simple,
    suggest,
    upload,
    xmlrpc,
)

from . import views

urlpatterns = [
    path("", pages.home, name="home"),
    path("project/<str:name>/", pages.project_detail, name="project"),
    # Before the release route, or "report" would be taken for a version.
    path("project/<str:name>/report/", include("moderation.urls")),
    path("project/<str:name>/<str:version>/", pages.release_detail, name="release"),
    path("pypi/<str:name>/json", json_api.project_json, name="json-project"),
    path("pypi/<str:name>/<str:version>/json", json_api.release_json, name="json-release"),
    path("pypi", xmlrpc.xmlrpc, name="xmlrpc"),
    path("api/openapi.json", json_api.openapi_schema, name="openapi-schema"),
    # Paths the public index still redirects to the project pages.
    path("pypi/<str:name>/", pages.legacy_project_redirect, name="legacy-project"),
    path("pypi/<str:name>/<str:version>/", pages.legacy_release_redirect, name="legacy-release"),
    path("user/<str:username>/", pages.user_profile, name="user"),
    path("help/", pages.help_page, name="help"),
    path("search/", pages.search_page, name="search"),
    path("search/suggest/", suggest.suggest, name="search-suggest"),
    path("classifiers/", pages.classifiers, name="classifiers"),
    path("rss/updates.xml", feeds.LatestReleasesFeed(), name="rss-updates"),
    path("rss/packages.xml", feeds.NewestProjectsFeed(), name="rss-packages"),
    path(
        "rss/project/<str:name>/releases.xml",
        feeds.ProjectReleasesFeed(),
        name="rss-project-releases",
    ),
    path("simple/", simple.index, name="simple-index"),
    path("simple/<str:name>/", simple.detail, name="simple-detail"),
    path("legacy/", upload.file_upload, name="upload"),
    re_path(rf"^packages/(?P<path>{STORED_PATH_PATTERN})$", files.serve, name="file"),
    # The public index's older file URLs, redirected to where the file is.
    re_path(
        r"^packages/(?P<python_version>[^/]+)/(?P<letter>[^/])/(?P<name>[^/]+)/(?P<filename>[^/]+)$",
        legacy_files.redirect_legacy_file,
        name="legacy-file",
    ),
    path("account/", include("accounts.urls")),
    path("manage/account/tokens/", include("accounts.token_urls")),
    path("manage/", include("packages.manage_urls")),
    # Where code hosts report leaked tokens (secret scanning).
    path(
        "_/secrets/disclose-token/", secret_scanning.disclose_token, name="secrets-disclose-token"
    ),
    path("_health/", views.health, name="health"),
    path("admin/", admin.site.urls),
]
