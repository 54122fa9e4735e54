from django.core.management.base import BaseCommand, CommandError

from packages.management.common import add_actor_argument, get_release, shell_actor
from packages.services import ReleaseError, release_yank


class Command(BaseCommand):
    help = "Yank a release (PEP 592): installers skip it unless it is pinned exactly."

    def add_arguments(self, parser):
        parser.add_argument("project")
        parser.add_argument("version")
        parser.add_argument("--reason", default="", help="Shown to users by installers.")
        add_actor_argument(parser)

    def handle(self, *args, project, version, reason, actor, **options):
        release = get_release(project, version)
        try:
            release = release_yank(release=release, reason=reason, actor=shell_actor(actor))
        except ReleaseError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Yanked {release.project.name} {release.version}.")
