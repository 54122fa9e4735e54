"""manage.py create_bucket: create the S3 bucket the files go to
(AWS_STORAGE_BUCKET_NAME), unless it exists. Safe to run on every deployment."""

from django.core.management.base import BaseCommand, CommandError

from packages.storage import create_bucket


class Command(BaseCommand):
    help = "Create the file store's S3 bucket (AWS_STORAGE_BUCKET_NAME) unless it exists."

    def handle(self, *args, **options):
        try:
            created = create_bucket()
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if created is None:
            self.stdout.write("The bucket exists already.")
        else:
            self.stdout.write(f"Created the bucket {created!r}.")
