"""Moving in (issue 14): ``manage.py import_distributions`` against real sources on
loopback: pypiserver (HTML only) and the directory it serves, and another
instance of this index (PEP 691 JSON, upload times, yanks), each imported into
a fresh index of its own."""

import json
import secrets
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import pytest

from tests.factories import make_sdist, make_wheel
from tests.liveserver import (
    CommandFailed,
    manage,
    pypiserver,
    server_env,
    superuser_with_token,
    throwaway_postgresql_database,
)

from .conftest import _DATABASE_URL

pytestmark = pytest.mark.e2e

_ROWS = (
    "import json; from packages.models import File; print(json.dumps([[f.filename, "
    "f.sha256_digest, f.upload_time.isoformat(), f.release.yanked, f.release.yanked_reason] "
    "for f in File.objects.select_related('release').order_by('filename')]))"
)


# What twine's upload left, to compare with what the import leaves: every column
# of the release and its files but ids, times and who (other accounts here).
_AS_UPLOADED = (
    "import json; from packages.models import File, Release; "
    "skip = {'id', 'project_id', 'release_id', 'created_at', 'upload_time', 'uploader_id', "
    "'description_html', 'description_renderer'}; "
    "keep = lambda row: {k: v for k, v in row.items() if k not in skip}; "
    "print(json.dumps(["
    "[keep(r) for r in Release.objects.filter(project__normalized_name='e2e-demo')"
    ".order_by('canonical_version').values()], "
    "[keep(f) for f in File.objects.filter(release__project__normalized_name='e2e-demo')"
    ".order_by('filename').values()]], default=str))"
)


def fresh_index(var_dir: Path, database_url: str | None = None) -> dict[str, str]:
    """A migrated index with one account, ``owner``, that may upload; on
    ``database_url``, else SQLite in ``var_dir``."""
    env = server_env(var_dir, database_url, CACHE_KEY_PREFIX=f"e2e-{secrets.token_hex(4)}")
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    superuser_with_token(env, "owner", secrets.token_urlsafe(12))
    return env


def rows(env: dict[str, str]) -> list[list]:
    return json.loads(manage(env, "shell", "--no-imports", "-c", _ROWS))


def import_distributions(env: dict[str, str], *args: str) -> str:
    return manage(env, "import_distributions", "--owner", "owner", "--no-progress", *args)


def test_a_pypiserver_and_its_directory_give_the_same_files(tmp_path):
    packages = tmp_path / "packages"
    packages.mkdir()
    dists = [
        make_wheel("moving-lib", "1.0"),
        make_sdist("moving-lib", "1.0"),
        make_wheel("moving-lib", "1.1"),
        make_wheel("moving-tool", "0.3"),
    ]
    for item in dists:
        (packages / item.filename).write_bytes(item.content)
    with pypiserver(packages) as url:
        from_index = fresh_index(tmp_path / "from-index")
        assert import_distributions(from_index, "--from-index", url) == (
            "Imported 4, already there 0, refused 0.\n"
        )
        assert import_distributions(from_index, "--from-index", url) == (
            "Imported 0, already there 4, refused 0.\n"
        )
    from_directory = fresh_index(tmp_path / "from-directory")
    assert import_distributions(from_directory, str(packages)) == (
        "Imported 4, already there 0, refused 0.\n"
    )
    expected = sorted([item.filename, item.sha256] for item in dists)
    assert [row[:2] for row in rows(from_index)] == expected
    assert [row[:2] for row in rows(from_directory)] == expected


def test_a_refusal_is_listed_and_the_exit_status_says_so(tmp_path):
    packages = tmp_path / "packages"
    packages.mkdir()
    (packages / "fine-1.0-py3-none-any.whl").write_bytes(make_wheel("fine").content)
    (packages / "broken-1.0-py3-none-any.whl").write_bytes(b"not a zip")
    env = fresh_index(tmp_path / "var")
    with pytest.raises(CommandFailed) as info:
        import_distributions(env, str(packages))
    message = str(info.value)
    assert "exit status 1" in message
    assert "Refused:\n  broken-1.0-py3-none-any.whl: " in message
    assert "Imported 1, already there 0, refused 1." in message
    assert "CommandError: 1 refused, listed above." in message


def test_another_instance_is_copied_with_upload_times_and_yanks(server, published, tmp_path):
    status, body = server.get("/simple/e2e-demo/", accept="application/vnd.pypi.simple.v1+json")
    assert status == 200
    offered = json.loads(body)["files"]
    with ExitStack() as stack:
        database_url = None
        if server.backend == "postgresql":
            database_url, _name = stack.enter_context(
                throwaway_postgresql_database(_DATABASE_URL, f"import_{secrets.token_hex(4)}")
            )
        _copy_and_compare(server, offered, fresh_index(tmp_path / "var", database_url))


def _copy_and_compare(server, offered: list[dict], env: dict[str, str]) -> None:
    out = import_distributions(env, "--from-index", f"{server.url}/simple/", "e2e-demo")

    assert out == f"Imported {len(offered)}, already there 0, refused 0.\n"
    copied = {filename: rest for filename, *rest in rows(env)}
    assert sorted(copied) == sorted(entry["filename"] for entry in offered)
    for entry in offered:
        sha256, upload_time, yanked, reason = copied[entry["filename"]]
        assert sha256 == entry["hashes"]["sha256"]
        assert datetime.fromisoformat(upload_time) == datetime.fromisoformat(
            entry["upload-time"].replace("Z", "+00:00")
        )
        expected = (True, entry["yanked"]) if entry["yanked"] else (False, "")
        assert (yanked, reason) == expected, entry
    uploaded = json.loads(server.manage("shell", "--no-imports", "-c", _AS_UPLOADED))
    imported = json.loads(manage(env, "shell", "--no-imports", "-c", _AS_UPLOADED))
    assert imported == uploaded
