"""The browser tests' own decision: run, skip with the remedy, or fail in CI.

These need no browser, so they run everywhere, whatever is installed.
"""

import pytest

from tests.browser.tooling import (
    chromium_path,
    in_ci,
    missing_tools,
    screenshots_dir,
    skip_or_fail,
)


@pytest.fixture
def tools(tmp_path):
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    axe = tmp_path / "axe.min.js"
    axe.write_text("window.axe = {};")
    return chromium, axe


def test_nothing_missing_when_every_tool_is_there(tools):
    chromium, axe = tools
    assert missing_tools(chromium=chromium, axe=axe, playwright=True) == []


def test_each_missing_tool_is_named_with_its_remedy(tmp_path):
    problems = missing_tools(
        chromium=tmp_path / "no-chromium", axe=tmp_path / "no-axe.js", playwright=False
    )
    assert len(problems) == 3
    assert "playwright" in problems[0] and "make install" in problems[0]
    assert str(tmp_path / "no-chromium") in problems[1]
    assert "apt-get install chromium" in problems[1]
    assert "make test" in problems[2] and "npm" in problems[2]


def test_a_chromium_that_cannot_be_executed_is_missing(tools):
    chromium, axe = tools
    chromium.chmod(0o644)
    assert missing_tools(chromium=chromium, axe=axe, playwright=True) == [
        f"no Chromium at {chromium} (apt-get install chromium, or set CHROMIUM_PATH)"
    ]


def test_nothing_missing_means_neither_skip_nor_fail():
    assert skip_or_fail([], ci=True) is None
    assert skip_or_fail([], ci=False) is None


def test_outside_ci_a_missing_tool_skips_with_the_reason():
    with pytest.raises(pytest.skip.Exception) as skipped:
        skip_or_fail(["no Chromium at /x (apt-get install chromium)", "no axe"], ci=False)
    assert str(skipped.value) == (
        "browser tests not run: no Chromium at /x (apt-get install chromium); no axe"
    )


def test_in_ci_a_missing_tool_fails():
    with pytest.raises(pytest.fail.Exception) as failed:
        skip_or_fail(["no axe"], ci=True)
    assert "browser tests not run: no axe" in str(failed.value)
    assert "in CI the browser tests must run" in str(failed.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("", False), ("false", False), ("0", False)],
)
def test_ci_is_read_from_the_environment(value, expected):
    assert in_ci({"CI": value}) is expected


def test_ci_unset_is_not_ci():
    assert in_ci({}) is False


def test_chromium_path_defaults_to_debians_and_can_be_overridden():
    assert str(chromium_path({})) == "/usr/bin/chromium"
    assert str(chromium_path({"CHROMIUM_PATH": "/opt/chromium/chrome"})) == "/opt/chromium/chrome"


def test_screenshots_go_under_the_artifacts_directory(tmp_path):
    assert screenshots_dir({}).parts[-2:] == ("test-artifacts", "screenshots")
    assert screenshots_dir({"TEST_ARTIFACTS_DIR": str(tmp_path)}) == tmp_path / "screenshots"
