"""Use cases staff, patients' replies and the provider trigger, each one transaction.

`Clinic` holds every operation on patients and sessions; `StaffDesk` what the staff pages read;
`Replies` and `DeliveryReports` what arrives by webhook. They answer with typed results
(`scheduler.services.results`), never with JSON.
"""

from __future__ import annotations

from scheduler.domain.enrolment import EnrolRequest
from scheduler.services.clinic import Clinic
from scheduler.services.enrolment import ImportReport, RowError

__all__ = ["Clinic", "EnrolRequest", "ImportReport", "RowError"]
