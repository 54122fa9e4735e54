"""The site's routes plus the report page, until the lead wires it into
pypi_site/urls.py (the same line as below)."""

from django.urls import include, path

from pypi_site.urls import urlpatterns as site_urlpatterns

urlpatterns = [
    path("project/<str:name>/report/", include("moderation.urls")),
    *site_urlpatterns,
]
