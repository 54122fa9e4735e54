from django.core.management.base import BaseCommand, CommandError

from packages.management.common import add_actor_argument, get_release, shell_actor
from packages.services import ReleaseError, release_unyank


class Command(BaseCommand):
    help = "Undo a yank: the release is offered to installers again."

    def add_arguments(self, parser):
        parser.add_argument("project")
        parser.add_argument("version")
        add_actor_argument(parser)

    def handle(self, *args, project, version, actor, **options):
        release = get_release(project, version)
        try:
            release = release_unyank(release=release, actor=shell_actor(actor))
        except ReleaseError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Unyanked {release.project.name} {release.version}.")
