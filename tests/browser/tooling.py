"""What the browser tests need from the machine, and what happens without it.

Two tools come from outside Python: Debian's Chromium (`apt-get install chromium`;
Playwright's own browser downloads are never used) and axe-core, which `make test`
installs from the npm registry into tests/browser/node_modules. A developer
without them sees the browser tests skipped with the reason; CI must run them,
so there a missing tool is a failure.
"""

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
AXE_PATH = HERE / "node_modules" / "axe-core" / "axe.min.js"

# Root runs Chromium only without its sandbox. The machine's network is closed:
# the background services' connections would only fail, and slowly.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get("CHROMIUM_PATH") or "/usr/bin/chromium")


def screenshots_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """<TEST_ARTIFACTS_DIR or the repository's test-artifacts/>/screenshots."""
    return Path(environ.get("TEST_ARTIFACTS_DIR") or REPO / "test-artifacts") / "screenshots"


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing_tools(*, chromium: Path, axe: Path, playwright: bool) -> list[str]:
    """What stops the browser tests from running here, each with its remedy."""
    problems = []
    if not playwright:
        problems.append("the Python package playwright is not installed (make install)")
    if not (chromium.is_file() and os.access(chromium, os.X_OK)):
        problems.append(
            f"no Chromium at {chromium} (apt-get install chromium, or set CHROMIUM_PATH)"
        )
    if not axe.is_file():
        problems.append(
            f"no axe-core at {axe} (`make test` installs it with npm; "
            "without npm: apt-get install nodejs npm)"
        )
    return problems


def playwright_installed() -> bool:
    return importlib.util.find_spec("playwright") is not None


def skip_or_fail(problems: list[str], *, ci: bool) -> None:
    """Skip the browser tests with the reasons, or fail them in CI."""
    if not problems:
        return
    reason = "browser tests not run: " + "; ".join(problems)
    if ci:
        pytest.fail(f"{reason}. CI=true: in CI the browser tests must run.", pytrace=False)
    pytest.skip(reason)
