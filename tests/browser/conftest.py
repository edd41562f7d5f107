"""Browser tests: the system's Chromium, driven by Playwright, against a live server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from tests.server.conftest import server, settings  # noqa: F401 - fixtures used by the tests
from tests.support.host import REPO, require

CHROMIUM = Path(os.environ.get("PYJOBS_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
# The machine's network is closed: without these, Chromium's background services (updates,
# sync, field trials, QUIC probes) keep trying and flood the log with refused connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # we run as root in CI; the page under test is our own
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]
# Playwright must never fetch a browser of its own: the Debian package is the browser.
os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Browser tests use SQLite only: the API's database matrix is tested in tests/server."""
    return f"sqlite:///{tmp_path / 'pyjobs.db'}"


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver, for one module: its sync API keeps an event loop running in this
    thread, which must be gone before other tests call asyncio.run()."""
    require(CHROMIUM.is_file(), f"{CHROMIUM} missing: apt-get install chromium chromium-driver")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One headless Chromium per module; each test gets a fresh context."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


class PageProblems:
    """What went wrong inside the page: uncaught errors and console errors (CSP included)."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def console(self, message: ConsoleMessage) -> None:
        """Keep console errors, except the browser's note on each 4xx answer of the API."""
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def page_error(self, error: Exception) -> None:
        """Keep uncaught exceptions."""
        self.errors.append(str(error))


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a new context (own sessionStorage) that fails the test on script errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems = PageProblems()
    page.on("console", problems.console)
    page.on("pageerror", problems.page_error)
    yield page
    context.close()
    assert problems.errors == [], problems.errors


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where screenshots go: test artifacts, kept out of git."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
