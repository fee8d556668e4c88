"""Browser tests: `reminders serve` on a fresh SQLite database, driven by Debian's Chromium.

Chromium is the distribution's (`/usr/bin/chromium`), launched through Playwright's
`executable_path`: no browser is downloaded. Without it the tests are skipped, except under CI
(`CI` set), where a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from scheduler.store.db import upgrade
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, seed
from tests.support.server import Server, serving


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must run the browser tests")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """`reminders serve --no-worker` on a fresh, migrated SQLite database."""
    database_url = f"sqlite:///{tmp_path / 'reminders.db'}"
    upgrade(database_url)
    seed(database_url)
    with serving(tmp_path, database_url, {"SMS_BACKEND": "console"}, worker=False) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser profile at laptop size."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-US")
    context.set_default_timeout(15_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
