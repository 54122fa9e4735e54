from django.apps import AppConfig


class PackagesConfig(AppConfig):
    name = "packages"
    verbose_name = "Packages"

    def ready(self):
        from accounts.projects import register_project_directory

        from . import roles

        # accounts (a layer below) asks about a user's projects through it.
        register_project_directory(roles)
