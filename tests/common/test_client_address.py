"""The client's address: the peer, or behind trusted proxies what they forwarded."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import Event
from common.client_address import client_address
from tests.pypi_site.test_settings import load

EDGE = "127.0.0.1"  # Varnish on the same machine
BALANCERS = "10.0.0.0/8"


@pytest.mark.parametrize(
    "trusted, peer, forwarded, expected",
    [
        # Nothing trusted (the default): the peer, whatever the header says.
        ([], "203.0.113.7", None, "203.0.113.7"),
        ([], "203.0.113.7", "198.51.100.1", "203.0.113.7"),
        ([], "127.0.0.1", "198.51.100.1", "127.0.0.1"),
        # A peer that is not a trusted proxy: its header is a client's claim.
        ([EDGE], "203.0.113.7", "198.51.100.1", "203.0.113.7"),
        # Behind the edge: the address it appended.
        ([EDGE], EDGE, "198.51.100.1", "198.51.100.1"),
        ([EDGE], EDGE, "198.51.100.1 ", "198.51.100.1"),
        # A client's forged entries sit left of the real one and are not read.
        ([EDGE], EDGE, "1.1.1.1, 198.51.100.1", "198.51.100.1"),
        # Edge, then a load balancer: both skipped, right to left.
        ([EDGE, BALANCERS], EDGE, "1.1.1.1, 198.51.100.1, 10.1.2.3", "198.51.100.1"),
        ([BALANCERS], "10.0.0.5", "198.51.100.1,10.9.9.9", "198.51.100.1"),
        # Only proxies all the way: the leftmost one is the client.
        ([BALANCERS], "10.0.0.5", "10.0.0.6, 10.0.0.7", "10.0.0.6"),
        # A trusted proxy without the header: the proxy itself.
        ([EDGE], EDGE, None, EDGE),
        ([EDGE], EDGE, "", EDGE),
        # Malformed entries stop the walk: the last address a proxy vouched for.
        ([EDGE], EDGE, "198.51.100.1, unknown", EDGE),
        ([EDGE, BALANCERS], EDGE, "198.51.100.1, junk, 10.1.2.3", "10.1.2.3"),
        ([EDGE], EDGE, "198.51.100.1, ", EDGE),
        ([EDGE], EDGE, "198.51.100.1:4711", EDGE),
        # IPv6, and IPv4 written as IPv6.
        (["::1"], "::1", "2001:db8::1", "2001:db8::1"),
        (["2001:db8:ffff::/48"], "2001:db8:ffff::9", "2001:db8::1", "2001:db8::1"),
        ([EDGE], "::ffff:127.0.0.1", "::ffff:198.51.100.1", "198.51.100.1"),
        # No usable peer address (a UNIX socket): as it is, or unknown.
        ([EDGE], "", "198.51.100.1", None),
        ([EDGE], "unix-socket", "198.51.100.1", "unix-socket"),
    ],
)
def test_client_address(settings, trusted, peer, forwarded, expected):
    settings.TRUSTED_PROXIES = trusted
    headers = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().get("/", **headers)
    assert client_address(request) == expected


def test_login_failure_records_the_forwarded_client(client, settings, db):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    client.post(
        reverse("login"),
        {"username": "nobody", "password": "wrong"},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.1",
    )
    assert Event.objects.get(tag="account:login:failure").ip_address == "198.51.100.1"


def test_clients_behind_the_edge_are_limited_one_by_one(client, settings, db):
    # 20 bad-token uploads from one client once locked everyone out of uploading.
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.RATELIMITS = {**settings.RATELIMITS, "upload-auth-failure": (2, 300)}

    def bad_upload(forwarded_for):
        return client.post(
            "/legacy/",
            {":action": "file_upload"},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=forwarded_for,
            HTTP_AUTHORIZATION="Basic X190b2tlbl9fOnB5cGktbm9wZQ==",  # __token__:pypi-nope
        )

    statuses = [bad_upload("198.51.100.1").status_code for _ in range(3)]
    assert statuses[-1] == 429
    assert bad_upload("198.51.100.2").status_code != 429


def test_trusted_proxies_setting(monkeypatch, tmp_path):
    settings = load(monkeypatch, tmp_path, TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8,::1,10.1.2.3/8")
    assert settings.TRUSTED_PROXIES == ["127.0.0.1/32", "10.0.0.0/8", "::1/128", "10.0.0.0/8"]
    assert load(monkeypatch, tmp_path).TRUSTED_PROXIES == []
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES: 'varnish' is not an IP"):
        load(monkeypatch, tmp_path, TRUSTED_PROXIES="varnish")
