"""Descriptions rendered after the upload's commit: the page meanwhile, the
first attempt after the commit, and the worker."""

import logging
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from packages import descriptions, purges
from packages.models import EdgePurge, Release
from packages.rendering import RENDERER_VERSION
from tests.factories import make_release, make_wheel, post_upload
from tests.polling import wait_until

README = "# Title\n\nSome *text* <script>alert(1)</script>\n"


@pytest.fixture(autouse=True)
def _edge(settings):
    # An edge to purge (nothing listens: rows stay queued for the assertions).
    settings.EDGE_PURGE_URLS = ["http://127.0.0.1:9"]
    settings.EDGE_PURGE_ECHO_SECONDS = 0


def pending_release(project, version="1.0", description=README):
    return make_release(
        project,
        version,
        description=description,
        description_content_type="text/markdown",
        after_commit=False,
    )


def purged_keys() -> list[str]:
    return [key for row in EdgePurge.objects.all() for key in row.keys.split()]


def test_the_upload_answers_before_the_description_is_rendered(
    client, token, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:  # not run yet
        assert post_upload(client, make_wheel(description=README), token).status_code == 200
    release = Release.objects.get()
    assert release.description_renderer == descriptions.PENDING
    assert release.description_html == ""
    page = client.get("/project/sample-project/").content.decode()
    assert "This description is being rendered" in page
    assert "Some *text* &lt;script&gt;alert(1)&lt;/script&gt;" in page
    for callback in callbacks:
        callback()
    release.refresh_from_db()
    assert release.description_renderer == RENDERER_VERSION
    assert "<h3>Title</h3>" in release.description_html
    page = client.get("/project/sample-project/").content.decode()
    assert "being rendered" not in page
    assert "<h3>Title</h3>" in page and "<script>" not in page
    assert "project-sample-project" in purged_keys()


def test_a_render_purges_only_the_project_pages(project):
    descriptions.render_release(pending_release(project).pk)
    assert purged_keys() == ["project-sample-project"]


def test_an_empty_description_is_never_said_to_be_rendered(
    client, token, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as after_commit:
        assert post_upload(client, make_wheel(description="  \n"), token).status_code == 200
    # Pending all the same (the step after the commit indexes the release for search),
    # but the page has nothing to say is being rendered.
    page = client.get("/project/sample-project/").content.decode()
    assert "has not provided a description" in page
    assert "being rendered" not in page
    for callback in after_commit:
        callback()
    assert Release.objects.get().description_renderer == RENDERER_VERSION


def test_a_release_is_rendered_once(project):
    release = pending_release(project)
    assert descriptions.render_release(release.pk) is True
    assert descriptions.render_release(release.pk) is False
    assert purged_keys().count("project-sample-project") == 1


def test_of_two_renders_at_once_the_first_is_stored_and_purged(project):
    release = pending_release(project)
    first, second = Release.objects.get(pk=release.pk), Release.objects.get(pk=release.pk)
    assert descriptions._render(first) is True
    second.description = "changed meanwhile"
    assert descriptions._render(second) is False
    release.refresh_from_db()
    assert "<h3>Title</h3>" in release.description_html
    assert purged_keys().count("project-sample-project") == 1


def test_the_worker_renders_every_pending_release_in_batches(project, monkeypatch):
    monkeypatch.setattr(descriptions, "BATCH_SIZE", 2)
    pending = [pending_release(project, f"1.{n}", f"*n{n}*") for n in range(5)]
    done = make_release(
        project, "2.0", description="*x*", description_renderer=RENDERER_VERSION, after_commit=False
    )
    call_command("worker", "--once", stdout=StringIO())
    for n, release in enumerate(pending):
        release.refresh_from_db()
        assert release.description_html == f"<p><em>n{n}</em></p>"
        assert release.description_renderer == RENDERER_VERSION
    done.refresh_from_db()
    assert done.description_html == ""  # already rendered: left alone
    assert descriptions.render_all_pending() == 0


def test_the_worker_loop_renders_pending_releases(project):
    from packages.management.commands.worker import Command

    release = pending_release(project)
    Command.tick(flush=False)
    release.refresh_from_db()
    assert release.description_renderer == RENDERER_VERSION


def test_a_failed_attempt_after_the_commit_is_logged_not_raised(caplog):
    with caplog.at_level(logging.ERROR, logger="packages.descriptions"):
        descriptions.after_commit.submit("not a release id")
    assert caplog.records[-1].getMessage() == ("Could not render descriptions now; the worker will")


def rendered(pk: int) -> bool:
    return Release.objects.get(pk=pk).description_renderer == RENDERER_VERSION


@pytest.mark.django_db(transaction=True)
def test_a_serving_process_renders_on_a_thread_of_its_own(project, monkeypatch, settings):
    # No edge: the purge thread (also started by "serving") would outlive the test.
    settings.EDGE_PURGE_URLS = []
    monkeypatch.setattr(purges.purger, "serving", True)
    renderer = descriptions.AfterCommit()
    releases = [pending_release(project, version) for version in ("1.0", "2.0")]
    for release in releases:
        renderer.submit(release.pk)
        assert wait_until(lambda pk=release.pk: rendered(pk)), "not rendered"
    thread = renderer._thread
    assert thread is not None and thread.name == "description-render" and thread.is_alive()
    renderer.stop()
    assert not thread.is_alive()
    renderer.stop()  # once stopped, nothing to stop
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_an_idle_serving_process_renders_what_another_left_pending(project, monkeypatch, settings):
    settings.EDGE_PURGE_URLS = []
    monkeypatch.setattr(purges.purger, "serving", True)
    renderer = descriptions.AfterCommit(idle_seconds=0.05)
    renderer.submit(pending_release(project, "1.0").pk)
    # Committed by a process that died before its render.
    left = pending_release(project, "2.0")
    assert wait_until(lambda: rendered(left.pk)), "not rendered"
    renderer.stop()
    connection.close()
