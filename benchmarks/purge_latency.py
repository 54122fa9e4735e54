"""Purge to edge: how long after a change commits a real Varnish edge
(edge/default.vcl) stops answering the old page.

gunicorn (2 gthread workers) behind the edge, told its address
(EDGE_PURGE_URLS). Each round caches /simple/<name>/ at the edge (an X-Cache
HIT), makes a change, then polls the edge without pause until the answer
changes:

* uploads: a new version through gunicorn's /legacy/ (the serving process's
  purge thread), timed from the upload's answer;
* yanks and unyanks, alternating: ``release_yank``/``release_unyank`` called in
  this process, which serves like a gunicorn worker (``purger.serve()``: the
  same purge thread), timed from the service's return (the commit).

    .venv/bin/python benchmarks/purge_latency.py [--changes 50]

DATABASE_URL (PostgreSQL) and REDIS_URL, when set, are used: a throwaway
database is made on that server. Prints p50/p95/p99/max in milliseconds.
"""

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.edge import varnish_edge  # noqa: E402
from tests.factories import make_wheel  # noqa: E402
from tests.liveserver import (  # noqa: E402
    free_port,
    gunicorn_server,
    is_postgresql,
    manage,
    percentiles,
    post_upload,
    server_env,
    superuser_with_token,
    throwaway_postgresql_database,
)

NAME = "purge-bench"


def cache_at_edge(edge, path: str) -> bytes:
    for _try in range(100):
        response = edge.get(path)
        if response.headers.get("x-cache") == "HIT":
            return response.body
        time.sleep(0.01)
    raise SystemExit(f"{path} is never cached at the edge")


def seconds_until_changed(edge, path: str, old: bytes, since: float) -> float:
    while time.monotonic() - since < 30:
        if edge.get(path).body != old:
            return time.monotonic() - since
    raise SystemExit(f"{path} unchanged at the edge after 30 s")


def report(label: str, samples: list[float]) -> None:
    figures = percentiles([s * 1000 for s in samples])
    print(
        f"{label:<28} n={figures['n']:<4} p50={figures['p50']:.1f} ms  "
        f"p95={figures['p95']:.1f} ms  p99={figures['p99']:.1f} ms  max={figures['max']:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=50, help="Changes of each kind.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary directory.")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="purge-latency-"))
    path = f"/simple/{NAME}/"
    try:
        with ExitStack() as stack:
            database_url = None
            if is_postgresql(os.environ.get("DATABASE_URL", "")):
                database_url, _ = stack.enter_context(
                    throwaway_postgresql_database(
                        os.environ["DATABASE_URL"], f"bench_{secrets.token_hex(4)}"
                    )
                )
            edge_port = free_port()
            env = server_env(
                directory / "var",
                database_url,
                EDGE_PURGE_URLS=f"http://127.0.0.1:{edge_port}",
                CACHE_KEY_PREFIX=f"bench-{secrets.token_hex(4)}",
            )
            (directory / "var").mkdir()
            manage(env, "migrate", "--noinput", "--verbosity", "0")
            manage(env, "collectstatic", "--noinput", "--verbosity", "0")
            app = stack.enter_context(gunicorn_server(env, directory))
            edge = stack.enter_context(varnish_edge(app.url, port=edge_port))
            token = superuser_with_token(env, "bench", secrets.token_urlsafe(16)).strip()

            def upload(version: str) -> None:
                dist = make_wheel(NAME, version)
                response = post_upload(
                    app.url + "/legacy/",
                    ("__token__", token),
                    dist.form(),
                    dist.filename,
                    dist.content,
                )
                assert response.status == 200, response.describe()

            upload("1.0")
            uploads = []
            for i in range(args.changes):
                old = cache_at_edge(edge, path)
                upload(f"1.0.{i + 1}")
                uploads.append(seconds_until_changed(edge, path, old, time.monotonic()))

            # This process now serves like a gunicorn worker, on the same database.
            os.environ.update(env)
            import django

            django.setup()
            from django.contrib.auth import get_user_model

            from accounts.events import Actor
            from packages.models import Release
            from packages.purges import purger
            from packages.services import release_unyank, release_yank

            purger.serve()
            actor = Actor.shell(get_user_model().objects.get(username="bench"))
            release = Release.objects.get(project__normalized_name=NAME, version="1.0")
            yanks = []
            for i in range(args.changes):
                old = cache_at_edge(edge, path)
                change = release_unyank if i % 2 else release_yank
                change(release=release, actor=actor)
                yanks.append(seconds_until_changed(edge, path, old, time.monotonic()))
            purger.stop()
        backend = "PostgreSQL" if database_url else "SQLite"
        backend += " + Redis" if os.environ.get("REDIS_URL") else ""
        print(f"Purge to edge ({backend}, Varnish, {os.cpu_count()} CPUs):")
        report("upload through gunicorn", uploads)
        report("yank/unyank (commit)", yanks)
        report("all", uploads + yanks)
    finally:
        if args.keep:
            print(f"Kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
