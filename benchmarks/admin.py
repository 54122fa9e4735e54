#!/usr/bin/env python
"""Admin changelist latency with 1,000,000 file rows, on PostgreSQL.

    DATABASE_URL=postgresql://user:password@host:port/db .venv/bin/python benchmarks/admin.py \
        [--files 1000000] [--iterations 30] [--reuse] [--drop]

Migrates the database DATABASE_URL names, generates the rows there with
INSERT ... SELECT generate_series (20 files per project, 4 per release: 50,000
projects, 250,000 releases for a million files), runs ANALYZE, then signs in a
member of the "Moderators" group with Django's test client and times the admin
pages a moderator opens: the default changelists of projects, releases and
files, searches (project name prefix, filename prefix, sha256), a project's
files (the project page's "Files" link) and a project's change page. Prints
p50/p95 per page. --reuse times rows left by an earlier run; --drop deletes the
generated rows at the end. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.liveserver import percentiles  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pypi_site.settings")
# With a server database the settings want an explicit key (machines would
# disagree on a generated one); this process is the only machine.
os.environ.setdefault("SECRET_KEY", "bench-" + secrets.token_urlsafe(32))

PREFIX = "bench-admin-"


def _constant(field) -> str:
    """SQL for a column the generator doesn't set: what Django would store."""
    from django.db import models

    if field.null:
        return "NULL"
    if isinstance(field, models.JSONField):
        return "'[]'::jsonb"
    if isinstance(field, models.BooleanField):
        return "false"
    if isinstance(field, models.DateTimeField):
        return "now()"
    if isinstance(field, (models.BigIntegerField, models.IntegerField)):
        return "0"
    return "''"


# The SQL below is built from this script's constants and model metadata only
# (no outside input), hence the S608 waivers.
def _insert(cursor, model, source: str, expressions: dict[str, str]) -> None:
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(f'"{field.column}"')
        values.append(expressions.get(field.column, _constant(field)))
    cursor.execute(
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(values)} FROM {source}"
    )


def generate(files: int, *, projects: int | None = None, prefix: str = PREFIX) -> int:
    """Projects named ``<prefix><n>`` holding ``files`` files between them, in
    SQL (no ORM objects): ``files // 20`` projects by default, each with up to 5
    releases of up to 4 files. Returns the number of files made (``files``
    rounded down to a whole shape). Another prefix makes rows that collide with
    no earlier call's (names, digests and paths all start from it)."""
    from django.db import connection, transaction

    from packages.models import File, Project, Release

    projects = projects or max(files // 20, 1)
    per_project = max(files // projects, 1)
    per_release = min(4, per_project)
    per_project_releases = per_project // per_release
    releases = projects * per_project_releases
    files = releases * per_release
    # Digests and paths are unique per database: seeded by the prefix, so that
    # several calls (benchmarks/scale.py) can share one.
    seed = f"'{prefix}' || "
    with transaction.atomic(), connection.cursor() as cursor:
        started = time.perf_counter()
        _insert(
            cursor,
            Project,
            f"generate_series(1, {projects}) AS i",
            {
                "name": f"'{prefix}' || i",
                "normalized_name": f"'{prefix}' || i",
                "total_size": f"{per_project} * 12345",
            },
        )
        _insert(
            cursor,
            Release,
            f"(SELECT id, row_number() OVER (ORDER BY id) AS n FROM packages_project "  # noqa: S608
            f"WHERE normalized_name LIKE '{prefix}%%') AS p, "
            f"generate_series(1, {per_project_releases}) AS v",
            {
                "project_id": "p.id",
                "version": "v || '.0'",
                "canonical_version": "v::text",
                "metadata_version": "'2.1'",
                "created_at": "now() - (p.n * 5 + v) * interval '1 minute'",
            },
        )
        _insert(
            cursor,
            File,
            "(SELECT r.id, r.version, p.normalized_name, row_number() OVER (ORDER BY r.id) AS n "  # noqa: S608
            "FROM packages_release r JOIN packages_project p ON p.id = r.project_id "
            f"WHERE p.normalized_name LIKE '{prefix}%%') AS r, "
            f"generate_series(1, {per_release}) AS k",
            {
                "release_id": "r.id",
                "filename": "replace(r.normalized_name, '-', '_') || '-' || r.version "
                "|| '-py3-none-any' || k || '.whl'",
                "packagetype": "'bdist_wheel'",
                "python_version": "'py3'",
                "size": "12345",
                "md5_digest": f"md5({seed}r.n || ':' || k)",
                "sha256_digest": f"md5({seed}'s' || r.n || ':' || k) "
                f"|| md5({seed}'t' || r.n || ':' || k)",
                "blake2_256_digest": f"md5({seed}'b' || r.n || ':' || k) "
                f"|| md5({seed}'c' || r.n || ':' || k)",
                "path": f"md5({seed}'p' || r.n || ':' || k) || '/' || r.n || '-' || k || '.whl'",
                "upload_time": "now() - (r.n * 4 + k) * interval '1 second'",
            },
        )
        print(
            f"generated {projects:,} projects, {releases:,} releases, {files:,} files "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE packages_project, packages_release, packages_file")
    return files


def delete_generated() -> None:
    from django.db import connection, transaction

    # In SQL, children first: the ORM's cascade would load a million rows.
    mine = "SELECT id FROM packages_project WHERE normalized_name LIKE %s"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM packages_file WHERE release_id IN "  # noqa: S608
            f"(SELECT id FROM packages_release WHERE project_id IN ({mine}))",
            [PREFIX + "%"],
        )
        cursor.execute(f"DELETE FROM packages_release WHERE project_id IN ({mine})", [PREFIX + "%"])  # noqa: S608
        cursor.execute(f"DELETE FROM packages_project WHERE id IN ({mine})", [PREFIX + "%"])  # noqa: S608


def moderator():
    import pyotp
    from django.contrib.auth.models import Group

    from accounts.models import User

    # The admin keeps staff without a second factor out (REQUIRE_2FA_TO_MANAGE).
    user, _ = User.objects.get_or_create(
        username="bench-moderator",
        defaults={"is_staff": True, "totp_secret": pyotp.random_base32()},
    )
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


def measure(iterations: int) -> list[tuple[str, list[float]]]:
    from django.test import Client

    from packages.models import File, Project

    client = Client()
    client.force_login(moderator())
    number = min(4242, Project.objects.filter(normalized_name__startswith=PREFIX).count() // 2)
    project = Project.objects.get(normalized_name=f"{PREFIX}{number}")
    file = File.objects.filter(release__project=project).first()
    pages = [
        ("projects: default page", "/admin/packages/project/"),
        ("projects: search name prefix", f"/admin/packages/project/?q={PREFIX}{number}"),
        ("projects: quarantined filter", "/admin/packages/project/?quarantined=yes"),
        ("project change page", f"/admin/packages/project/{project.pk}/change/"),
        ("releases: default page", "/admin/packages/release/"),
        ("files: default page", "/admin/packages/file/"),
        ("files: search filename prefix", f"/admin/packages/file/?q=bench_admin_{number}-"),
        ("files: search sha256", f"/admin/packages/file/?q={file.sha256_digest}"),
        ("files: one project's", f"/admin/packages/file/?release__project__id__exact={project.pk}"),
        ("files: packagetype filter", "/admin/packages/file/?packagetype__exact=sdist"),
    ]
    results = []
    for label, url in pages:
        assert client.get(url).status_code == 200, url  # warm-up, and a check
        timings = []
        for _ in range(iterations):
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        results.append((label, timings))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="time the rows of an earlier run")
    parser.add_argument("--drop", action="store_true", help="delete the generated rows at the end")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import setup_test_environment

    from packages.models import File, Project

    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database.")
    setup_test_environment()  # the test client's host, locmem e-mail
    # Static URLs without a collectstatic manifest (as in the tests).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("migrate", verbosity=0)
    if not args.reuse:
        delete_generated()
        generate(args.files)
    print(f"rows: {File.objects.count():,} files, {Project.objects.count():,} projects")
    print(f"{'page':34} {'p50 ms':>8} {'p95 ms':>8}")
    for label, timings in measure(args.iterations):
        figures = percentiles(timings)
        print(f"{label:34} {figures['p50']:8.1f} {figures['p95']:8.1f}")
    if args.drop:
        delete_generated()


if __name__ == "__main__":
    main()
