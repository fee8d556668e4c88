"""The Reports and Export pages in Chromium, on a laptop and on a phone: six weeks of a clinic's
sessions drawn as charts with a table of the same figures, the figures and the patients
downloaded as CSV files, a bad date range refused without JavaScript. At 390 px wide neither page
is wider than the screen. Screenshots are kept in test-artifacts/screenshots/."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from scheduler.app import build
from scheduler.dispatch import Dispatcher, DispatchOptions
from scheduler.domain.timeutil import to_utc, zone
from scheduler.services import EnrolRequest
from scheduler.services.replies import Replies
from scheduler.sms import ConsoleSender
from scheduler.store.db import upgrade
from tests.browser.test_staff_week import sign_in
from tests.support import FrozenClock, make_settings
from tests.support.browser import ZONE, clinic_today, seed
from tests.support.server import Server, serving

pytestmark = pytest.mark.browser
PATIENTS = 8


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[tuple[Server, int]]:
    """`reminders serve` on a clinic whose last six weeks were lived on a frozen clock: eight
    courses, each session attended or missed, a confirmation here and there, and a STOP. Yields
    the server and how many sessions were attended."""
    database_url = f"sqlite:///{tmp_path / 'reminders.db'}"
    upgrade(database_url)
    seed(database_url)
    tz = zone(ZONE)
    start = clinic_today() - timedelta(weeks=6)
    clock = FrozenClock(to_utc(start, tz))
    app = build(make_settings(database_url), clock)
    sender = ConsoleSender(io.StringIO())
    worker = Dispatcher(app.settings, app.protocols, app.database, sender, clock, "seed", DispatchOptions())
    attended = 0
    try:
        clinic = app.clinic("test:seed")
        replies = Replies(app.settings, app.protocols, app.database, app.clock)
        courses = []
        for n in range(PATIENTS):
            first = f"{start + timedelta(days=1 + n % 5):%Y-%m-%d} {9 + n:02d}:00"
            name = "=Formula Patient" if n == 0 else f"History {n}"
            request = EnrolRequest(name, f"(201) 555-{300 + n:04d}", ZONE, "iv-6x-mwf", first, "intake form")
            courses.append(clinic.enrol(request))
        for day in range(1, 41):
            clock.set(to_utc(start + timedelta(days=day, hours=10), tz))
            if day not in (20, 21):  # no worker ran for two days: texts expired
                worker.drain()
            clock.set(to_utc(start + timedelta(days=day, hours=12), tz))
            for n, course in enumerate(courses):
                texts = clinic.show(course.patient.id).reminders
                today = clock.now().date()
                asked = any(
                    t.kind == "confirm" and t.status == "sent" and t.due_at.date() == today for t in texts
                )
                if asked and (n + day) % 3:
                    replies.receive(course.patient.phone, "C", f"SMc{day}-{n}")
            if day == 12:
                replies.receive(courses[3].patient.phone, "STOP", "SMstop")
            clock.set(to_utc(start + timedelta(days=day, hours=20), tz))
            for course in courses:
                for session in clinic.show(course.patient.id).appointments:
                    if session.status in ("scheduled", "confirmed") and session.starts_at < clock.now():
                        missed = session.id % 5 == 0
                        clinic.outcome(session.id, "missed" if missed else "attended")
                        attended += not missed
                        if missed:
                            clinic.resume(course.patient.id)
    finally:
        worker.close()
        app.close()
    with serving(tmp_path, database_url, {"SMS_BACKEND": "console"}, worker=False) as running:
        yield running, attended


def test_the_reports_page_charts_the_weeks_and_both_pages_download_csv(
    page: Page, clinic: tuple[Server, int], screenshots: Path, tmp_path: Path
) -> None:
    server, attended = clinic
    sign_in(page, server)
    page.get_by_role("link", name="Reports", exact=True).click()
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    for name in ("Sessions attended and missed", "Confirmation rate", "Opt-outs", "Texts failed or expired"):
        expect(page.get_by_role("img", name=f"{name}, per week")).to_be_visible()
    expect(page.locator("svg.chart g.bar rect")).to_have_count(12 * 6)
    # The table beneath has the figures the charts draw, and they add up to what happened.
    cells = page.locator('table.figures td[data-label="Attended"]').all_inner_texts()
    assert len(cells) == 12
    assert sum(int(c) for c in cells) == attended > 10
    opt_outs = page.locator('table.figures td[data-label="Opt-outs"]').all_inner_texts()
    assert sum(int(c) for c in opt_outs) == 1
    labels = page.locator("#chart-sessions g.bar title").all_text_contents()
    assert sum(int(t.rsplit(": ", 1)[1]) for t in labels if t.startswith("Attended")) == attended
    page.screenshot(path=str(screenshots / "reports.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download as CSV").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    with saved.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["attended"]) for r in rows] == [int(c) for c in cells]

    page.get_by_role("link", name="Export", exact=True).click()
    expect(page.get_by_role("heading", name="Export", exact=True)).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download patients (CSV)").click()
    assert re.fullmatch(r"patients-\d{4}-\d{2}-\d{2}\.csv", download.value.suggested_filename)
    saved = tmp_path / "patients.csv"
    download.value.save_as(saved)
    with saved.open(newline="", encoding="utf-8") as f:
        patients = list(csv.DictReader(f))
    assert len(patients) == PATIENTS + 1  # and the seeded Bo Chen
    assert patients[1]["name"] == "'=Formula Patient"
    assert sum(int(p["sessions_attended"]) for p in patients) == attended

    # A range that ends before it starts: the page says so, and nothing is downloaded.
    page.get_by_label("From (the clinic's day)").fill("2026-03-10")
    page.get_by_label("To (included)").fill("2026-03-01")
    page.get_by_role("button", name="Download the message log (CSV)").click()
    expect(page.get_by_role("alert")).to_have_text(
        "The to date is before the from date; nothing was exported."
    )
    page.screenshot(path=str(screenshots / "export-refused.png"), full_page=True)


def test_reports_and_export_fit_a_phone_screen(
    browser: Browser, clinic: tuple[Server, int], screenshots: Path
) -> None:
    server, _ = clinic
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US", is_mobile=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, server)
        for name, path in (("reports", "/reports"), ("export", "/export")):
            page.goto(f"{server.url}{path}")
            expect(page.locator("main")).to_be_visible()
            wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert wide[0] <= wide[1], f"{path} is {wide[0]} px wide on a {wide[1]} px screen"
            page.screenshot(path=str(screenshots / f"phone-{name}.png"), full_page=True)
        page.goto(f"{server.url}/reports")
        chart = page.locator("#chart-sessions").bounding_box()
        assert chart is not None
        assert chart["width"] <= 390
    finally:
        context.close()
