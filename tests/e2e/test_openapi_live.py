"""/api/openapi.json from a fresh gunicorn worker asked by many clients at once:
drf-spectacular resolves its extension classes on a process's first schema, and
threads doing that together failed each other (15 of 16 answered 500; found by
benchmarks/fuzz.py)."""

import http.client
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from tests.liveserver import LiveServerError, gunicorn_server, manage, server_env

pytestmark = pytest.mark.e2e

CLIENTS = 16


def test_the_first_schemas_of_a_worker_are_all_answered(tmp_path):
    env = server_env(tmp_path / "var")
    env.pop("REDIS_URL", None)
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    try:
        with gunicorn_server(env, tmp_path, workers=1, threads=CLIENTS) as server:
            url = urlsplit(server.url)
            connections = [
                http.client.HTTPConnection(url.hostname, url.port, timeout=60)
                for _ in range(CLIENTS)
            ]
            for connection in connections:
                connection.connect()
            # All at once: the worker has answered nothing but the health check.
            start = threading.Barrier(CLIENTS)

            def schema_status(connection: http.client.HTTPConnection) -> int:
                start.wait()
                connection.request("GET", "/api/openapi.json")
                response = connection.getresponse()
                response.read()
                connection.close()
                return response.status

            with ThreadPoolExecutor(CLIENTS) as pool:
                statuses = list(pool.map(schema_status, connections))
    except LiveServerError as error:
        pytest.fail(str(error))
    assert statuses == [200] * CLIENTS
