from django.core.management.base import BaseCommand, CommandError

from accounts.tokens import api_token_create
from packages.management.common import get_actor
from packages.models import Project


class Command(BaseCommand):
    help = "Mint an upload token for a user and print it on stdout (and nothing else)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--project",
            action="append",
            default=[],
            dest="projects",
            metavar="NAME",
            help="Limit the token to this existing project (repeatable). "
            "Without it the token is user-wide.",
        )
        parser.add_argument("--description", default="", help="A note to recognise the token.")

    def handle(self, *args, username, projects, description, **options):
        user = get_actor(username)
        scoped = []
        for name in projects:
            project = Project.objects.by_name(name)
            if project is None:
                raise CommandError(f"No project named {name!r}.")
            if not project.roles.filter(user=user).exists():
                raise CommandError(f"{username} is not an Owner or Maintainer of {project.name}.")
            scoped.append(project)
        minted = api_token_create(
            user=user,
            description=description or "created with manage.py create_api_token",
            projects=scoped,
        )
        self.stdout.write(minted.secret)
