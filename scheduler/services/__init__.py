"""Use cases staff, patients' replies and the provider trigger, each one transaction.

`Clinic` holds every operation on patients and sessions; `StaffDesk` what the staff pages read;
`Replies` and `DeliveryReports` what arrives by webhook. They answer with typed results
(`scheduler.services.results`), never with JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scheduler.domain.enrolment import EnrolRequest

if TYPE_CHECKING:
    from scheduler.services.clinic import Clinic
    from scheduler.services.enrolment import ImportReport, RowError

__all__ = ["Clinic", "EnrolRequest", "ImportReport", "RowError"]


def __getattr__(name: str) -> Any:
    """`Clinic` and the import's results, imported when first asked for: a command that opens no
    database (`reminders preview`) imports a service module here without SQLAlchemy."""
    if name == "Clinic":
        from scheduler.services.clinic import Clinic

        return Clinic
    if name in ("ImportReport", "RowError"):
        from scheduler.services import enrolment

        return getattr(enrolment, name)
    raise AttributeError(name)
