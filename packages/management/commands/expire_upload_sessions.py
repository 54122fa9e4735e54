from django.core.management.base import BaseCommand

from packages.upload_sessions import expire_sessions


class Command(BaseCommand):
    help = (
        "End the publishing sessions (PEP 694) whose time is up and remove their staged "
        "files; forget files announced but never uploaded. Sessions are also ended when "
        "they are next read; run this from cron (hourly) so unread ones free their storage."
    )

    def handle(self, *args, **options):
        ended = expire_sessions()
        self.stdout.write(f"Expired {ended} publishing session{'s' if ended != 1 else ''}.")
