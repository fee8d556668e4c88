"""A clinic's week in Chromium, on a laptop and on a phone: page through 214 patients, find one by
a number typed as people type it, correct their time zone and protocol after a preview, add a
session, cancel one only after saying yes, restore it, and look at the week. At 390 px wide no
page is wider than the screen. Screenshots are kept in test-artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from scheduler.app import build
from scheduler.store.db import upgrade
from tests.support import make_settings
from tests.support.browser import EMAIL, PASSWORD, clinic_today, seed
from tests.support.server import Server, serving

pytestmark = pytest.mark.browser
PATIENTS = 213  # and the seeded patient, Bo Chen


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[Server]:
    """`reminders serve` on a clinic of 214 patients, their first sessions over the next weeks."""
    database_url = f"sqlite:///{tmp_path / 'reminders.db'}"
    upgrade(database_url)
    seed(database_url)
    start = clinic_today() + timedelta(days=2, hours=9)
    rows = ["name,phone,timezone,protocol,first,consent"]
    for n in range(1, PATIENTS + 1):
        first = start + timedelta(days=n % 12, minutes=15 * (n % 20))
        rows.append(f"Patient {n:03d},(201) 555-{n:04d},America/New_York,,{first:%Y-%m-%d %H:%M},intake form")
    app = build(make_settings(database_url))
    try:
        report = app.clinic("test:seed").import_csv("\n".join(rows) + "\n")
        assert report.ok, report
    finally:
        app.close()
    with serving(tmp_path, database_url, {"SMS_BACKEND": "console"}, worker=False) as running:
        yield running


def sign_in(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=re.compile("^Today"))).to_be_visible()


def test_a_front_desk_corrects_a_patient_and_plans_the_week(
    page: Page, clinic: Server, screenshots: Path
) -> None:
    sign_in(page, clinic)

    # 214 patients, 50 a page.
    page.get_by_role("link", name="Patients", exact=True).click()
    expect(page.locator(".pager .count").first).to_have_text("1–50 of 214")
    page.get_by_role("link", name="Next →").first.click()
    expect(page.locator(".pager .count").first).to_have_text("51–100 of 214")
    page.screenshot(path=str(screenshots / "patients-page-2.png"), full_page=True)

    # Found by the number as it was read out over the phone.
    page.get_by_label("Name, record number or phone number").fill("(201) 555-0123")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".pager .count").first).to_have_text("1–1 of 1")
    page.get_by_role("link", name="Patient 123").click()
    expect(page.get_by_role("heading", name="Patient 123")).to_be_visible()

    # The time zone and the protocol, corrected after a preview.
    page.get_by_role("link", name="Edit details…").click()
    page.get_by_label("Time zone").fill("America/Chicago")
    page.get_by_label("Protocol", exact=True).select_option("touch-up-only")
    restart = clinic_today() + timedelta(days=20, hours=11)
    page.get_by_label("New course starts").fill(f"{restart:%Y-%m-%dT%H:%M}")
    page.get_by_role("button", name="Preview the changes").click()
    expect(page.get_by_role("heading", name="Check the changes, then save")).to_be_visible()
    changes = page.locator("table.changes")
    expect(changes).to_contain_text("America/New_York")
    expect(changes).to_contain_text("America/Chicago")
    expect(changes).to_contain_text("touch-up-only")
    page.screenshot(path=str(screenshots / "edit-preview.png"), full_page=True)
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved")
    expect(page.locator("dl.facts")).to_contain_text("America/Chicago")
    live = page.locator("#timeline tr.session-row.scheduled")
    expect(live).to_have_count(1)
    expect(live).to_contain_text("Touch-up session")

    # One more session, then one cancelled only after saying yes, then brought back.
    extra = restart + timedelta(days=7, hours=-1)
    page.get_by_text("Add a session…").click()
    page.locator("details.add-session").get_by_label("When").fill(f"{extra:%Y-%m-%dT%H:%M}")
    page.get_by_role("button", name="Add session").click()
    expect(page.get_by_role("status").first).to_contain_text("Session added")
    expect(page.locator("#timeline tr.session-row.scheduled")).to_have_count(2)
    page.locator("#timeline tr.session-row.scheduled").last.get_by_role(
        "link", name="Cancel session…"
    ).click()
    expect(
        page.get_by_role("heading", name=re.compile(r"^Cancel Touch-up session \d for Patient 123\?"))
    ).to_be_visible()
    page.screenshot(path=str(screenshots / "cancel-confirm.png"), full_page=True)
    page.get_by_role("link", name="Keep it").click()
    expect(page.locator("#timeline tr.session-row.scheduled")).to_have_count(2)
    page.locator("#timeline tr.session-row.scheduled").last.get_by_role(
        "link", name="Cancel session…"
    ).click()
    page.get_by_role("button", name="Cancel the session").click()
    expect(page.get_by_role("status").first).to_contain_text("Session cancelled")
    expect(page.locator("#timeline tr.session-row.scheduled")).to_have_count(1)
    page.get_by_role("button", name="Restore").last.click()
    expect(page.get_by_role("status").first).to_contain_text("Session restored")
    expect(page.locator("#timeline tr.session-row.scheduled")).to_have_count(2)
    page.screenshot(path=str(screenshots / "patient-corrected.png"), full_page=True)

    # The week: each day's sessions with where their confirmation stands.
    page.get_by_role("link", name="Week", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("^Week of"))).to_be_visible()
    page.get_by_role("link", name="Next week →").click()
    days = page.locator("section.day")
    expect(days).to_have_count(7)
    expect(page.locator("section.day table").first).to_contain_text("not confirmed")
    page.screenshot(path=str(screenshots / "week.png"), full_page=True)


def test_every_page_fits_a_phone_screen(browser: Browser, clinic: Server, screenshots: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US", is_mobile=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, clinic)
        page.goto(f"{clinic.url}/patients?q=Patient%20007")
        page.get_by_role("link", name="Patient 007").click()
        patient = page.url
        cancel_link = page.locator("#timeline").get_by_role("link", name="Cancel session…").first
        cancel_page = cancel_link.get_attribute("href")
        paths = ["/", "/week", "/patients", patient, f"{patient}/edit", cancel_page, f"{patient}/discharge",
                 "/enrol", "/messages", "/import", "/password"]  # fmt: skip
        for path in paths:
            assert path
            page.goto(path if path.startswith("http") else f"{clinic.url}{path}")
            expect(page.locator("main")).to_be_visible()
            wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert wide[0] <= wide[1], f"{path} is {wide[0]} px wide on a {wide[1]} px screen"
        for name, path in (("today", "/"), ("week", "/week"), ("patient", patient)):
            page.goto(path if path.startswith("http") else f"{clinic.url}{path}")
            page.screenshot(path=str(screenshots / f"phone-{name}.png"), full_page=True)
    finally:
        context.close()
