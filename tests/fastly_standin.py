"""A local stand-in for Fastly's purge API, for tests: a real HTTP server on
loopback answering ``POST /service/<id>/purge`` (batch purge by surrogate key)
as Fastly does, and recording every purge it accepted.

Fastly's answers imitated: 200 with a JSON object giving each key a purge id;
401 ``{"msg": "Provided credentials are missing or invalid"}`` for a missing or
wrong ``Fastly-Key``; 404 for another service; 400 for more than 256 keys.
"""

import json
import re
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_PATH = re.compile(r"^/service/([^/]+)/purge$")


@dataclass(frozen=True)
class Purge:
    service_id: str
    keys: tuple[str, ...]
    soft: bool


class FastlyStandIn:
    def __init__(self, *, token: str, service_id: str) -> None:
        self.token = token
        self.service_id = service_id
        self.purges: list[Purge] = []
        # Every request, accepted or not: (path, status).
        self.requests: list[tuple[str, int]] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                status, body = standin._answer(self)
                standin.requests.append((self.path, status))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll: shutdown() waits for it, after every test.
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def _answer(self, request: BaseHTTPRequestHandler) -> tuple[int, dict]:
        if request.headers.get("Fastly-Key") != self.token:
            return 401, {"msg": "Provided credentials are missing or invalid"}
        match = _PATH.match(request.path)
        if match is None or match[1] != self.service_id:
            return 404, {"msg": "Record not found", "detail": "Cannot find service"}
        keys = tuple(request.headers.get("Surrogate-Key", "").split())
        if not keys or len(keys) > 256:
            return 400, {"msg": "Bad request", "detail": "Between 1 and 256 keys"}
        soft = request.headers.get("Fastly-Soft-Purge") == "1"
        self.purges.append(Purge(match[1], keys, soft))
        return 200, {key: f"{uuid.uuid4().int % 10**6}-{i}" for i, key in enumerate(keys)}

    def __enter__(self) -> "FastlyStandIn":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
