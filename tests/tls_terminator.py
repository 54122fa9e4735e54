"""HTTPS in front of the live test server, as a deployment's load balancer puts it.

Clients that speak trusted publishing (uv, twine, the publish action) talk to an
index over HTTPS only: uv builds the /_/oidc/ URLs as https://<authority of the
upload URL>/... whatever scheme that URL has. So the end-to-end tests reach the
index through a private nginx on a free 127.0.0.1 port, with a throwaway CA and
a server certificate for 127.0.0.1/localhost/::1 made by `trustme`; clients
trust that CA, and only it, through SSL_CERT_FILE (uv, pip and Python's
ssl.create_default_context all read it). uv 0.13 reads SSL_CERT_FILE with or
without --system-certs/UV_SYSTEM_CERTS (once --native-tls/UV_NATIVE_TLS, now
deprecated with a warning); the machine's own store does not know the CA, so a
client left without SSL_CERT_FILE fails with "invalid peer certificate:
UnknownIssuer". nginx answers TLS and forwards plain
HTTP to the server, with the original Host (port included) and
X-Forwarded-Proto: https, which the server believes when started with
``BEHIND_TLS_PROXY=true`` (settings: SECURE_PROXY_SSL_HEADER).

    with tls_terminator(server.url, tmp_path) as tls:
        ... https://127.0.0.1:<port>/ is tls.url; SSL_CERT_FILE=tls.ca_file ...

Plain functions and context managers, nothing of Django or pytest; errors are
LiveServerError with nginx's own words.
"""

from __future__ import annotations

import grp
import http.client
import os
import pwd
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import trustme

from tests.liveserver import LiveServerError, free_port, stop

# What the server under test needs to trust the terminator's headers.
BEHIND_TLS_ENV = {"BEHIND_TLS_PROXY": "true", "TRUSTED_PROXIES": "127.0.0.1"}

_CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log notice;
# As root, workers would otherwise run as nobody, who may not enter the test's
# private directory for its temporary files; ignored (with a warning) otherwise.
user {user} {group};

events {{
    worker_connections 256;
}}

http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    # The index applies its own upload limits and says why; nginx must not
    # refuse first with a bare 413.
    client_max_body_size 0;

    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {dir}/server.pem;
        ssl_certificate_key {dir}/server.pem;
        ssl_protocols TLSv1.2 TLSv1.3;

        location / {{
            proxy_pass http://{backend};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # Uploads stream through, as through a load balancer.
            proxy_request_buffering off;
            proxy_read_timeout 120s;
        }}
    }}
}}
"""


@dataclass
class TLSTerminator:
    url: str  # https://127.0.0.1:<port>, no trailing slash
    ca_file: Path  # PEM of the throwaway CA: the clients' SSL_CERT_FILE
    directory: Path  # nginx's prefix: configuration, logs, keys
    process: subprocess.Popen

    @property
    def error_log(self) -> Path:
        return self.directory / "error.log"

    @property
    def access_log(self) -> Path:
        return self.directory / "access.log"

    def ssl_context(self) -> ssl.SSLContext:
        """A client's context that trusts the throwaway CA and nothing else."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def client_env(self) -> dict[str, str]:
        """What a client process needs to trust this terminator (uv, pip,
        requests and Python's ssl read SSL_CERT_FILE; requests prefers its own
        REQUESTS_CA_BUNDLE variable when set, so that one too)."""
        return {"SSL_CERT_FILE": str(self.ca_file), "REQUESTS_CA_BUNDLE": str(self.ca_file)}


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
    )
    if not found:
        raise LiveServerError(
            "nginx is missing: the HTTPS tests put it in front of the index "
            "(apt-get install nginx; scripts/test-services does it as root)"
        )
    return found


def https_get(
    url: str, context: ssl.SSLContext, headers: dict | None = None, timeout: float = 30
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers in lower case, body) of one GET over TLS."""
    parts = urlsplit(url)
    connection = http.client.HTTPSConnection(
        parts.hostname, parts.port, context=context, timeout=timeout
    )
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", path or "/", headers=headers or {})
        response = connection.getresponse()
        return (
            response.status,
            {key.lower(): value for key, value in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()


def _write_config(directory: Path, port: int, backend: str) -> Path:
    config = directory / "nginx.conf"
    config.write_text(
        _CONFIG.format(
            dir=directory,
            port=port,
            backend=backend,
            user=pwd.getpwuid(os.getuid()).pw_name,
            group=grp.getgrgid(os.getgid()).gr_name,
        )
    )
    return config


def _wait_until_serving(
    process: subprocess.Popen, url: str, context: ssl.SSLContext, path: str, timeout: float
) -> str | None:
    """None once ``path`` answers over TLS (any status: the backend's), else why not."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"nginx exited with status {process.returncode}"
        try:
            status, _headers, _body = https_get(url + path, context, timeout=5)
            if status != 502:  # 502: nginx is up, the backend not (yet)
                return None
            last = "502 from nginx: the backend does not answer"
        except (OSError, http.client.HTTPException) as error:
            last = repr(error)
        time.sleep(0.05)
    return f"{url}{path} did not answer within {timeout:.0f} s (last: {last})"


@contextmanager
def tls_terminator(
    backend_url: str,
    directory: Path,
    *,
    ready_path: str = "/_health/",
    start_timeout: float = 20,
) -> Iterator[TLSTerminator]:
    """nginx on a free port of 127.0.0.1 answering HTTPS with a certificate of a
    new throwaway CA, forwarding to ``backend_url`` (http://127.0.0.1:<port>);
    stopped on the way out. ``directory`` (empty, private) holds its files."""
    backend = urlsplit(backend_url)
    if backend.scheme != "http" or backend.hostname not in {"127.0.0.1", "localhost"}:
        raise LiveServerError(
            f"the TLS terminator forwards to plain http on loopback, not {backend_url}"
        )
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="pypi-site tests")
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    certificate = ca.issue_cert("127.0.0.1", "localhost", "::1")
    certificate.private_key_and_cert_chain_pem.write_to_path(str(directory / "server.pem"))
    (directory / "server.pem").chmod(0o600)
    context = ssl.create_default_context(cafile=str(ca_file))
    nginx = nginx_binary()
    problem = "not started"
    for _attempt in range(3):
        port = free_port()
        config = _write_config(directory, port, backend.netloc)
        (directory / "error.log").write_text("")
        stderr_log = directory / "nginx.stderr"
        with stderr_log.open("wb") as log:
            process = subprocess.Popen(
                # -e: the log of the start itself, before the configuration names one.
                [
                    nginx,
                    "-p",
                    str(directory),
                    "-c",
                    str(config),
                    "-e",
                    str(directory / "error.log"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        url = f"https://127.0.0.1:{port}"
        problem = _wait_until_serving(process, url, context, ready_path, start_timeout)
        if problem is None:
            try:
                yield TLSTerminator(url, ca_file, directory, process)
            finally:
                stop(process)
            return
        stop(process)
        output = stderr_log.read_text(errors="replace") + (directory / "error.log").read_text(
            errors="replace"
        )
        # Another process took the free port between our probe and the bind.
        if "in use" not in output:
            raise LiveServerError(f"nginx did not start: {problem}\n--- nginx ---\n{output}")
    raise LiveServerError(f"nginx found no free port: {problem}")
