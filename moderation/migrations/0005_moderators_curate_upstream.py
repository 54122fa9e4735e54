"""The Moderators group curates the mirrored upstream index (issue 14): it sees
and acts on mirrored projects ("change" unlocks the admin's actions: quarantine,
allow a claim, block) and adds and lifts blocks, each through
moderation.upstream with a reason. Added to the group, not set, so what an
administrator gave the group since is kept; the reverse takes only these away.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

MODERATOR_GROUP = "Moderators"
CODENAMES = [
    "view_upstreamproject",
    "change_upstreamproject",
    "view_upstreamblock",
    "add_upstreamblock",
    "delete_upstreamblock",
]


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
        ("moderation", "0004_moderators_switch_kill_switches"),
        ("packages", "0011_upstream_mirror"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
