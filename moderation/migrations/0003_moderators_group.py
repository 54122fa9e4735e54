"""The "Moderators" group, with exactly the permissions the moderators' admin
needs. Written out here, not imported, so this migration keeps meaning what it
meant when it ran; a later change of the set is a new migration.

Django creates permission rows in a post_migrate handler, i.e. after every
migration of the run: on a fresh database they don't exist yet when this runs.
So create_permissions is called for the apps first (it is idempotent: the later
post_migrate run finds the rows and adds nothing). A data migration, not a
post_migrate handler of ours, so the group is made once and a later change by
an administrator is not overwritten at the next migrate.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

MODERATOR_GROUP = "Moderators"

_VIEW_ONLY = {
    # Tokens: seen, never edited (their secrets aren't stored anyway).
    "accounts": ["apitoken", "email", "event", "webauthncredential", "recoverycode"],
    "packages": [
        "role",
        "roleinvitation",
        "fileregistry",
        "journalentry",
        "classifier",
        "searchdocument",
        "downloadcount",
    ],
    "moderation": ["moderationaction"],
}
# "change" here only unlocks the admin actions (which call moderation.services,
# with a reason): the admin shows these rows read-only to moderators.
_VIEW_AND_CHANGE = {
    "accounts": ["user"],
    "packages": ["project", "release", "file"],
    "moderation": ["malwarereport", "namereview", "prohibitedname"],
}
MODERATOR_PERMISSIONS = sorted(
    [(app, f"view_{model}") for app, models in _VIEW_ONLY.items() for model in models]
    + [
        (app, f"{perm}_{model}")
        for app, models in _VIEW_AND_CHANGE.items()
        for model in models
        for perm in ("view", "change")
    ]
    # Prohibiting a name is adding a row (through the service).
    + [("moderation", "add_prohibitedname")]
)


def create_group(apps, schema_editor):
    for app_label in ("accounts", "packages", "moderation", "auth", "contenttypes"):
        # The app's current models, the historical Permission/ContentType tables.
        create_permissions(global_apps.get_app_config(app_label), verbosity=0, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=MODERATOR_GROUP)
    wanted = []
    for app_label, codename in MODERATOR_PERMISSIONS:
        wanted.append(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    group.permissions.set(wanted)


def drop_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=MODERATOR_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0002_project_folded_name_index"),
        ("accounts", "0006_user_is_frozen"),
        ("packages", "0005_quarantine"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, drop_group)]
