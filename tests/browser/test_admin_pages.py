"""A front-desk day in Chromium: sign in, enrol a patient (after one mistake), check the plan,
save, move a session, see the course change, sign out. Screenshots of Today, Enrol and the
patient page are kept in test-artifacts/screenshots/."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import EMAIL, PASSWORD, clinic_today
from tests.support.server import Server

pytestmark = pytest.mark.browser


def shown(day: datetime) -> str:
    """How the pages write a local day and time, without the zone: "Thu 12 Mar 2026 15:30"."""
    return f"{day:%a} {day.day} {day:%b %Y %H:%M}"


def next_monday_a_week_out() -> datetime:
    day = clinic_today() + timedelta(days=7, hours=10)
    while day.weekday() != 0:
        day += timedelta(days=1)
    return day


def test_enrol_a_patient_and_move_a_session(page: Page, server: Server, screenshots: Path) -> None:
    first = next_monday_a_week_out()  # sessions Mon, Wed, Fri, Mon, Wed, Fri at 10:00
    moved = first + timedelta(days=3, hours=5, minutes=30)  # session 2 to Thursday 15:30

    # Signed out, every page leads to sign-in; signing in returns to the page asked for.
    page.goto(f"{server.url}/enrol")
    expect(page).to_have_url(re.compile(r"/login\?next=/enrol$"))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Enrol a patient")).to_be_visible()

    # A number that cannot take texts: the error is next to the field and nothing typed is lost.
    page.get_by_label("Name", exact=True).fill("Ana Lima")
    page.get_by_label("Mobile number").fill("555-12")
    page.get_by_label("Protocol").select_option("iv-6x-mwf")
    page.get_by_label("First session").fill(f"{first:%Y-%m-%dT%H:%M}")
    page.get_by_label("How the patient agreed to texts").fill("intake form, signed")
    page.get_by_role("button", name="Preview the plan").click()
    expect(page.locator("#phone-error")).to_contain_text("the phone number")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Ana Lima")
    expect(page.get_by_label("Mobile number")).to_have_value("555-12")
    expect(page.get_by_label("First session")).to_have_value(f"{first:%Y-%m-%dT%H:%M}")
    expect(page.get_by_label("How the patient agreed to texts")).to_have_value("intake form, signed")
    page.screenshot(path=str(screenshots / "enrol.png"), full_page=True)

    # The preview: sessions and texts in the patient's local time, nothing saved yet.
    page.get_by_label("Mobile number").fill("(201) 555-0123")
    page.get_by_role("button", name="Preview the plan").click()
    expect(page.get_by_role("heading", name="Check the plan, then save")).to_be_visible()
    timeline = page.locator("#timeline")
    expect(timeline.locator("tr.session-row")).to_have_count(7)  # six sessions and a touch-up
    expect(timeline).to_contain_text(shown(first))
    expect(timeline).to_contain_text("prep text")
    page.screenshot(path=str(screenshots / "enrol-preview.png"), full_page=True)

    page.get_by_role("button", name="Save and enrol").click()
    expect(page.get_by_role("heading", name="Ana Lima")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Enrolled")

    # Move session 2; its row and its texts change.
    second = page.locator("#timeline tr.session-row").nth(1)
    before = shown(first + timedelta(days=2))
    expect(second).to_contain_text(before)
    second.get_by_text("Reschedule…").click()
    second.get_by_label("New time").fill(f"{moved:%Y-%m-%dT%H:%M}")
    second.get_by_role("button", name="Move session").click()
    expect(page.get_by_role("status").first).to_contain_text("Session moved")
    # Thursday 15:30 is less than a day before session 3: done, with a warning to check.
    expect(page.locator(".flash.warning")).to_contain_text("less than a day before session 3")
    second = page.locator("#timeline tr.session-row").nth(1)
    expect(second).to_contain_text(shown(moved))
    expect(second).to_contain_text("Induction session 2")
    expect(page.locator("#timeline")).to_contain_text("rescheduled")  # the old texts, cancelled
    page.screenshot(path=str(screenshots / "patient.png"), full_page=True)
    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet, upright
    page.screenshot(path=str(screenshots / "patient-tablet.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 860})

    # Today: the seeded patient's session tomorrow, their change request and their question.
    page.get_by_role("link", name="Today").click()
    expect(page.locator("#sessions")).to_contain_text("Bo Chen")
    expect(page.locator("#changes")).to_contain_text("asked to change induction session 1")
    expect(page.locator("#replies")).to_contain_text("Is there parking near the clinic?")
    page.screenshot(path=str(screenshots / "today.png"), full_page=True)

    # The patient list finds her by the last digits of her number.
    page.get_by_role("link", name="Patients").click()
    page.get_by_label("Name, record number or phone number").fill("0123")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table")).to_contain_text("Ana Lima")
    expect(page.locator("table")).not_to_contain_text("Bo Chen")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{server.url}/patients")
    expect(page).to_have_url(re.compile(r"/login\?next="))

    log = server.log.read_text()
    assert "Ana Lima" not in log  # no names or numbers in the service's log
    assert "555-0123" not in log
    assert "2015550123" not in log
