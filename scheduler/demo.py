"""A demo patient for a fresh install: texts start going out (to the console) within a minute."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from scheduler.config import Settings
from scheduler.domain.timeutil import to_local, zone
from scheduler.services import EnrolRequest
from scheduler.services.results import PatientCourse

if TYPE_CHECKING:
    from scheduler.app import App

DEMO_NAME = "Demo Patient"
DEMO_PHONE = "+12015550123"
# Zones around the world: at any hour one of them is inside the send window.
_ZONES = (
    "America/New_York", "America/Chicago", "America/Los_Angeles", "Pacific/Honolulu",
    "Pacific/Auckland", "Australia/Sydney", "Asia/Tokyo", "Asia/Bangkok", "Asia/Kolkata",
    "Asia/Dubai", "Europe/Berlin", "Europe/London", "America/Sao_Paulo",
)  # fmt: skip


def demo_request(settings: Settings, now: datetime) -> EnrolRequest:
    """A patient whose first session is in 23 hours, in a zone where it is daytime now, so the
    welcome and the preparation text are due at once."""
    window = settings.send_window
    for name in (settings.clinic_timezone, *_ZONES):
        local = to_local(now, zone(name))
        if window.contains(local) and window.contains(local + timedelta(hours=1)):
            break
    start = local + timedelta(hours=23, minutes=15 - local.minute % 15)
    return EnrolRequest(
        name=DEMO_NAME,
        phone=DEMO_PHONE,
        timezone=name,
        protocol="iv-6x-mwf",
        first=f"{start:%Y-%m-%d %H:%M}",
        consent="demo",
    )


def ensure_demo(app: App) -> PatientCourse:
    """The first patient, or a demo patient enrolled now if there is none."""
    clinic = app.clinic("demo")
    existing = clinic.patients()
    if existing:
        return clinic.show(existing[0].id)
    return clinic.enrol(demo_request(app.settings, app.clock.now()))
