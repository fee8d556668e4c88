"""The Events page on a phone: staff find an event the EHR's receiver refused, see why, and send
it again; no part of the page is wider than a 390 px screen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from scheduler.app import build
from scheduler.dispatch import Dispatcher
from scheduler.services import EnrolRequest
from scheduler.services.replies import Replies
from scheduler.store.db import upgrade
from scheduler.store.models import Event
from scheduler.store.uow import UnitOfWork
from tests.support import make_settings
from tests.support.browser import EMAIL, PASSWORD, clinic_today, seed
from tests.support.receiver import Receiver
from tests.support.server import Server, serving

pytestmark = pytest.mark.browser
SECRET = "the EHR's shared secret for events"
PHONE = "+12015550123"


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[tuple[Server, int]]:
    """A clinic whose EHR receiver refused the first event (a confirmation) and took the second."""
    receiver = Receiver([410])
    database_url = f"sqlite:///{tmp_path / 'reminders.db'}"
    upgrade(database_url)
    seed(database_url)
    env = {"SMS_BACKEND": "console", "EVENT_WEBHOOK_URL": receiver.url, "EVENT_WEBHOOK_SECRET": SECRET}
    app = build(make_settings(database_url, event_webhook_url=receiver.url, event_webhook_secret=SECRET))
    try:
        first = clinic_today() + timedelta(days=3, hours=10)
        request = EnrolRequest(
            "Ana Lima", PHONE, "America/New_York", "iv-6x-mwf", f"{first:%Y-%m-%d %H:%M}", "form"
        )
        app.clinic("test:seed").enrol(request)
        replies = Replies(app.settings, app.protocols, app.database, app.clock)
        replies.receive(PHONE, "C", "SM-c")
        replies.receive(PHONE, "R", "SM-r")
        worker = Dispatcher(app.settings, app.protocols, app.database, app.sender(), app.clock, "w")
        try:
            assert worker.deliver_events() == 1
        finally:
            worker.close()
        with UnitOfWork(app.database) as uow:
            failed = uow.db.scalars(select(Event.id).where(Event.status == "failed")).one()
    finally:
        app.close()
    try:
        with serving(tmp_path, database_url, env, worker=False) as running:
            yield running, failed
    finally:
        receiver.stop()


def test_staff_retry_a_refused_event_from_a_phone(
    browser: Browser, clinic: tuple[Server, int], screenshots: Path
) -> None:
    server, failed = clinic
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US", is_mobile=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/login")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name=re.compile("^Today"))).to_be_visible()
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Events").click()
        expect(page.get_by_role("heading", name="Events")).to_be_visible()
        expect(page.locator("table.events")).to_contain_text("appointment.change_requested")
        page.get_by_label("Delivery").select_option("failed")
        page.get_by_role("button", name="Filter").click()
        row = page.locator(f"#event-{failed}")
        expect(row).to_contain_text("appointment.confirmed")
        expect(row).to_contain_text("HTTP 410")
        wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert wide[0] <= wide[1], f"the Events page is {wide[0]} px wide on a {wide[1]} px screen"
        page.screenshot(path=str(screenshots / "phone-events.png"), full_page=True)
        row.get_by_role("button", name="Retry").click()
        expect(page.get_by_role("status")).to_contain_text(f"Event {failed} will be sent again.")
        expect(page.get_by_text("No events in that state.")).to_be_visible()
        page.get_by_label("Delivery").select_option("pending")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator(f"#event-{failed}")).to_contain_text("pending")
    finally:
        context.close()
