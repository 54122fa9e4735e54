"""PostgreSQL's half of search: weighted full-text vectors and their indexes,
and a trigram index on names.

Nothing happens on SQLite, whose search (packages.search) reads the model's
plain columns. The vectors are stored generated columns, so every write of a
SearchDocument row, whatever code makes it, keeps them current in the same
transaction; the model does not declare them and the ORM never selects them.

Why the 'english' configuration for every part, names included: stemming lets
"parser" meet "parsers" and "request" meet "requests", and the default parser
already splits "requests-oauthlib" into the compound and its parts, so
"oauthlib" finds it. The name is indexed twice, as written and with the
separators of its normalized form turned into spaces, because the parser reads
"zope.interface" as one host name token and would otherwise never yield
"interface". What 'english' costs: a name that is a stop word ("this", "it")
has no lexeme in the vectors; search still finds such a project by its exact
normalized name.
"""

from django.db import migrations


def _weighted(parts):
    return "\n        || ".join(
        f"setweight(to_tsvector('english'::regconfig, {text}), '{weight}')"
        for text, weight in parts
    )


_NAME = [("name || ' ' || replace(normalized_name, '-', ' ')", "A")]
_HEAD = [*_NAME, ("summary", "B"), ("keywords || ' ' || people", "C")]
_DESCRIPTION = [("description", "D")]
_TABLE = "packages_searchdocument"

FORWARD = [
    # pg_trgm is a trusted extension: the database's owner may create it.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # Three nested vectors, each with its GIN index (packages.search says which
    # query reads which): everything, what a query must match; name, summary,
    # keywords and people; the name alone.
    f"ALTER TABLE {_TABLE} ADD COLUMN search_vector tsvector"
    f" GENERATED ALWAYS AS ({_weighted(_HEAD + _DESCRIPTION)}) STORED",
    f"ALTER TABLE {_TABLE} ADD COLUMN search_head tsvector"
    f" GENERATED ALWAYS AS ({_weighted(_HEAD)}) STORED",
    f"ALTER TABLE {_TABLE} ADD COLUMN search_name tsvector"
    f" GENERATED ALWAYS AS ({_weighted(_NAME)}) STORED",
    # The two small vectors stay in the row (storage MAIN), so ranking and
    # filtering thousands of matches reads no TOAST table.
    f"ALTER TABLE {_TABLE} ALTER COLUMN search_head SET STORAGE MAIN",
    f"ALTER TABLE {_TABLE} ALTER COLUMN search_name SET STORAGE MAIN",
    # The full vector stays in the row too, compressed with lz4 where the
    # server has it: reading it from TOAST costs about 10 microseconds a row,
    # which the planner does not count, so a plan that filters rows on it can
    # take a second where it expected milliseconds. Inline, 100,000 rows read
    # in about 0.1 s. (Without lz4, pglz: slower to read, still no TOAST.)
    f"ALTER TABLE {_TABLE} ALTER COLUMN search_vector SET STORAGE MAIN",
    f"""DO $$ BEGIN
        ALTER TABLE {_TABLE} ALTER COLUMN search_vector SET COMPRESSION lz4;
    EXCEPTION WHEN feature_not_supported THEN NULL;
    END $$""",
    # The description goes to TOAST even when it would fit compressed: only
    # the page's 20 rows ever read it. (Much lower, and summaries and names
    # would be moved out too.)
    f"ALTER TABLE {_TABLE} SET (toast_tuple_target = 1024)",
    # Ten times the default sample of lexemes: the planner's estimate of how
    # many rows a word matches decides between walking the released_at index
    # (right for a common word) and a GIN index (right for a rare one), and the
    # wrong choice reads every row's vector.
    f"ALTER TABLE {_TABLE} ALTER COLUMN search_vector SET STATISTICS 1000",
    f"ALTER TABLE {_TABLE} ALTER COLUMN search_head SET STATISTICS 1000",
    f"CREATE INDEX {_TABLE}_vector_gin ON {_TABLE} USING gin (search_vector)",
    f"CREATE INDEX {_TABLE}_head_gin ON {_TABLE} USING gin (search_head)",
    f"CREATE INDEX {_TABLE}_name_gin ON {_TABLE} USING gin (search_name)",
    f"CREATE INDEX {_TABLE}_name_trgm ON {_TABLE} USING gin (normalized_name gin_trgm_ops)",
]

# The extension stays: dropping it would break anything else that came to use
# it, and keeping it changes nothing for 0002's schema.
BACKWARD = [
    f"DROP INDEX IF EXISTS {_TABLE}_name_trgm",
    f"DROP INDEX IF EXISTS {_TABLE}_name_gin",
    f"DROP INDEX IF EXISTS {_TABLE}_head_gin",
    f"DROP INDEX IF EXISTS {_TABLE}_vector_gin",
    f"ALTER TABLE {_TABLE} RESET (toast_tuple_target)",
    f"ALTER TABLE {_TABLE} DROP COLUMN IF EXISTS search_name",
    f"ALTER TABLE {_TABLE} DROP COLUMN IF EXISTS search_head",
    f"ALTER TABLE {_TABLE} DROP COLUMN IF EXISTS search_vector",
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
