"""The Moderators group keeps the security advisories: it sees them, adds or
updates one from an OSV record, and ("change" unlocks the admin's actions)
withdraws and deletes them, each through moderation.advisories with a reason.
Added to the group, not set, as 0005 does; the reverse takes only these."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

MODERATOR_GROUP = "Moderators"
CODENAMES = ["view_advisory", "add_advisory", "change_advisory"]


def _permissions(apps):
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.filter(content_type__app_label="packages", codename__in=CODENAMES)


def grant(apps, schema_editor):
    # The permission rows are made after the whole migrate run (post_migrate);
    # on a fresh database they don't exist yet (see 0003_moderators_group).
    create_permissions(global_apps.get_app_config("packages"), verbosity=0, apps=apps)
    group = apps.get_model("auth", "Group").objects.filter(name=MODERATOR_GROUP).first()
    if group is not None:
        group.permissions.add(*_permissions(apps))


def revoke(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name=MODERATOR_GROUP).first()
    if group is not None:
        group.permissions.remove(*_permissions(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0007_31_moderators_see_organizations"),
        ("packages", "0012_organizations_status_namespaces_advisories"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
