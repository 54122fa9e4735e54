"""The Moderators group sees publishing sessions (PEP 694) and their staged
files, and cancels sessions through the admin's action ("change" unlocks it;
the pages stay read-only). Added to the group; the reverse takes only these."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

MODERATOR_GROUP = "Moderators"
CODENAMES = ["view_uploadsession", "change_uploadsession", "view_stagedfile"]


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
        ("moderation", "0006_moderators_organizations_namespaces_advisories"),
        ("packages", "0016_42_upload_sessions"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
