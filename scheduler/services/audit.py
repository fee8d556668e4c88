"""The audit log: every change to a patient, by staff, the API, a patient's reply or the provider.

Every entry is built here, so they all have the same shape whoever made the change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy.orm import Session as DbSession

from scheduler.store.models import AuditEntry

# Who the log names when no person made the change.
PATIENT_SMS = "patient-sms"  # a patient's reply (STOP, C, R ...)
PROVIDER = "provider"  # the SMS provider's answer or delivery report (21610, 30005 ...)


class AuditRow(TypedDict):
    at: datetime
    actor: str
    action: str
    patient_id: int | None
    appointment_id: int | None
    details: dict[str, Any]


def entry(
    at: datetime,
    actor: str,
    action: str,
    patient_id: int | None,
    appointment_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditRow:
    """One audit row as plain values (for bulk inserts)."""
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "patient_id": patient_id,
        "appointment_id": appointment_id,
        "details": details or {},
    }


def audit(
    db: DbSession,
    at: datetime,
    actor: str,
    action: str,
    patient_id: int | None,
    appointment_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add one entry to the log, in the caller's transaction."""
    db.add(AuditEntry(**entry(at, actor, action, patient_id, appointment_id, details)))
