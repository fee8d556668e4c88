"""What the staff pages show, as one object: the Today list and the patient pages.

Changes to a course go through `Clinic`, so they re-plan exactly as the CLI's do.
"""

from __future__ import annotations

from scheduler.services.patient_pages import PatientPages
from scheduler.services.today import TodayList


class StaffDesk(TodayList, PatientPages):
    """The staff pages' reads and small actions, as the signed-in user (`actor`)."""
