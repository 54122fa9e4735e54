"""On PostgreSQL, index the confusable-folded project name (moderation.names.Folded)
so the look-alike check at project creation is an index lookup. The expression
must stay exactly the SQL Folded emits. SQLite scans; its tables are small."""

from django.db import migrations

FOLDED = (
    "REPLACE(REPLACE(REPLACE(REPLACE(normalized_name, '-', ''), 'i', 'l'), '1', 'l'), '0', 'o')"
)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS project_folded_name ON packages_project (({FOLDED}))"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS project_folded_name")


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0001_initial"),
        ("packages", "0005_quarantine"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
