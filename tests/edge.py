"""A real Varnish edge for the tests: the repository's VCL, started by the
repository's launcher (edge/run), in front of a given app.

Each edge is a private varnishd: its own working directory (-n) in a temporary
directory, a free 127.0.0.1 port, in the foreground under edge/run, stopped by
its process id at the end. Without varnishd the tests that need one skip, and
fail under CI=true (the suite never passes by leaving them out).

    with varnish_edge(server.url) as edge:
        edge.get("/simple/demo/")            # through the edge
        edge.purge(xkey_purge="simple-demo")
"""

import http.client
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.liveserver import LiveServerError, Response, free_port

REPO = Path(__file__).resolve().parent.parent
EDGE_RUN = REPO / "edge" / "run"


def varnishd_path() -> str | None:
    return shutil.which("varnishd") or (
        "/usr/sbin/varnishd" if os.access("/usr/sbin/varnishd", os.X_OK) else None
    )


def require_varnishd() -> str:
    """varnishd's path; a skip without it, a failure under CI=true."""
    path = varnishd_path()
    if path is None:
        message = (
            "varnishd is not installed (Debian: apt-get install varnish varnish-modules; "
            "`make test` installs them)"
        )
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return path


@dataclass
class Edge:
    process: subprocess.Popen
    url: str  # http://127.0.0.1:<port>, no trailing slash
    port: int
    backend_port: int
    log_path: Path

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 30,
    ) -> Response:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            return Response.read(connection.getresponse())
        finally:
            connection.close()

    def get(self, path: str, headers: dict[str, str] | None = None, **options) -> Response:
        return self.request("GET", path, headers, **options)

    def purge(self, *, xkey_purge: str = "", xkey_softpurge: str = "") -> Response:
        """PURGE / with the given keys (space-separated), as the app's worker sends it."""
        headers = {}
        if xkey_purge:
            headers["xkey-purge"] = xkey_purge
        if xkey_softpurge:
            headers["xkey-softpurge"] = xkey_softpurge
        return self.request("PURGE", "/", headers)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _answers(port: int) -> bool:
    """Whether varnishd answers HTTP on ``port`` (any status: the app may be down)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        # Passed to the app, never cached: the edge's answer says it is up.
        connection.request("GET", "/_health/", headers={"User-Agent": "tests/edge.py"})
        response = connection.getresponse()
        response.read()
        return "X-Cache" in response.headers
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _stop(process: subprocess.Popen) -> None:
    # SIGTERM: edge/run passes it to varnishd, whose manager stops its worker.
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def start_edge(
    backend_url: str,
    directory: Path,
    *,
    stale_if_error: int = 86400,
    purge_allow: str = "",
    purge_loopback: bool = True,
    start_timeout: float = 30,
    port: int | None = None,
) -> Edge:
    """edge/run in front of ``backend_url`` (http://host:port), once it answers,
    on ``port`` (a free one unless given: an app told the edge's address first).
    The caller stops it (``stop_edge``); ``varnish_edge`` does that itself."""
    require_varnishd()
    backend = urlsplit(backend_url)
    problem = "no attempt"
    chosen_port = port
    for _attempt in range(3):
        port = chosen_port or free_port()
        log_path = directory / f"edge-{port}.log"
        env = {
            **os.environ,
            "EDGE_HOST": "127.0.0.1",
            "EDGE_PORT": str(port),
            "EDGE_BACKEND_HOST": backend.hostname or "127.0.0.1",
            "EDGE_BACKEND_PORT": str(backend.port or 80),
            "EDGE_PROBE_HOST": "127.0.0.1",
            "EDGE_STALE_IF_ERROR": str(stale_if_error),
            "EDGE_PURGE_ALLOW": purge_allow,
            "EDGE_PURGE_LOOPBACK": "yes" if purge_loopback else "no",
            "EDGE_CACHE_SIZE": "128m",
            "EDGE_WORKDIR": str(directory / f"varnish-{port}"),
        }
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(EDGE_RUN)],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        edge = Edge(process, f"http://127.0.0.1:{port}", port, backend.port or 80, log_path)
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(port):
                return edge
            time.sleep(0.1)
        _stop(process)
        output = edge.log()
        problem = f"edge/run exited with {process.returncode}:\n{output}"
        # Another process took the free port between our probe and the bind.
        if "in use" not in output.lower():
            break
    raise LiveServerError(f"the edge did not start: {problem}")


def stop_edge(edge: Edge) -> None:
    _stop(edge.process)


@contextmanager
def varnish_edge(backend_url: str, **options) -> Iterator[Edge]:
    """``start_edge`` in a temporary directory, stopped and removed on the way out."""
    directory = Path(tempfile.mkdtemp(prefix="pypi-site-edge-test-"))
    directory.chmod(0o755)  # varnishd's worker runs as the varnish user
    try:
        edge = start_edge(backend_url, directory, **options)
        try:
            yield edge
        finally:
            stop_edge(edge)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
