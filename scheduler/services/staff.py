"""What the staff pages show, as one object: the Today list, the week, and the patient pages.

Changes to a course go through `Clinic`, so they re-plan exactly as the CLI's do.
"""

from __future__ import annotations

from scheduler.services.patient_pages import PatientPages
from scheduler.services.today import TodayList
from scheduler.services.week import WeekView


class StaffDesk(TodayList, PatientPages, WeekView):
    """The staff pages' reads and small actions, as the signed-in user (`actor`)."""
