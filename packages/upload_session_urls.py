"""The Upload 2.0 API (PEP 694) under /upload/2.0/ (packages.views.upload_sessions)."""

from django.urls import path, re_path, register_converter

from .converters import FILENAME_PATTERN, PROJECT
from .views import upload_sessions as views


class StageSecretConverter:
    # secrets.token_urlsafe(32): 43 URL-safe characters; nothing else can name a stage.
    regex = r"[A-Za-z0-9_-]{43}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(StageSecretConverter, "stage_secret")

SESSION = "sessions/<uuid:uuid>/"
FILE = f"{SESSION}files/<uuid:file_uuid>/"

urlpatterns = [
    path("", views.create_session, name="upload-2-root"),
    path(SESSION, views.session_detail, name="upload-session"),
    path(f"{SESSION}publish", views.publish, name="upload-session-publish"),
    path(f"{SESSION}extend", views.extend, name="upload-session-extend"),
    path(f"{SESSION}files/", views.create_file_session, name="upload-session-files"),
    path(FILE, views.file_session, name="upload-file-session"),
    path(f"{FILE}content", views.file_content, name="upload-file-content"),
    path(f"{FILE}complete", views.complete_file, name="upload-file-complete"),
    path("stage/<stage_secret:secret>/", views.stage_index, name="upload-stage-index"),
    # A staged file, or its PEP 658 metadata (<filename>.metadata).
    re_path(
        rf"^stage/(?P<secret>[A-Za-z0-9_-]{{43}})/files/(?P<filename>{FILENAME_PATTERN})\Z",
        views.stage_file,
        name="upload-stage-file",
    ),
    path(
        f"stage/<stage_secret:secret>/<{PROJECT}:name>/",
        views.stage_project,
        name="upload-stage-project",
    ),
]
