"""Use cases staff (and patients' replies) trigger: enrol, re-plan, record outcomes, read views."""

from __future__ import annotations

from scheduler.services.clinic import Clinic, EnrolRequest, ImportReport, RowError

__all__ = ["Clinic", "EnrolRequest", "ImportReport", "RowError"]
