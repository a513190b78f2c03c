"""A real headless Chromium for the console's tests: Debian's `chromium` driven by Playwright.

Playwright's own browser downloads are not used: the tests drive the system's Chromium (`python3 dev.py test`
installs Debian's package when it is missing; `JOBNODE_CHROMIUM` names another binary). Screenshots go to the test
run's output folder, `test-results/console/` (or `$JOBNODE_TEST_OUTPUT/console/`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from jobnode.service.process import ServiceProcess

ROOT = Path(__file__).resolve().parents[2]
#: Chromium in a machine without a display, a GPU or a network to talk to
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: the longest a browser test waits for a page to show something (a job that runs, a stream that updates)
WAIT_MS = 60_000


def chromium_executable() -> str:
    """The system's Chromium; a clear failure (never a skip) when there is none."""
    named = os.environ.get("JOBNODE_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "no Chromium found for the console's browser tests: install Debian's `chromium` package "
        "(`python3 dev.py test` does it), or set JOBNODE_CHROMIUM to a Chromium binary"
    )


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where the browser tests leave their screenshots."""
    base = Path(os.environ.get("JOBNODE_TEST_OUTPUT") or ROOT / "test-results")
    folder = base / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's sync API, for one module at a time: while it runs, its event loop counts as the thread's running
    loop, which the suite's async tests (pytest-asyncio) must not find."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One Chromium for the module (each test gets a context of its own: fresh cookies and storage); Playwright
    gives it a fresh temporary profile (`--user-data-dir`), and what Chromium keeps besides (crash reports) goes to
    a folder of the test run, not the home directory."""
    config = tmp_path_factory.mktemp("chromium")
    browser = playwright.chromium.launch(
        executable_path=chromium_executable(),
        headless=True,
        args=CHROMIUM_ARGS,
        env={**os.environ, "XDG_CONFIG_HOME": str(config / "config"), "XDG_CACHE_HOME": str(config / "cache")},
    )
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(WAIT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def anonymous(context: BrowserContext) -> Page:
    """A page of a browser that has not logged in."""
    return context.new_page()


def log_in(page: Page, service: ServiceProcess) -> None:
    """Log in through the console's login page, as a person would."""
    assert service.token
    page.goto(f"{service.url}/ui/login")
    page.get_by_label("Token").fill(service.token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{service.url}/ui/jobs")


@pytest.fixture
def page(context: BrowserContext, service: ServiceProcess) -> Page:
    """A page of a browser logged in to the session's service."""
    new = context.new_page()
    log_in(new, service)
    return new
