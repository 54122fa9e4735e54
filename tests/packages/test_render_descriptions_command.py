from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from packages.models import Release
from packages.rendering import RENDERER_VERSION
from tests.factories import make_release


def run(*args) -> list[str]:
    out = StringIO()
    call_command("render_descriptions", *args, stdout=out)
    return out.getvalue().splitlines()


def release(project, version, *, renderer, html="<p>old</p>", text=None):
    return make_release(
        project,
        version,
        description=text or f"Version *{version}*",
        description_content_type="text/markdown",
        description_html=html,
        description_renderer=renderer,
    )


@pytest.fixture
def releases(project):
    return {
        "never": release(project, "1.0", renderer="", html=""),
        "older": release(project, "1.1", renderer="2000.1"),
        "current": release(project, "1.2", renderer=RENDERER_VERSION, html="<p>kept</p>"),
    }


def test_renders_only_releases_of_another_renderer(releases):
    lines = run()
    assert lines[-1] == f"Rendered 2 descriptions with renderer {RENDERER_VERSION}."
    stored = {r.version: r for r in Release.objects.all()}
    assert stored["1.0"].description_html == "<p>Version <em>1.0</em></p>"
    assert stored["1.1"].description_html == "<p>Version <em>1.1</em></p>"
    assert stored["1.0"].description_renderer == RENDERER_VERSION
    assert stored["1.1"].description_renderer == RENDERER_VERSION
    assert stored["1.2"].description_html == "<p>kept</p>"


def test_all_renders_current_releases_too(releases):
    lines = run("--all")
    assert lines[-1] == f"Rendered 3 descriptions with renderer {RENDERER_VERSION}."
    assert Release.objects.get(version="1.2").description_html == "<p>Version <em>1.2</em></p>"


def test_a_second_run_has_nothing_left_to_do(releases):
    run()
    assert run() == [f"Rendered 0 descriptions with renderer {RENDERER_VERSION}."]


def test_works_in_batches_and_reports_progress(project, django_assert_max_num_queries):
    for minor in range(5):
        release(project, f"2.{minor}", renderer="")
    # Per batch: one read and one bulk update (a transaction around it on
    # some backends), never a query per release.
    with django_assert_max_num_queries(3 * 3 + 1):
        lines = run("--batch-size", "2")
    assert lines == [
        "Rendered 2 descriptions so far.",
        "Rendered 4 descriptions so far.",
        "Rendered 5 descriptions so far.",
        f"Rendered 5 descriptions with renderer {RENDERER_VERSION}.",
    ]
    assert not Release.objects.exclude(description_renderer=RENDERER_VERSION).exists()


def test_hostile_description_is_stored_sanitized(project):
    release(project, "3.0", renderer="", text="<script>alert(1)</script>[x](javascript:alert(2))")
    run()
    assert Release.objects.get().description_html.strip() == '<p><a rel="nofollow ugc">x</a></p>'


@pytest.mark.parametrize("size", ["0", "-1"])
def test_batch_size_must_be_positive(db, size):
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        run("--batch-size", size)
