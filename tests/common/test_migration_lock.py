"""Several machines may run `manage.py migrate` at once on one database."""

import os
import secrets
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections

from common.migration_lock import MIGRATION_LOCK_KEY, migration_lock
from tests.liveserver import REPO, is_postgresql, server_env, throwaway_postgresql_database

DATABASE_URL = os.environ.get("DATABASE_URL", "")
postgresql_only = pytest.mark.skipif(
    not is_postgresql(DATABASE_URL), reason="advisory locks: PostgreSQL (set DATABASE_URL)"
)


@postgresql_only
def test_machines_starting_together_on_a_fresh_database_all_migrate(tmp_path):
    # Without the lock, two plain Django migrates on a fresh database fail
    # with IntegrityError pg_type_typname_nsp_index (or "already exists").
    with throwaway_postgresql_database(DATABASE_URL, f"migrate_{secrets.token_hex(4)}") as (
        url,
        _name,
    ):
        env = server_env(tmp_path / "var", url)
        command = [sys.executable, str(REPO / "manage.py"), "migrate", "--noinput"]

        def migrate(_index):
            return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)

        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(migrate, range(3)))
        for result in results:
            assert result.returncode == 0, result.stderr
        # One applied the migrations; the others waited, then found them done.
        applied = [result for result in results if "Applying accounts.0001" in result.stdout]
        assert len(applied) == 1
        others = [result for result in results if result is not applied[0]]
        assert all("No migrations to apply." in result.stdout for result in others)


@postgresql_only
@pytest.mark.django_db
def test_migrate_waits_for_the_lock_another_process_holds():
    holder = connection.get_new_connection(connection.get_connection_params())
    holder.autocommit = True
    holder.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
    stderr, done = StringIO(), threading.Event()

    def migrate():
        try:
            call_command("migrate", "--noinput", verbosity=0, stderr=stderr)
            done.set()
        finally:
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=migrate)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while "waiting" not in stderr.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "Another process is migrating this database; waiting for it." in stderr.getvalue()
        assert not done.wait(0.5)  # still waiting while the lock is held
    finally:
        holder.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
        holder.close()
        thread.join(60)
    assert done.is_set()


@postgresql_only
@pytest.mark.django_db
def test_the_lock_ends_with_its_session():
    with migration_lock(connection):
        pass
    probe = connection.get_new_connection(connection.get_connection_params())
    try:
        assert probe.execute(
            "SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_KEY]
        ).fetchone() == (True,)
    finally:
        probe.close()


def test_sqlite_needs_no_lock():
    class SQLite:  # a stand-in for Django's connection: only its vendor is read
        vendor = "sqlite"

    entered = []
    with migration_lock(SQLite(), on_wait=lambda: entered.append("waited")):
        entered.append("locked")
    assert entered == ["locked"]
