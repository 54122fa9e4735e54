from django.core.management.base import BaseCommand, CommandError

from packages.management.common import add_actor_argument, confirm, get_release, shell_actor
from packages.services import ReleaseError, release_delete


class Command(BaseCommand):
    help = (
        "Delete a release and its files. Their filenames can never be uploaded again; "
        "consider yank_release instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("project")
        parser.add_argument("version")
        add_actor_argument(parser)
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, project, version, actor, yes, **options):
        release = get_release(project, version)
        actor = shell_actor(actor)
        label = f"{release.project.name} {release.version}"
        count = release.files.count()
        question = (
            f"Delete {label} and its {count} file(s)? Their filenames can never be uploaded again."
        )
        if not confirm(question, assume_yes=yes):
            self.stdout.write("Cancelled; nothing was deleted.")
            return
        try:
            release_delete(release=release, actor=actor)
        except ReleaseError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Deleted {label} and its {count} file(s).")
