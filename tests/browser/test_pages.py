"""The public pages in a real browser, at a desktop and a phone width.

For each page: what a visitor came for is visible, nothing scrolls sideways on
a phone, the page loads without script errors or failed requests, axe-core
finds no serious or critical accessibility violation, and a full-page
screenshot is kept (test-artifacts/screenshots/<page>-<width>.png).
"""

import re
from datetime import UTC, datetime

import pytest

from packages.models import Project, Role
from packages.rendering import RENDERER_VERSION, render_description
from packages.search import search_index_update
from tests.factories import add_file, make_release, make_sdist, make_wheel

pytestmark = [pytest.mark.browser]

WIDTHS = ["desktop", "phone"]
NAME = "rich-markup"
SEARCH_WORD = "markup"

# A README as projects write them: headings, a code block with a line longer
# than a phone is wide, a wide table, a list and a link.
README = """\
# rich-markup

Render **Markdown-like markup** in terminals, with colours, tables and code.

## Installing

```python
from rich_markup import render, Theme

print(render("# Hello *world*", theme=Theme(width=120, colour_system="truecolor", emoji=True)))
```

## Options

| Option | Default | What it does |
| --- | --- | --- |
| `width` | `80` | Wrap lines at this many columns, whatever the terminal reports |
| `colour_system` | `"auto"` | One of `auto`, `standard`, `256`, `truecolor` or `windows` |
| `emoji` | `True` | Replace `:smile:`-style codes with the emoji they name |

* Fast: renders a 10,000-line document in milliseconds
* Safe: never executes the markup it renders

Read the [documentation](https://example.com/rich-markup/docs/) for more.
"""


def _at(day: int) -> datetime:
    return datetime(2024, 1, day, 12, 0, tzinfo=UTC)


def _project(name: str, owner, *, created: int) -> Project:
    project = Project.objects.create(name=name, normalized_name=name, created_at=_at(created))
    Role.objects.create(project=project, user=owner, role_name=Role.Name.OWNER)
    return project


def _release(project, version: str, *, day: int, files: bool = True, **fields):
    release = make_release(
        project,
        version,
        created_at=_at(day),
        summary=fields.pop("summary", f"{project.name} {version}"),
        **fields,
    )
    if files:
        add_file(release, make_wheel(project.name, version), upload_time=_at(day))
        add_file(release, make_sdist(project.name, version), upload_time=_at(day))
    return release


@pytest.fixture
def catalogue(owner, maintainer):
    """rich-markup with a history (a yanked release, a pre-release newer than the
    latest), two more projects the search word finds and one it doesn't."""
    project = _project(NAME, owner, created=1)
    Role.objects.create(project=project, user=maintainer, role_name=Role.Name.MAINTAINER)
    summary = "Render Markdown-like markup in terminals, with colours and tables"
    _release(project, "1.0", day=2, summary=summary)
    _release(
        project,
        "1.1",
        day=3,
        summary=summary,
        yanked=True,
        yanked_reason="Broken wheel metadata: install 1.2 or later",
    )
    _release(
        project,
        "2.0",
        day=4,
        summary=summary,
        description=README,
        description_content_type="text/markdown",
        description_html=render_description(README, "text/markdown"),
        description_renderer=RENDERER_VERSION,
        license_expression="MIT",
        requires_python=">=3.9",
        keywords="markdown,terminal,markup",
        classifiers=[
            "Programming Language :: Python :: 3",
            "License :: OSI Approved :: MIT License",
            "Environment :: Console",
        ],
        project_urls=[
            ["Documentation", "https://example.com/rich-markup/docs/"],
            ["Source", "https://example.com/rich-markup/src/"],
        ],
        author="Olivia Example",
        author_email="olivia@example.com",
    )
    _release(project, "2.1rc1", day=5, summary=summary, is_prerelease=True)
    others = [
        ("markup-lint", "Check markup files for broken links and headings"),
        ("tiny-markup", "A markup language small enough to learn in a minute"),
        ("unrelated-tool", "Counts lines of code"),
    ]
    for day, (name, other_summary) in enumerate(others, start=6):
        other = _project(name, owner, created=day)
        _release(other, "0.1", day=day, files=False, summary=other_summary)
        search_index_update(other)
    search_index_update(project)
    return project


def _check_page(visit) -> None:
    """The checks every page passes, once its own content is asserted."""
    visit.no_horizontal_scroll()
    assert visit.problems == [], visit.problems
    visit.assert_accessible()


@pytest.mark.parametrize("width", WIDTHS)
def test_home(visit, catalogue, width):
    result = visit("/", width, screenshot="home")
    page = result.page
    assert page.locator("h1").first.is_visible()
    # (An input of type search with suggestions is a combobox to assistive
    # technology, not a searchbox: found by its field name instead.)
    assert page.locator('main input[name="q"]').is_visible()
    # The newest projects are listed, each a link to its page.
    for name in ("unrelated-tool", NAME):
        assert page.locator(f'main a[href="/project/{name}/"]').first.is_visible()
    _check_page(result)


@pytest.mark.parametrize("width", WIDTHS)
def test_search_results(visit, catalogue, width):
    result = visit(f"/search/?q={SEARCH_WORD}", width, screenshot="search")
    page = result.page
    found = page.locator("main li").filter(has=page.locator('a[href^="/project/"]'))
    names = [
        item.locator('a[href^="/project/"]').first.inner_text().strip()
        for item in found.all()
        if item.is_visible()
    ]
    assert sorted(names) == ["markup-lint", NAME, "tiny-markup"]
    assert page.get_by_text("Check markup files for broken links").is_visible()
    # The query stays in the box, to be refined.
    assert page.locator('main input[name="q"]').input_value() == SEARCH_WORD
    _check_page(result)


@pytest.mark.parametrize("width", WIDTHS)
def test_project_page(visit, catalogue, width):
    result = visit(f"/project/{NAME}/", width, screenshot="project")
    page = result.page
    heading = page.locator("h1").first
    assert heading.is_visible()
    assert NAME in heading.inner_text()
    assert "2.0" in heading.inner_text()  # the latest stable release, not 2.1rc1
    assert page.get_by_text(f"pip install {NAME}", exact=False).first.is_visible()
    description = page.locator("main").get_by_role("heading", name="Options")
    description.scroll_into_view_if_needed()
    assert description.is_visible()
    assert page.locator("main table").first.is_visible()
    assert page.get_by_role("link", name="documentation").first.is_visible()
    # The history lists every release; the yanked one says so.
    for version in ("2.1rc1", "2.0", "1.1", "1.0"):
        assert page.locator(f'a[href="/project/{NAME}/{version}/"]').count() >= 1, version
    assert page.get_by_text(re.compile("yanked", re.IGNORECASE)).first.is_visible()
    assert page.get_by_text(f"{NAME.replace('-', '_')}-2.0-py3-none-any.whl").first.is_visible()
    _check_page(result)


def test_copy_button_copies_the_install_command(visit, catalogue):
    result = visit(
        f"/project/{NAME}/", "desktop", permissions=["clipboard-read", "clipboard-write"]
    )
    page = result.page
    button = page.get_by_role("button", name="Copy the pip install command")
    button.click()
    # A live region tells screen readers it worked (waited for: the clipboard
    # answers asynchronously).
    page.get_by_role("status").filter(has_text=re.compile("copied", re.IGNORECASE)).wait_for(
        state="attached"
    )
    assert page.evaluate("() => navigator.clipboard.readText()") == f"pip install {NAME}"
    assert result.problems == [], result.problems


def test_keyboard_reaches_the_search_box_with_a_visible_focus(visit, catalogue):
    result = visit(f"/project/{NAME}/", "desktop")
    page = result.page
    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    assert skip.get_attribute("href") == "#content"
    # Hidden until focused, then shown where a keyboard user looks.
    box = skip.bounding_box()
    assert box is not None and box["width"] > 1 and box["height"] > 1
    assert box["y"] >= 0 and box["x"] >= 0
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('input[type=search]')"):
            break
    else:
        pytest.fail("Tab from the skip link never reached the search box")
    style = page.evaluate(
        """() => {
            const el = document.activeElement;
            const s = getComputedStyle(el);
            return {visible: el.matches(':focus-visible'), outlineStyle: s.outlineStyle,
                    outlineWidth: parseFloat(s.outlineWidth), boxShadow: s.boxShadow};
        }"""
    )
    assert style["visible"], style
    assert (style["outlineStyle"] != "none" and style["outlineWidth"] > 0) or (
        style["boxShadow"] != "none"
    ), f"the focused search box shows no focus ring: {style}"
    result.screenshot("project-search-focus", full_page=False)
