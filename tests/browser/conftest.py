"""A real headless Chromium on the real Django app (pytest-django's live_server).

Each test opens its page at a named width in a fresh browser context, so cookies,
permissions and the clipboard never leak between tests. `visit` records what a
person would notice went wrong (script errors, requests that failed) and the
tests assert there is none.
"""

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from tests.browser.tooling import (
    AXE_PATH,
    CHROMIUM_ARGS,
    chromium_path,
    in_ci,
    missing_tools,
    playwright_installed,
    screenshots_dir,
    skip_or_fail,
)

VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True},
}

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"]},
    "resultTypes": ["violations"],
}
BLOCKING_IMPACTS = {"serious", "critical"}


@pytest.fixture(scope="package")
def browser() -> Iterator:
    skip_or_fail(
        missing_tools(chromium=chromium_path(), axe=AXE_PATH, playwright=playwright_installed()),
        ci=in_ci(),
    )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop marked as running in this
    # thread, and Django then refuses every ORM call here (the test data, the
    # flush after each test) as if it came from a coroutine. No coroutine touches
    # the ORM: the loop only carries Playwright's messages. Only for this package.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(chromium_path()), args=CHROMIUM_ARGS, headless=True
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class Visit:
    page: object  # playwright.sync_api.Page
    width: str
    problems: list[str] = field(default_factory=list)

    def watch(self) -> None:
        """Record what a person would notice went wrong on the page."""
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        self.page.on("requestfailed", self._on_request_failed)
        self.page.on("response", self._on_response)

    def _on_console(self, message) -> None:
        # "Failed to load resource" repeats a response event, which names the URL;
        # and headless Chromium's own request for /favicon.ico is not the page's.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console error: {message.text}")

    def _on_request_failed(self, request) -> None:
        # A script answered 404 "fails" as aborted too: the response event says why.
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _on_response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def no_horizontal_scroll(self) -> None:
        width = self.page.viewport_size["width"]
        content, window = self.page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        # A phone browser zooms out to fit content wider than the screen (and
        # lays out at 980px without the viewport meta tag): the window then
        # grows past the screen's width instead of scrolling.
        assert content <= window == width, (
            f"at {self.width} width ({width}px) the page is {content}px wide in a "
            f"{window}px window; sticking out: {self.widest_elements(width)}"
        )

    def widest_elements(self, limit: int) -> list[str]:
        """The elements whose right edge passes ``limit``, to say what to fix."""
        return self.page.evaluate(
            """limit => {
                const out = [];
                for (const el of document.body.querySelectorAll('*')) {
                    const right = el.getBoundingClientRect().right;
                    if (right > limit + 1) {
                        const id = el.id ? '#' + el.id : '';
                        const cls = el.classList.length ? '.' + [...el.classList].join('.') : '';
                        out.push(`${el.tagName.toLowerCase()}${id}${cls} (right edge ${right}px)`);
                    }
                }
                return out.slice(0, 12);
            }""",
            limit,
        )

    def screenshot(self, name: str, *, full_page: bool = True):
        path = screenshots_dir() / f"{name}-{self.width}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=full_page)
        assert path.stat().st_size > 0
        return path

    def accessibility_violations(self) -> list[dict]:
        """axe-core's serious and critical violations on the page as it is now."""
        if not self.page.evaluate("() => typeof window.axe === 'object'"):
            # Evaluated through devtools: the page's CSP forbids inline scripts.
            self.page.evaluate(AXE_PATH.read_text())
        result = self.page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
        return [v for v in result["violations"] if v["impact"] in BLOCKING_IMPACTS]

    def assert_accessible(self) -> None:
        violations = self.accessibility_violations()
        assert not violations, f"axe-core at {self.width} width:\n" + describe_violations(
            violations
        )


def describe_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']} "
            f"[{violation['helpUrl']}]"
        )
        for node in violation["nodes"][:10]:
            lines.append(f"    {json.dumps(node['target'])}: {node['failureSummary']!r}")
            lines.append(f"      {node['html'][:200]}")
    return "\n".join(lines)


@pytest.fixture
def visit(browser, live_server) -> Iterator[Callable[..., Visit]]:
    """visit(path, width, screenshot=name, **context_options) -> Visit, the page
    loaded and, with a name, its screenshot saved."""
    contexts = []

    def open_page(path: str, width: str, *, screenshot: str = "", **options) -> Visit:
        context = browser.new_context(**VIEWPORTS[width], **options)
        contexts.append(context)
        page = context.new_page()
        # A failed check waits no longer than this for an element.
        page.set_default_timeout(15_000)
        result = Visit(page, width)
        result.watch()
        response = page.goto(live_server.url + path, wait_until="load")
        assert response is not None and response.status == 200, (
            f"GET {path}: {response and response.status}\n{response and response.text()[:2000]}"
        )
        if screenshot:
            # Taken before any check, so a failing test leaves its picture too.
            result.screenshot(screenshot)
        return result

    yield open_page
    for context in contexts:
        context.close()
