"""Patients as the staff pages show them: the searchable list, one patient's page, the enrol preview
and the log of texts and replies."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from scheduler.domain.enrolment import EnrolRequest
from scheduler.domain.states import (
    UPCOMING,
    AppointmentStatus,
    Attention,
    HoldReason,
    Language,
    PatientStatus,
)
from scheduler.domain.timeutil import zone
from scheduler.errors import InvalidInput, NotFound
from scheduler.services.base import Service, get_patient
from scheduler.services.course_preview import PreviewText, preview_course
from scheduler.services.enrolment import Enrolling
from scheduler.services.records import Paging, matching_search, matching_status, patient_filter
from scheduler.services.results import PatientDetail, patient_record
from scheduler.services.timeline import (
    LOG_SHOWS,
    MESSAGE_STATUSES,
    REPLY_INTENTS,
    LogEntry,
    SessionEntry,
    TextEntry,
    message_log,
    session_label,
    texts_by_session,
)
from scheduler.store.models import Appointment, AuditEntry, Patient
from scheduler.store.uow import UnitOfWork

LIST_LIMIT = 200


@dataclass(frozen=True)
class PatientRow:
    id: int
    name: str
    phone: str
    external_id: str | None
    protocol: str
    status: PatientStatus
    opted_out: bool
    attention: Attention | None
    next_session: datetime | None  # in the patient's zone


@dataclass(frozen=True)
class PatientList:
    """One page of a patient search: its rows, how many match in all, and where the page starts."""

    rows: list[PatientRow]
    total: int
    offset: int
    limit: int

    @property
    def first(self) -> int:
        return self.offset + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.rows)

    @property
    def previous_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset > 0 else None

    @property
    def next_offset(self) -> int | None:
        return self.last if self.last < self.total else None


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime  # in the patient's zone
    actor: str
    action: str
    session: str | None


@dataclass(frozen=True)
class PatientPage:
    id: int
    name: str
    phone: str
    timezone: str
    now: datetime  # in the patient's zone
    protocol: str
    protocol_name: str
    status: PatientStatus
    interval_days: int | None
    interval_range: tuple[int, int] | None
    consent: str
    language: Language
    external_id: str | None
    opted_out: bool
    phone_invalid: bool
    hold_reason: HoldReason | None
    welcome: list[TextEntry]
    sessions: list[SessionEntry]
    log: list[LogEntry]
    history: list[HistoryEntry]

    @property
    def can_pause(self) -> bool:
        return self.status == PatientStatus.ACTIVE

    @property
    def can_resume(self) -> bool:
        return self.status == PatientStatus.PAUSED or (
            self.status == PatientStatus.ACTIVE and self.hold_reason is not None
        )

    @property
    def can_discharge(self) -> bool:
        return self.status in (PatientStatus.ACTIVE, PatientStatus.PAUSED)


@dataclass(frozen=True)
class EnrolPreview:
    name: str
    phone: str
    timezone: str
    protocol: str
    protocol_name: str
    interval_days: int | None
    consent: str
    language: Language
    welcome: list[TextEntry]
    sessions: list[SessionEntry] = field(default_factory=list)
    messages: list[PreviewText] = field(default_factory=list)  # as the patient will get them
    warnings: list[str] = field(default_factory=list)


class PatientPages(Service):
    def find_patients(
        self, query: str = "", status: str | None = None, paging: Paging | None = None
    ) -> PatientList:
        """A page of the patients a search finds (name, record number or phone number, see
        `records.matching_search`), by name, with how many match in all."""
        paging = paging or Paging()
        now = self.clock.now()
        region = self.settings.default_phone_region
        where = (matching_search(query, region), matching_status(patient_filter(status)))
        statement = (
            select(Patient)
            .options(selectinload(Patient.appointments))
            .where(*where)
            .order_by(Patient.name, Patient.id)
            .limit(paging.limit)
            .offset(paging.offset)
        )
        with UnitOfWork(self.database) as uow:
            total = uow.db.scalar(select(func.count()).select_from(Patient).where(*where)) or 0
            rows = []
            for patient in uow.db.scalars(statement):
                tz = zone(patient.timezone)
                upcoming = [
                    a.starts_at for a in patient.appointments if a.status in UPCOMING and a.starts_at > now
                ]
                next_session = min(upcoming, default=None)
                rows.append(
                    PatientRow(
                        id=patient.id,
                        name=patient.name,
                        phone=patient.phone,
                        external_id=patient.external_id,
                        protocol=patient.protocol,
                        status=patient.status,
                        opted_out=patient.opted_out_at is not None,
                        attention=patient.attention,
                        next_session=None if next_session is None else next_session.astimezone(tz),
                    )
                )
            return PatientList(rows, total, paging.offset, paging.limit)

    def patient_page(self, patient_id: int) -> PatientPage:
        now = self.clock.now()
        with UnitOfWork(self.database) as uow:
            db = uow.db
            patient = get_patient(db, patient_id)
            tz = zone(patient.timezone)
            record = patient_record(db, patient)
            texts = texts_by_session(record.reminders, tz, record.messages)
            in_care = patient.status != PatientStatus.DISCHARGED
            sessions = [
                SessionEntry(
                    id=a.id,
                    label=session_label(a.kind, a.number),
                    when=a.starts_at.astimezone(tz),
                    status=a.status,
                    status_reason=a.status_reason,
                    confirmed=a.confirmed_at is not None,
                    change_requested=a.change_requested_at is not None,
                    can_reschedule=in_care and (a.status in UPCOMING or a.status == AppointmentStatus.MISSED),
                    can_cancel=a.status in UPCOMING,
                    can_record_outcome=in_care
                    and a.status != AppointmentStatus.CANCELLED
                    and a.starts_at <= now,
                    texts=texts.get(a.id, []),
                    can_restore=in_care and a.status == AppointmentStatus.CANCELLED and a.starts_at > now,
                )
                for a in patient.appointments
            ]
            protocol = self.protocols.get(patient.protocol)
            history = db.scalars(
                select(AuditEntry)
                .where(AuditEntry.patient_id == patient.id)
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(30)
            )
            labels = {a.id: session_label(a.kind, a.number) for a in patient.appointments}
            return PatientPage(
                id=patient.id,
                name=patient.name,
                phone=patient.phone,
                timezone=patient.timezone,
                now=now.astimezone(tz),
                protocol=patient.protocol,
                protocol_name=protocol.name if protocol else patient.protocol,
                status=patient.status,
                interval_days=patient.touch_up_interval_days,
                interval_range=(
                    (protocol.touch_up_min_days, protocol.touch_up_max_days)
                    if protocol is not None and protocol.touch_up_days is not None
                    else None
                ),
                consent=patient.consent_source,
                language=patient.language,
                external_id=patient.external_id,
                opted_out=patient.opted_out_at is not None,
                phone_invalid=patient.phone_invalid_at is not None,
                hold_reason=patient.hold_reason,
                welcome=texts.get(None, []),
                sessions=sessions,
                log=message_log(db, Patient.id == patient.id, None, None, None),
                history=[
                    HistoryEntry(
                        e.at.astimezone(tz),
                        e.actor,
                        e.action,
                        labels.get(e.appointment_id) if e.appointment_id else None,
                    )
                    for e in history
                ],
            )

    def appointment_patient(self, appointment_id: int) -> int:
        """The id of the patient a session belongs to; NotFound if there is no such session."""
        with UnitOfWork(self.database) as uow:
            patient_id = uow.db.scalar(select(Appointment.patient_id).where(Appointment.id == appointment_id))
        if patient_id is None:
            raise NotFound(f"no session with id {appointment_id}")
        return patient_id

    def message_log(self, show: str = "all", status: str = "", query: str = "") -> list[LogEntry]:
        """Texts sent and replies received, newest first: `show` is all, texts or replies;
        `status` a message status or a reply intent; `query` a name or the number's last digits."""
        if show not in LOG_SHOWS:
            raise InvalidInput("show must be all, texts or replies", field="show")
        if status and status not in (*MESSAGE_STATUSES, *REPLY_INTENTS):
            raise InvalidInput(f"unknown status {status[:30]!r}", field="status")
        found = matching_search(query, self.settings.default_phone_region) if query.strip() else None
        with UnitOfWork(self.database) as uow:
            return message_log(uow.db, found, show, status or None, LIST_LIMIT)

    def preview_enrolment(self, request: EnrolRequest) -> EnrolPreview:
        """The sessions and texts enrolling `request` would plan; nothing is written. Raises
        InvalidInput, naming every field with a problem, where `enrol` would refuse."""
        enrolling = Enrolling(self.settings, self.protocols, self.database, self.clock, self.actor)
        planned = enrolling.preview(request)
        p = planned.patient
        course = preview_course(
            self.settings,
            self.protocol(p.protocol),
            request.first,
            p.timezone,
            self.clock.now(),
            p.touch_up_interval_days,
            language=p.language,
        )
        return replace(self.enrol_preview(planned), messages=course.texts, warnings=planned.warnings)

    def enrol_preview(self, planned: PatientDetail) -> EnrolPreview:
        p = planned.patient
        tz = zone(p.timezone)
        texts = texts_by_session(planned.reminders, tz)
        sessions = [
            SessionEntry(
                id=None,
                label=session_label(a.kind, a.number),
                when=a.local_start,
                status=a.status,
                status_reason=None,
                confirmed=False,
                change_requested=False,
                can_reschedule=False,
                can_cancel=False,
                can_record_outcome=False,
                texts=texts.get(a.id, []),
            )
            for a in planned.appointments
        ]
        protocol = self.protocol(p.protocol)
        return EnrolPreview(
            name=p.name,
            phone=p.phone,
            timezone=p.timezone,
            protocol=protocol.id,
            protocol_name=protocol.name,
            interval_days=p.touch_up_interval_days,
            consent=p.consent,
            language=p.language,
            welcome=texts.get(None, []),
            sessions=sessions,
        )
