from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "moderation"
    verbose_name = "Moderation"

    def ready(self):
        from packages import name_policy

        from . import names

        # The upload (a layer below) asks packages.name_policy about new names.
        name_policy.register(names)
