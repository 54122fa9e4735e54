"""The Moderators group's part in issue 15, each action through its moderation
service with a reason ("change" unlocks the admin's actions):

- organizations: seen with their members, teams and pending invitations,
  deactivated and reactivated (moderation.organizations);
- namespaces (PEP 752): seen, granted, revoked, made open, restricted, hidden
  or shown (moderation.namespaces);
- security advisories: seen, added or updated from an OSV record, withdrawn and
  deleted (moderation.advisories).

Added to the group, not set, as 0005 does; the reverse takes only these."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import Q

MODERATOR_GROUP = "Moderators"
CODENAMES = {
    "accounts": [
        "view_organization",
        "change_organization",
        "view_organizationrole",
        "view_organizationinvitation",
        "view_team",
        "view_teammember",
    ],
    "packages": [
        "view_namespace",
        "add_namespace",
        "change_namespace",
        "view_advisory",
        "add_advisory",
        "change_advisory",
    ],
}


def _permissions(apps):
    Permission = apps.get_model("auth", "Permission")
    wanted = Q()
    for app_label, codenames in CODENAMES.items():
        wanted |= Q(content_type__app_label=app_label, codename__in=codenames)
    return Permission.objects.filter(wanted)


def grant(apps, schema_editor):
    # The permission rows are made after the whole migrate run (post_migrate);
    # on a fresh database they don't exist yet (see 0003_moderators_group).
    for app_label in CODENAMES:
        create_permissions(global_apps.get_app_config(app_label), verbosity=0, apps=apps)
    group = apps.get_model("auth", "Group").objects.filter(name=MODERATOR_GROUP).first()
    if group is not None:
        group.permissions.add(*_permissions(apps))


def revoke(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name=MODERATOR_GROUP).first()
    if group is not None:
        group.permissions.remove(*_permissions(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0005_moderators_curate_upstream"),
        ("accounts", "0009_organizations"),
        ("packages", "0012_organizations_status_namespaces_advisories"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
