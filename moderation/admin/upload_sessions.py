"""Publishing sessions (PEP 694) in the admin: moderators see every session
and its staged files as they are, and may cancel an open one (its files and
their bytes are removed), with a reason recorded in the project's history."""

from django.contrib import admin

from packages.models import StagedFile, UploadSession
from packages.policy import UploadError
from packages.upload_sessions import cancel_session

from ..services import ModerationError
from .support import ModeratorAdmin, ReadOnlyInline, moderation_action


def session_cancel(*, session: UploadSession, actor, reason: str) -> None:
    try:
        cancel_session(session, actor=actor, reason=reason)
    except UploadError as exc:
        raise ModerationError(exc.message) from None


class StagedFileInline(ReadOnlyInline):
    model = StagedFile
    fields = ("filename", "status", "size", "sha256_digest", "uploaded_by", "completed_at")


@admin.register(UploadSession)
class UploadSessionAdmin(ModeratorAdmin):
    list_display = ("name", "version", "status", "created_by", "created_at", "expires_at")
    list_filter = ("status",)
    search_fields = ("normalized_name", "version")
    list_select_related = ("created_by",)
    # The stage's secret stays out: whoever reads the admin need not install from it.
    exclude = ("preview_secret",)
    inlines = [StagedFileInline]
    actions = [
        moderation_action(
            "cancel_sessions", "Cancel the selected publishing sessions", session_cancel, "session"
        )
    ]
