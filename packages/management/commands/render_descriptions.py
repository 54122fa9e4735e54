from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from packages import purges
from packages.models import Release
from packages.rendering import RENDERER_VERSION, render_description


class Command(BaseCommand):
    help = (
        "Render release descriptions again: those an older renderer wrote "
        f"(the current one is {RENDERER_VERSION}), or all of them with --all."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--all",
            action="store_true",
            dest="render_all",
            help="Render every release, current ones included.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=200,
            help="Releases read and saved together (default: 200).",
        )

    def handle(self, *args, render_all, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        releases = Release.objects.select_related("project").only(
            "id", "description", "description_content_type", "project__normalized_name"
        )
        if not render_all:
            releases = releases.exclude(description_renderer=RENDERER_VERSION)
        # Walked by id rather than by offset: the rows already done drop out
        # of the filter as they are saved.
        last_id, done = 0, 0
        while batch := list(releases.filter(id__gt=last_id).order_by("id")[:batch_size]):
            for release in batch:
                release.description_html = render_description(
                    release.description, release.description_content_type
                )
                release.description_renderer = RENDERER_VERSION
            # One transaction, as bulk_update alone makes: no savepoint.
            with transaction.atomic(savepoint=False):
                Release.objects.bulk_update(batch, ["description_html", "description_renderer"])
                # Their project pages show the descriptions: edges must forget them.
                names = dict.fromkeys(release.project.normalized_name for release in batch)
                purges.enqueue(f"project-{name}" for name in names)
            last_id = batch[-1].id
            done += len(batch)
            self.stdout.write(f"Rendered {done} descriptions so far.")
        self.stdout.write(f"Rendered {done} descriptions with renderer {RENDERER_VERSION}.")
