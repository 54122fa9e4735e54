from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "moderation"
    verbose_name = "Moderation"

    def ready(self):
        from accounts import organizations
        from packages import name_policy

        from . import names

        # The upload (a layer below) asks packages.name_policy about new names,
        # and a new organization asks accounts.organizations.
        name_policy.register(names)
        organizations.register_prohibited_name_check(names.prohibited_name)
