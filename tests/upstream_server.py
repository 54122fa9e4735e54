"""A static simple index on loopback, for tests of what talks to an upstream.

It serves what a test publishes in it, as a static PEP 503 index with its PEP 691
JSON twin would (a directory of pages on a web server): a project's page in
the format the Accept header prefers, ETags and 304s, the files and their
``.metadata``. Every request is recorded, so a test can assert what was (not)
asked. ``stop()``/``start()`` take it down and back up on the same port.

    with StaticIndex() as upstream:
        upstream.publish("demo", [dist("demo-1.0-py3-none-any.whl", b"...")])
        ... UPSTREAM_INDEX_URL=upstream.simple_url ...
"""

import contextlib
import hashlib
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

V1_JSON = "application/vnd.pypi.simple.v1+json"


@dataclass
class Dist:
    filename: str
    content: bytes
    requires_python: str = ""
    yanked: bool | str = False
    metadata: bytes | None = None
    upload_time: datetime | None = None
    # What the page announces, when a test wants it to lie.
    announced_sha256: str = ""

    @property
    def sha256(self) -> str:
        return self.announced_sha256 or hashlib.sha256(self.content).hexdigest()


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def dist(filename: str, content: bytes, **kwargs) -> Dist:
    return Dist(filename, content, **kwargs)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client that gave up first (the timeout tests, a stopped download)
        # closed the connection: an answer that can't be written is expected.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class StaticIndex:
    def __init__(self, *, json_pages: bool = True, serial: int | None = 1):
        self.json_pages = json_pages
        self.serial = serial
        self.pages: dict[str, dict[str, Answer]] = {}  # path -> {"html"/"json": Answer}
        self.files: dict[str, Answer] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.delay = 0.0  # seconds every answer waits (a slow upstream)
        self.fail_with: int | None = None  # every answer is this status (a broken upstream)
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()
        self.port = 0

    # -- content

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def simple_url(self) -> str:
        return f"{self.base_url}/simple/"

    def publish(
        self, name: str, dists: list[Dist], *, status: str = "", status_reason: str = ""
    ) -> None:
        """The project's page (both formats) and its files, replacing earlier ones.
        ``status``: PEP 792's project status the page carries (JSON
        ``project-status``, HTML ``pypi:project-status`` meta tags); "" for none."""
        for item in dists:
            self.files[f"/files/{item.filename}"] = Answer(200, item.content)
            if item.metadata is not None:
                self.files[f"/files/{item.filename}.metadata"] = Answer(200, item.metadata)
        self.pages[f"/simple/{name}/"] = self._project_pages(name, dists, status, status_reason)
        self._index_pages()

    def unpublish(self, name: str) -> None:
        self.pages.pop(f"/simple/{name}/", None)
        self._index_pages()

    def _project_pages(
        self, name: str, dists: list[Dist], status: str, status_reason: str
    ) -> dict[str, Answer]:
        links, files = [], []
        for item in dists:
            href = f"../../files/{item.filename}#sha256={item.sha256}"
            attrs = f'href="{escape(href)}"'
            if item.requires_python:
                attrs += f' data-requires-python="{escape(item.requires_python)}"'
            if item.yanked is not False:
                reason = item.yanked if isinstance(item.yanked, str) else ""
                attrs += f' data-yanked="{escape(reason)}"'
            metadata_sha = hashlib.sha256(item.metadata).hexdigest() if item.metadata else ""
            if metadata_sha:
                attrs += f' data-core-metadata="sha256={metadata_sha}"'
            links.append(f"    <a {attrs}>{escape(item.filename)}</a><br>\n")
            entry = {
                "filename": item.filename,
                "url": f"../../files/{item.filename}",
                "hashes": {"sha256": item.sha256},
                "requires-python": item.requires_python or None,
                "yanked": item.yanked,
                "core-metadata": {"sha256": metadata_sha} if metadata_sha else False,
                "size": len(item.content),
            }
            if item.upload_time is not None:
                entry["upload-time"] = item.upload_time.astimezone(UTC).strftime(
                    "%Y-%m-%dT%H:%M:%S.%fZ"
                )
            files.append(entry)
        head = '<meta charset="utf-8"><meta name="pypi:repository-version" content="1.0">'
        if status:
            head += f'<meta name="pypi:project-status" content="{escape(status)}">'
            if status_reason:
                head += (
                    f'<meta name="pypi:project-status-reason" content="{escape(status_reason)}">'
                )
        html = (
            f"<!DOCTYPE html>\n<html><head>{head}</head><body>\n"
            + "".join(links)
            + "</body></html>\n"
        ).encode()
        pages = {"html": self._answer(html, "text/html; charset=utf-8")}
        if self.json_pages:
            meta = {"api-version": "1.1"}
            if self.serial is not None:
                meta["_last-serial"] = self.serial
            data = {"meta": meta, "name": name, "files": files}
            if status:
                data["project-status"] = {"status": status}
                if status_reason:
                    data["project-status"]["reason"] = status_reason
            body = json.dumps(data).encode()
            pages["json"] = self._answer(body, V1_JSON)
        return pages

    def _index_pages(self) -> None:
        names = sorted(path.split("/")[2] for path in self.pages if path != "/simple/")
        html = "".join(f'<a href="{n}/">{n}</a>\n' for n in names).encode()
        pages = {"html": self._answer(html, "text/html")}
        if self.json_pages:
            body = json.dumps(
                {"meta": {"api-version": "1.0"}, "projects": [{"name": n} for n in names]}
            )
            pages["json"] = self._answer(body.encode(), V1_JSON)
        self.pages["/simple/"] = pages

    @staticmethod
    def _answer(body: bytes, content_type: str) -> Answer:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return Answer(200, body, {"Content-Type": content_type, "ETag": etag})

    def requested(self, path: str) -> int:
        return sum(1 for seen, _headers in self.requests if seen == path)

    # -- serving

    def start(self) -> "StaticIndex":
        index = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                index.requests.append((self.path, dict(self.headers)))
                if index.delay:
                    time.sleep(index.delay)
                answer = index._route(self.path, self.headers)
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                index._connections.add(self.connection)

            def finish(self):
                index._connections.discard(self.connection)
                super().finish()

        self._server = _QuietServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        # A short poll: stop() (each test's teardown) returns at once.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Down as a stopped server is: no new connection, and the kept-alive
        ones closed (a client's pool would otherwise still reach it)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _route(self, path: str, headers) -> Answer:
        if self.fail_with is not None:
            return Answer(self.fail_with, b"broken", {"Content-Type": "text/plain"})
        if path in self.files:
            return self.files[path]
        pages = self.pages.get(path)
        if pages is None:
            return Answer(404, b"Not Found", {"Content-Type": "text/plain"})
        wants_json = V1_JSON in headers.get("Accept", "") and "json" in pages
        answer = pages["json" if wants_json else "html"]
        if "ETag" in answer.headers and headers.get("If-None-Match") == answer.headers["ETag"]:
            return Answer(304, b"", {"ETag": answer.headers["ETag"]})
        return answer

    def __enter__(self) -> "StaticIndex":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
