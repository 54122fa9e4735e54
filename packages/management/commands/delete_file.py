from django.core.management.base import BaseCommand, CommandError

from packages.management.common import add_actor_argument, confirm, get_file, shell_actor
from packages.services import ReleaseError, file_delete


class Command(BaseCommand):
    help = (
        "Delete one distribution file. Its filename can never be uploaded again; "
        "the release stays even without files."
    )

    def add_arguments(self, parser):
        parser.add_argument("filename")
        add_actor_argument(parser)
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, filename, actor, yes, **options):
        file = get_file(filename)
        actor = shell_actor(actor)
        release = file.release
        label = f"{file.filename} from {release.project.name} {release.version}"
        question = f"Delete {label}? The filename can never be uploaded again."
        if not confirm(question, assume_yes=yes):
            self.stdout.write("Cancelled; nothing was deleted.")
            return
        try:
            file_delete(file=file, actor=actor)
        except ReleaseError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Deleted {label}.")
