"""An urgent reply, end to end: `reminders serve` (with its worker) takes a webhook signed as Twilio
signs it, answers at once with the emergency number and crisis line, texts the on-call person
through the real twilio-python, and Today shows the reply first, marked urgent, in Chromium."""

from __future__ import annotations

import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from twilio.request_validator import RequestValidator

from scheduler.store.db import upgrade
from tests.support.browser import EMAIL, PASSWORD, seed
from tests.support.fake_twilio import FakeTwilio
from tests.support.server import Server, free_port, serving

pytestmark = pytest.mark.browser

ON_CALL = "+12015550177"
BO = "+12015550456"  # the seeded patient


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def alerting_server(tmp_path: Path, twilio: FakeTwilio) -> Iterator[tuple[Server, str]]:
    database_url = f"sqlite:///{tmp_path / 'reminders.db'}"
    upgrade(database_url)
    seed(database_url)
    env = {
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_FROM_NUMBER": "+12015550100",
        "TWILIO_API_BASE_URL": twilio.base_url,
        "STAFF_ALERT_PHONE": ON_CALL,
        "DISPATCH_INTERVAL_SECONDS": "0.5",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    # The service checks Twilio's signatures against its public URL, which is where it listens.
    port = free_port()
    env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    with serving(tmp_path, database_url, env, worker=True, port=port) as running:
        yield running, twilio.auth_token


def inbound(server: Server, token: str, body: str, sid: str) -> str:
    url = f"{server.url}/twilio/inbound"
    form = {"From": BO, "To": "+12015550100", "Body": body, "MessageSid": sid}
    signature = RequestValidator(token).compute_signature(url, form)
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(form).encode(), headers={"X-Twilio-Signature": signature}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: str = response.read().decode()
        return answer


def test_an_urgent_reply_is_answered_alerts_on_call_and_tops_today(
    page: Page, alerting_server: tuple[Server, str], twilio: FakeTwilio, screenshots: Path
) -> None:
    server, token = alerting_server
    answer = inbound(server, token, "I feel really awful and dizzy", "SMurgent1")
    assert "If you are in danger, call 911 now." in answer
    assert "call or text 988" in answer

    deadline = time.monotonic() + 20
    while not any(m["to"] == ON_CALL for m in twilio.messages) and time.monotonic() < deadline:
        time.sleep(0.2)
    alerts = [m["body"] for m in twilio.messages if m["to"] == ON_CALL]
    assert alerts == ["Oak St Clinic: Urgent reply from patient 1: see Today."]

    page.goto(f"{server.url}/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    first = page.locator("main section.card").first  # above everything, the day's sessions included
    expect(first).to_have_id("urgent")
    expect(first).to_contain_text("I feel really awful and dizzy")
    expect(first.locator(".status.urgent")).to_have_text("urgent")
    expect(first).to_contain_text("the on-call person was alerted")
    expect(page.locator("#replies")).not_to_contain_text("dizzy")
    page.screenshot(path=str(screenshots / "today-urgent.png"), full_page=True)

    log = server.log.read_text()
    assert "dizzy" not in log  # the reply's words never reach the log
    assert "2015550456" not in log
