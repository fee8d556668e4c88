"""The first admin, in Chromium: `reminders serve` on a new database prints a one-time password;
signing in with it leads straight to choosing a new one, and afterwards it no longer works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from scheduler.store.db import upgrade
from tests.support.server import serving

pytestmark = pytest.mark.browser

CHOSEN = "our clinic's own long passphrase"


def sign_in(page: Page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_the_first_admin_must_replace_the_printed_password(
    tmp_path: Path, page: Page, chromium: Path, screenshots: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'reminders.db'}"
    upgrade(database_url)  # no accounts yet
    with serving(tmp_path, database_url, {"SMS_BACKEND": "console"}, worker=False) as server:
        printed = re.search(
            r"first admin account (\S+); its one-time password[^:]*: (\S+)", server.log.read_text()
        )
        assert printed, server.log.read_text()
        email, one_time = printed.groups()

        sign_in(page, server.url, email, one_time)
        expect(page).to_have_url(re.compile(r"/password"))
        expect(page.get_by_role("heading", name="Choose a password")).to_be_visible()
        # Nothing else can be reached first.
        page.goto(f"{server.url}/patients")
        expect(page).to_have_url(re.compile(r"/password"))
        page.get_by_label("Current password").fill(one_time)
        page.get_by_label("New password (at least 12 characters)").fill(CHOSEN)
        page.get_by_label("New password again").fill(CHOSEN)
        page.screenshot(path=str(screenshots / "first-admin-password.png"))
        page.get_by_role("button", name="Save password").click()
        expect(page.get_by_text("Password changed")).to_be_visible()
        expect(page.get_by_role("heading", name="Patients")).to_be_visible()

        page.get_by_role("button", name="Sign out").click()
        sign_in(page, server.url, email, one_time)
        expect(page.get_by_text("wrong email or password")).to_be_visible()
        sign_in(page, server.url, email, CHOSEN)
        expect(page.get_by_role("link", name="Staff")).to_be_visible()  # an admin: the Staff page
        expect(page).not_to_have_url(re.compile(r"/password"))
