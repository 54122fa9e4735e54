"""Django's migrate, one at a time per database (common.migration_lock):
several machines may start at once and each run it.

It lives in accounts, the first app of INSTALLED_APPS and the lowest layer,
because an app's command replaces Django's own of the same name.
"""

from django.core.management.commands import migrate
from django.db import connections

from common.migration_lock import migration_lock


class Command(migrate.Command):
    def handle(self, *args, **options):
        def waiting():
            self.stderr.write("Another process is migrating this database; waiting for it.")

        with migration_lock(connections[options["database"]], on_wait=waiting):
            return super().handle(*args, **options)
