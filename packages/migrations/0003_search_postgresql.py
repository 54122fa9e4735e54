"""PostgreSQL's half of search: a weighted full-text vector and trigram indexes.

Nothing happens on SQLite, whose search (packages.search) reads the model's
plain columns. The vector is a stored generated column, so every write of a
SearchDocument row, whatever code makes it, keeps it current in the same
transaction; the model does not declare it and the ORM never reads it.

Why the 'english' configuration for every part, names included: stemming lets
"parser" meet "parsers" and "request" meet "requests", and the default parser
already splits "requests-oauthlib" into the compound and its parts, so
"oauthlib" finds it. The name is indexed twice, as written and with the
separators of its normalized form turned into spaces, because the parser reads
"zope.interface" as one host name token and would otherwise never yield
"interface". What 'english' costs: a name that is a stop word ("this", "it")
has no lexeme in the vector; search finds such projects by the exact
normalized-name comparison and the trigram index instead.
"""

from django.db import migrations

FORWARD = [
    # pg_trgm is a trusted extension: the database's owner may create it.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """
    ALTER TABLE packages_searchdocument ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig,
            name || ' ' || replace(normalized_name, '-', ' ')), 'A')
        || setweight(to_tsvector('english'::regconfig, summary), 'B')
        || setweight(to_tsvector('english'::regconfig, keywords || ' ' || people), 'C')
        || setweight(to_tsvector('english'::regconfig, description), 'D')
    ) STORED
    """,
    "CREATE INDEX packages_searchdocument_vector_gin"
    " ON packages_searchdocument USING gin (search_vector)",
    "CREATE INDEX packages_searchdocument_name_trgm"
    " ON packages_searchdocument USING gin (normalized_name gin_trgm_ops)",
]

# The extension stays: dropping it would break anything else that came to use
# it, and keeping it changes nothing for 0002's schema.
BACKWARD = [
    "DROP INDEX IF EXISTS packages_searchdocument_name_trgm",
    "DROP INDEX IF EXISTS packages_searchdocument_vector_gin",
    "ALTER TABLE packages_searchdocument DROP COLUMN IF EXISTS search_vector",
]


def _run_on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("packages", "0002_search_and_rendered_descriptions"),
    ]

    operations = [
        migrations.RunPython(_run_on_postgresql(FORWARD), _run_on_postgresql(BACKWARD)),
    ]
