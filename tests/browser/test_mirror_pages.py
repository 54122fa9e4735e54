"""The page of a project mirrored from the upstream index in a real browser, at
a desktop and a phone width: the checks of every public page (tests/browser/
test_pages.py: no sideways scroll, no script error or failed request, no
serious or critical axe-core violation) and what it must say."""

import pytest

from packages.models import UpstreamFile
from tests.browser.test_pages import WIDTHS, _check_page
from tests.packages.mirror_rows import UPSTREAM, demo_project, mirror_on, upstream_file

pytestmark = [pytest.mark.browser]


@pytest.fixture
def demo(db, settings):
    mirror_on(settings)
    project = demo_project()
    # A long wheel name and a yanked file with its reason, as real projects have.
    upstream_file(
        project,
        "demo-2.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
        yanked=True,
        yanked_reason="Built against the wrong glibc",
    )
    return project


@pytest.mark.parametrize("width", WIDTHS)
def test_mirrored_project_page(visit, demo, width):
    result = visit("/project/demo/", width, screenshot="mirrored-project")
    page = result.page

    heading = page.locator("h1").first
    assert heading.is_visible()
    assert "2.0" in heading.inner_text()
    assert page.get_by_text("Mirrored from the upstream index").is_visible()
    assert page.locator(f'main a[href="{UPSTREAM}"]').first.is_visible()
    assert page.get_by_text("pip install demo", exact=False).first.is_visible()
    file = UpstreamFile.objects.get(filename="demo-2.0.tar.gz")
    assert page.locator(f'a[href*="{file.sha256_digest}"]').first.is_visible()
    assert page.get_by_text("Built against the wrong glibc").first.is_visible()
    _check_page(result)
