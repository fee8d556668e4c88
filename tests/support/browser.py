"""What the browser tests share: the server they drive, its staff account, and the clinic's day."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from scheduler.app import build
from scheduler.clock import SystemClock
from scheduler.domain.timeutil import to_local, zone
from scheduler.services import EnrolRequest
from scheduler.services.accounts import Accounts
from scheduler.services.replies import Replies
from tests.support import make_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
EMAIL = "front.desk@example.org"
PASSWORD = "a long enough password"
ZONE = "America/New_York"  # the clinic's default zone, and the patients'


def clinic_today() -> datetime:
    """Midnight today in the clinic's zone, as a naive local time."""
    local = to_local(SystemClock().now(), zone(ZONE))
    return datetime.combine(local.date(), datetime.min.time())


def seed(database_url: str) -> None:
    """A staff account, and a patient whose session is tomorrow and who asked to change it and
    sent a question, so Today has something on it."""
    app = build(make_settings(database_url))
    try:
        Accounts(app.database, app.clock).add_user(EMAIL, PASSWORD)
        tomorrow = clinic_today() + timedelta(days=1, hours=10)
        bo = app.clinic("test:seed").enrol(
            EnrolRequest(
                "Bo Chen", "(201) 555-0456", ZONE, "iv-6x-2w", f"{tomorrow:%Y-%m-%d %H:%M}", "verbal"
            )
        )
        replies = Replies(app.settings, app.protocols, app.database, app.clock)
        replies.receive(bo.patient.phone, "R", "SMseedchange")
        replies.receive(bo.patient.phone, "Is there parking near the clinic?", "SMseedother")
    finally:
        app.close()
