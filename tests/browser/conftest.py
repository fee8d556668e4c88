"""Browser tests: `reminders serve` on a fresh SQLite database, driven by Debian's Chromium.

Chromium is the distribution's (`/usr/bin/chromium`), launched through Playwright's
`executable_path`: no browser is downloaded. Without it the tests are skipped, except under CI
(`CI` set), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from scheduler.store.db import upgrade
from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REMINDERS,
    SCREENSHOTS,
    Server,
    free_port,
    seed,
)


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
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SMS_", "DATABASE_", "PUBLIC_"))
    }
    env.update(DATABASE_URL=database_url, SMS_BACKEND="console", SECRET_KEY="browser-test-" + "k" * 32)
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(REMINDERS), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"],
            env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"reminders serve did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield Server(url, database_url, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
