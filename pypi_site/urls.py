from django.contrib import admin
from django.urls import path, re_path

from packages.storage import STORED_PATH_PATTERN
from packages.views import files, simple, upload

from . import views

urlpatterns = [
    path("simple/", simple.index, name="simple-index"),
    path("simple/<str:name>/", simple.detail, name="simple-detail"),
    path("legacy/", upload.file_upload, name="upload"),
    re_path(rf"^packages/(?P<path>{STORED_PATH_PATTERN})$", files.serve, name="file"),
    path("_health/", views.health, name="health"),
    path("admin/", admin.site.urls),
]
