"""Serial semantics, end to end through the real upload endpoint and services:
every change a mirror must see appends exactly one journal entry, serials only
grow, and the serial the simple API (and the XML-RPC changelog) reports is the
project's last one. On PostgreSQL, concurrent uploads are also checked against
what a mirror polling the journal would see."""

import json
import threading
import xmlrpc.client

import pytest
from django.db import connection, connections
from django.test import Client

from accounts.events import Actor
from accounts.tokens import api_token_create
from packages import services
from packages.models import File, JournalEntry, Project, Release
from tests.factories import make_sdist, make_wheel, post_upload

JSON = "application/vnd.pypi.simple.v1+json"


def serials() -> list[int]:
    return list(JournalEntry.objects.order_by("id").values_list("id", flat=True))


def new_actions(before: list[int]) -> list[str]:
    start = before[-1] if before else 0
    return list(
        JournalEntry.objects.filter(id__gt=start).order_by("id").values_list("action", flat=True)
    )


def simple_serial(client: Client, name: str) -> tuple[str, int]:
    response = client.get(f"/simple/{name}/", HTTP_ACCEPT=JSON)
    assert response.status_code == 200
    return response["X-PyPI-Last-Serial"], json.loads(response.content)["meta"]["_last-serial"]


def assert_project_serial(client: Client, name: str) -> int:
    project = Project.objects.get(normalized_name=name)
    latest = JournalEntry.objects.order_by("-id").filter(name=project.name).first()
    assert project.last_serial == latest.id
    assert simple_serial(client, name) == (str(project.last_serial), project.last_serial)
    html = client.get(f"/simple/{name}/")
    assert html["X-PyPI-Last-Serial"] == str(project.last_serial)
    api = client.get(f"/pypi/{name}/json")
    assert api.status_code == 200
    assert api["X-PyPI-Last-Serial"] == str(project.last_serial)
    assert json.loads(api.content)["last_serial"] == project.last_serial
    return project.last_serial


@pytest.mark.django_db
def test_every_visible_change_appends_exactly_one_entry(
    client, owner, django_capture_on_commit_callbacks
):
    secret = api_token_create(user=owner).secret
    name = "serial-demo"

    def change(expected_actions, act):
        before = serials()
        # The cache purge runs after commit, as it does outside the test's transaction.
        with django_capture_on_commit_callbacks(execute=True):
            act()
        assert new_actions(before) == expected_actions
        after = serials()
        assert after == sorted(set(after))  # strictly increasing, none reused
        assert after[: len(before)] == before
        return assert_project_serial(client, name)

    wheel = make_wheel(name, "1.0")
    sdist = make_sdist(name, "1.0")
    wheel_2 = make_wheel(name, "2.0")

    def ok(dist):
        def act():
            response = post_upload(client, dist, secret)
            assert response.status_code == 200, response.content

        return act

    # A new project: its creation and its first Owner, then the release and the file.
    change(
        ["create", f"add Owner {owner.username}", "new release", f"add py3 file {wheel.filename}"],
        ok(wheel),
    )
    change([f"add source file {sdist.filename}"], ok(sdist))
    change(["new release", f"add py3 file {wheel_2.filename}"], ok(wheel_2))
    # Re-uploading identical bytes changes nothing a mirror sees.
    change([], ok(wheel_2))

    release_1 = Release.objects.get(project__normalized_name=name, version="1.0")
    change(["yank release"], lambda: services.release_yank(release=release_1, actor=Actor(owner)))
    change(
        ["unyank release"], lambda: services.release_unyank(release=release_1, actor=Actor(owner))
    )
    file = File.objects.get(filename=sdist.filename)
    change(
        [f"remove file {sdist.filename}"],
        lambda: services.file_delete(file=file, actor=Actor(owner)),
    )
    change(
        ["remove release"], lambda: services.release_delete(release=release_1, actor=Actor(owner))
    )

    project = Project.objects.get(normalized_name=name)
    before = serials()
    with django_capture_on_commit_callbacks(execute=True):
        services.project_delete(project=project, actor=Actor(owner))
    assert new_actions(before) == ["remove project"]
    assert client.get(f"/simple/{name}/").status_code == 404


@pytest.mark.django_db
def test_refused_changes_append_nothing(client, owner, project):
    from tests.factories import make_release

    release = make_release(project, "1.0")
    before = serials()
    with pytest.raises(services.ReleaseError):
        services.release_unyank(release=release, actor=Actor(owner))
    assert serials() == before


@pytest.mark.django_db
def test_the_changelog_names_what_the_simple_api_serves(client, owner):
    secret = api_token_create(user=owner).secret
    for dist in (make_wheel("Alpha.Lib", "1.0"), make_wheel("zeta", "0.1")):
        assert post_upload(client, dist, secret).status_code == 200
    index = client.get("/simple/", HTTP_ACCEPT=JSON)
    body = json.loads(index.content)
    last = JournalEntry.objects.order_by("-id").first().id
    assert index["X-PyPI-Last-Serial"] == str(last)
    assert body["meta"]["_last-serial"] == last
    per_project = {row["name"]: row["_last-serial"] for row in body["projects"]}
    assert per_project == dict(Project.objects.values_list("name", "last_serial"))

    # A mirror that replays the XML-RPC changelog ends at the same serials.
    response = client.post(
        "/pypi",
        xmlrpc.client.dumps((0,), "changelog_since_serial").encode(),
        content_type="text/xml",
    )
    ((rows,), _method) = xmlrpc.client.loads(response.content)
    replayed: dict[str, int] = {}
    for name, _version, _time, _action, serial in rows:
        replayed[name] = max(replayed.get(name, 0), serial)
    assert replayed == per_project


# --- Concurrent uploads (PostgreSQL) ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_keep_serials_in_commit_order(owner):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: uploads cannot run concurrently")
    secret = api_token_create(user=owner).secret
    # One project per thread: uploads to one project already wait for each
    # other on its row lock, so only uploads to different projects test that
    # the journal itself orders serials by commit.
    names = [f"race-{n}" for n in range(6)]
    for name in names:
        assert post_upload(Client(), make_wheel(name, "0.1"), secret).status_code == 200
    # Per thread: a new release (wheel), then a second file in it (sdist).
    dists = [(make_wheel(name, "1.0"), make_sdist(name, "1.0")) for name in names]
    start = threading.Barrier(len(dists) + 1)
    done = threading.Event()
    failures: list[str] = []
    observed: list[list[int]] = []

    def uploader(pair):
        try:
            client = Client()
            start.wait()
            for dist in pair:
                response = post_upload(client, dist, secret)
                if response.status_code != 200:
                    failures.append(f"{dist.filename}: {response.status_code} {response.content}")
        finally:
            connections.close_all()

    def mirror():
        # What a mirror polling changelog_since_serial would see: once it has
        # read serial N, no entry below N may ever appear afterwards.
        try:
            start.wait()
            while True:
                finished = done.is_set()
                observed.append(
                    list(JournalEntry.objects.order_by("id").values_list("id", flat=True))
                )
                if finished:
                    break
        finally:
            connections.close_all()

    threads = [threading.Thread(target=uploader, args=(pair,)) for pair in dists]
    reader = threading.Thread(target=mirror)
    for thread in [*threads, reader]:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    done.set()
    reader.join(timeout=120)
    assert not failures

    entries = list(
        JournalEntry.objects.order_by("id").values_list("id", "name", "version", "action")
    )
    ids = [entry[0] for entry in entries]
    # One entry per change: per project its creation (4), then a release and two files.
    assert len(ids) == len(set(ids)) == 7 * len(names)
    for (wheel, sdist), name in zip(dists, names, strict=True):
        assert [action for _id, n, v, action in entries if (n, v) == (name, "1.0")] == [
            "new release",
            f"add py3 file {wheel.filename}",
            f"add source file {sdist.filename}",
        ]
        last = max(serial for serial, n, _v, _a in entries if n == name)
        assert Project.objects.get(normalized_name=name).last_serial == last

    # Serial order is commit order: every poll saw a prefix of the final journal,
    # never a later serial before an earlier one.
    for visible in observed:
        assert visible == ids[: len(visible)]
    assert observed[-1] == ids
