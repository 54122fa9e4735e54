"""The standard library's xmlrpc.client against the live server: what XML-RPC
says about every project agrees with the simple API."""

import hashlib
import json
import urllib.request
import xmlrpc.client

import pytest

pytestmark = pytest.mark.e2e

JSON = "application/vnd.pypi.simple.v1+json"


def simple_json(server, path: str) -> dict:
    status, body = server.get(path, accept=JSON)
    assert status == 200, path
    return json.loads(body)


@pytest.fixture
def proxy(server, published):
    return xmlrpc.client.ServerProxy(server.url + "/pypi")


def test_serials_agree_with_the_simple_index(server, proxy):
    index = simple_json(server, "/simple/")
    serials = proxy.list_packages_with_serial()
    assert serials == {entry["name"]: entry["_last-serial"] for entry in index["projects"]}
    assert "e2e-demo" in serials
    assert proxy.changelog_last_serial() == index["meta"]["_last-serial"]
    assert sorted(proxy.list_packages()) == sorted(serials)

    # Replaying the changelog, as a mirror does, ends at the same serials. A
    # project quarantined since (other tests of this server quarantine one)
    # keeps its entries but is listed nowhere: its page tells the mirror why
    # it has no files (PEP 792), and the mirror drops it.
    replayed: dict[str, int] = {}
    for name, _version, _timestamp, _action, serial in proxy.changelog_since_serial(0):
        replayed[name] = max(replayed.get(name, 0), serial)
    assert {name: replayed[name] for name in serials} == serials
    for name in replayed.keys() - serials.keys():
        detail = simple_json(server, f"/simple/{name}/")
        assert detail["project-status"]["status"] == "quarantined", name
        assert detail["files"] == [], name


def test_releases_and_files_agree_with_the_simple_pages(server, proxy):
    for name in proxy.list_packages():
        detail = simple_json(server, f"/simple/{name}/")
        versions = proxy.package_releases(name, True)
        assert sorted(versions) == sorted(detail["versions"]), name
        from_rpc = {}
        for version in versions:
            for row in proxy.release_urls(name, version):
                from_rpc[row["filename"]] = (row["url"], row["digests"]["sha256"], row["yanked"])
        from_simple = {
            file["filename"]: (
                # The simple pages link files by absolute path when FILES_URL is unset.
                server.url + file["url"] if file["url"].startswith("/") else file["url"],
                file["hashes"]["sha256"],
                file["yanked"] is not False,
            )
            for file in detail["files"]
        }
        assert from_rpc == from_simple, name


def test_release_urls_point_at_the_bytes(server, proxy, dists):
    (row,) = [
        row for row in proxy.release_urls("e2e-demo", "1.0") if row["packagetype"] == "bdist_wheel"
    ]
    with urllib.request.urlopen(row["url"], timeout=30) as response:
        content = response.read()
    assert hashlib.sha256(content).hexdigest() == row["sha256_digest"] == dists.demo_wheel.sha256
    data = proxy.release_data("E2E_Demo", "1.0")
    assert (data["name"], data["version"]) == ("e2e-demo", "1.0")
    # The newest release not yanked, whatever Python it needs.
    assert proxy.package_releases("e2e-demo") == ["2.0"]
    assert proxy.package_releases("e2e-demo", True) == ["2.0", "1.5", "1.0"]


def test_faults_reach_the_client(proxy):
    with pytest.raises(xmlrpc.client.Fault) as search:
        proxy.search({"name": "e2e-demo"})
    assert search.value.faultCode == -32500
    assert "no longer supports 'pip search'" in search.value.faultString
    with pytest.raises(xmlrpc.client.Fault) as unknown:
        proxy.no_such_method()
    assert unknown.value.faultCode == -32601
    with pytest.raises(xmlrpc.client.Fault) as wrong:
        proxy.changelog_since_serial("zero")
    assert wrong.value.faultCode == -32602


def test_a_body_over_the_limit_gets_its_fault_not_a_reset(server):
    # xmlrpc.client sends all 20 MB before it reads: the server must read them
    # too, or the client sees a broken pipe instead of the answer.
    proxy = xmlrpc.client.ServerProxy(server.url + "/pypi")
    with pytest.raises(xmlrpc.client.Fault) as refused:
        proxy.package_releases("x" * (20 * 1024 * 1024))
    assert refused.value.faultCode == -32600
    assert "larger than 65536 bytes" in refused.value.faultString
    # The connection is still good for the next call.
    assert isinstance(proxy.changelog_last_serial(), int)


@pytest.mark.parametrize(
    "path",
    [
        "/simple/smoke-pkg%0A/",
        "/pypi/x%0A/json",
        "/project/%00/",
        "/user/%00/",
        "/rss/project/%00/releases.xml",
        "/packages/aa/bb/" + "c" * 60 + "/%00",
        "/search/?c=%00",
    ],
)
def test_hostile_urls_are_client_errors_through_the_fast_path(server, path):
    status, _body = server.get(path)
    # A NUL in the query string: 400 (common.http.refuse_nul_in_query).
    assert status == (400 if "?" in path else 404), path
