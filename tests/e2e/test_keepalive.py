"""A kept-alive connection outlives a client's pause between requests.

gunicorn's default closes an idle connection after 2 s; a client asking every
2 s then sent its request just as the server closed the socket and saw "Server
disconnected without sending a response". pypi_site/gunicorn.conf.py sets the
keep-alive the server is started with here, by `make run` and in docker/.
"""

import http.client
import time
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.e2e


def test_an_idle_connection_is_reused_after_three_seconds(server):
    # Would catch: a keep-alive shorter than a polling client's interval (the old
    # 2 s default closes the socket, and the second request gets no answer).
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", "/_health/")
        first = connection.getresponse()
        first.read()
        assert first.status == 200
        assert first.getheader("Connection", "").lower() != "close", first.getheaders()
        sock = connection.sock
        assert sock is not None, "the server did not keep the connection open"

        time.sleep(3)

        connection.request("GET", "/simple/")
        second = connection.getresponse()
        second.read()
        assert second.status == 200
        # http.client opens a new socket only when the old one is gone: the same
        # one proves the request went over the kept connection.
        assert connection.sock is sock
    finally:
        connection.close()
