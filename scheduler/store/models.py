"""The tables: patients, appointments, reminders (the outbox), messages, replies and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql import ColumnElement

from scheduler.domain.states import (
    AppointmentReason,
    AppointmentStatus,
    Attention,
    HoldReason,
    Language,
    NoticeKind,
    PatientStatus,
    ReminderKind,
    ReminderStatus,
    ReplyIntent,
    SessionKind,
)
from scheduler.store.types import EnumText, UTCDateTime


def _partial(name: str, columns: str | tuple[str, ...], where: str, unique: bool = False) -> Index:
    """An index of only the rows `where` holds, on SQLite and PostgreSQL alike."""
    named = (columns,) if isinstance(columns, str) else columns
    return Index(name, *named, unique=unique, sqlite_where=text(where), postgresql_where=text(where))


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    protocol: Mapped[str] = mapped_column(String(40))
    status: Mapped[PatientStatus] = mapped_column(EnumText(PatientStatus, 16), default=PatientStatus.ACTIVE)
    touch_up_interval_days: Mapped[int | None] = mapped_column(Integer)
    consent_source: Mapped[str] = mapped_column(String(200))
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    phone_invalid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Why automatic planning is on hold until staff act (a missed session, say), or None.
    hold_reason: Mapped[HoldReason | None] = mapped_column(EnumText(HoldReason, 40))
    language: Mapped[Language] = mapped_column(
        EnumText(Language, 8), default=Language.EN, server_default=Language.EN.value
    )
    # The clinic's own record number (from its EHR), unique where given.
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    appointments: Mapped[list[Appointment]] = relationship(
        back_populates="patient", order_by="Appointment.starts_at"
    )

    @hybrid_property
    def needs_attention(self) -> bool:
        """Staff need to act: a number that cannot take texts, or planning on hold. Never for a
        discharged patient. The same rule in SQL below, for filtering lists."""
        in_care = self.status != PatientStatus.DISCHARGED
        return in_care and (self.phone_invalid_at is not None or self.hold_reason is not None)

    @needs_attention.inplace.expression
    @classmethod
    def _needs_attention(cls) -> ColumnElement[bool]:
        return (cls.status != PatientStatus.DISCHARGED) & (
            cls.phone_invalid_at.is_not(None) | cls.hold_reason.is_not(None)
        )

    @property
    def attention(self) -> Attention | None:
        """Why staff need to act, or None."""
        if not self.needs_attention:
            return None
        if self.phone_invalid_at is not None:
            return Attention.PHONE_INVALID
        assert self.hold_reason is not None
        return Attention(self.hold_reason.value)

    __table_args__ = (
        Index("ix_patients_updated_at", "updated_at"),  # what an EHR asks for: changed since
        # One patient in care per number: inbound replies are matched by it.
        _partial("uq_patients_phone_in_care", "phone", "status != 'discharged'", unique=True),
        Index("ix_patients_status", "status"),
        # The patient list pages through patients by name.
        Index("ix_patients_name_id", "name", "id"),
        # Today's opt-outs and flagged numbers, and the patients staff must act on: a few among many.
        _partial("ix_patients_opted_out_at", "opted_out_at", "opted_out_at IS NOT NULL"),
        _partial("ix_patients_phone_invalid_at", "phone_invalid_at", "phone_invalid_at IS NOT NULL"),
        _partial("ix_patients_hold_reason", "hold_reason", "hold_reason IS NOT NULL"),
        # Searches by name, number and record number use indexes the migrations own (`SEARCH_INDEXES`).
    )


class Appointment(Base):
    # Triggers on this table and on `reminders` keep `confirm_requests_sent` and the tallies
    # (migrations 0014, 0015): a migration that copies either table on SQLite (batch_alter_table)
    # must create them again.
    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    kind: Mapped[SessionKind] = mapped_column(EnumText(SessionKind, 16))
    number: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[AppointmentStatus] = mapped_column(
        EnumText(AppointmentStatus, 16), default=AppointmentStatus.SCHEDULED
    )
    status_reason: Mapped[AppointmentReason | None] = mapped_column(EnumText(AppointmentReason, 40))
    # Bumped on every reschedule: reminders are keyed by it, so a new time gets new texts.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    change_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A change staff made that the patient is to be told of (moved, added, cancelled), and when.
    notice: Mapped[NoticeKind | None] = mapped_column(EnumText(NoticeKind, 16))
    notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How many of its confirm requests are sent or delivered: kept by triggers on `reminders`
    # (migration 0014), whatever writes the texts, for the weekly reports (`SessionTally`).
    # Never written here.
    confirm_requests_sent: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    patient: Mapped[Patient] = relationship(back_populates="appointments")

    __table_args__ = (
        UniqueConstraint("patient_id", "kind", "number"),
        Index("ix_appointments_starts_at", "starts_at"),
        # Sessions by status over a time range (Today's missed sessions, newest first).
        Index("ix_appointments_status_starts_at", "status", "starts_at"),
        # Sessions with no outcome yet, by time: those past their start are few (`store.partial`).
        _partial("ix_appointments_upcoming", "starts_at", "status IN ('scheduled', 'confirmed')"),
        Index("ix_appointments_updated_at", "updated_at"),
        # Today's change requests: the few sessions a patient asked to move.
        _partial(
            "ix_appointments_change_requested_at", "change_requested_at", "change_requested_at IS NOT NULL"
        ),
    )


class SessionTally(Base):
    """How many sessions start in one quarter hour (`slot`: epoch seconds // 900) with one status,
    confirm request (`asked`) and confirmation: the weekly reports read these, not the sessions.
    Triggers on `appointments` add a row of +1 or -1 for each change (migration 0015); the worker
    folds them (`store.tallies`). Never written here."""

    __tablename__ = "session_tallies"

    id: Mapped[int] = mapped_column(primary_key=True)
    slot: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    asked: Mapped[bool] = mapped_column(Boolean)
    confirmed: Mapped[bool] = mapped_column(Boolean)
    sessions: Mapped[int] = mapped_column(Integer)
    folded: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        Index("ix_session_tallies_slot", "slot", "status", "asked", "confirmed", "sessions"),
        _partial("ix_session_tallies_unfolded", "slot", "NOT folded"),
    )


class Reminder(Base):
    """One planned text; a row long before it is due, claimed by a worker when it is."""

    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    plan_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[ReminderKind] = mapped_column(EnumText(ReminderKind, 16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[ReminderStatus] = mapped_column(
        EnumText(ReminderStatus, 16), default=ReminderStatus.PENDING
    )
    # A `Reason` for skipped, cancelled, expired and failed texts (kept as text: labels may be retired).
    reason: Mapped[str | None] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    provider_sid: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The latest message that carried this text (one message can carry several texts of a day).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", use_alter=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("patient_id", "plan_key"),
        Index("ix_reminders_message_id", "message_id"),
        # The claim query reads only rows that may be sent; the partial index keeps it small.
        _partial("ix_reminders_due", "due_at", "status IN ('pending', 'sending')"),
        Index("ix_reminders_appointment_id", "appointment_id"),
        # Texts in trouble for Today, newest first (`store.partial.TROUBLED_TEXT`).
        _partial("ix_reminders_in_trouble", "due_at", "status IN ('failed', 'expired', 'unknown')"),
        # The reconciler looks only at sends whose outcome is unknown.
        _partial("ix_reminders_unknown", "updated_at", "status = 'unknown'"),
        # The weekly reports: the texts that failed or expired, by when they were due.
        _partial("ix_reminders_troubled", ("due_at", "status"), "status IN ('failed', 'expired')"),
    )


class Message(Base):
    """One SMS handed to the provider (or printed by the console backend): one row per attempt.

    `reminder_id` is the first text it carries; every text it carries points back at it with
    `Reminder.message_id`.
    """

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminders.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    to: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    # A `MessageStatus`: kept as text, since the provider may report states added after this code.
    status: Mapped[str] = mapped_column(String(16))
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_messages_reminder_id", "reminder_id"),
        Index("ix_messages_patient_id", "patient_id"),
        # The log newest first, in the order it is shown (texts of one batch share their instant).
        Index("ix_messages_created_at", "created_at", "id"),
    )


class Reply(Base):
    """An inbound SMS from a patient (or from an unknown number, kept without the patient)."""

    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    from_number: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    intent: Mapped[ReplyIntent] = mapped_column(EnumText(ReplyIntent, 16))
    # It reads as a safety concern: answered at once, shown first on Today, the on-call person alerted.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # What the service answered, if anything (sent back in the webhook's TwiML).
    auto_reply: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_replies_patient_id", "patient_id"),
        Index("ix_replies_received_at", "received_at", "id"),  # the messages page, newest first
    )


class Worker(Base):
    """A worker process: alive while its heartbeat (`alive_at`, written by a thread of its own) is
    recent, and when it last finished a dispatch tick. Two facts: a worker busy behind a slow
    provider is alive without having ticked for a while."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    alive_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_tick_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None until its first tick
    sent_total: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    """Who changed what, and when: every change staff (or a patient's reply) make."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_audit_log_patient_id", "patient_id"),
        Index("ix_audit_log_action", "action", "at"),  # opt-outs a week, for the reports
    )


class Event(Base):
    """Something that happened, to be POSTed to a webhook: a row long before it is delivered,
    claimed and retried by the workers like texts are."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # e.g. reply.urgent
    target: Mapped[str] = mapped_column(String(16))  # which webhook: staff-alert
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    payload: Mapped[dict[str, object]] = mapped_column(JSON)
    # pending | sending | delivered | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (_partial("ix_events_due", "due_at", "status IN ('pending', 'sending')"),)


class User(Base):
    """A staff account for the admin web app."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # A password someone else chose (a generated one, an admin's reset): replaced at next sign-in.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StaffSession(Base):
    """A signed-in browser: the cookie holds a random token, the database a hash of it, so a
    session ends for good when it is signed out, its password changes or its account is disabled."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the absolute end, however active
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_staff_sessions_user_id", "user_id"),)


class SignInThrottle(Base):
    """Wrong passwords counted per account and address, and per address: shared by every web
    process, so sign-in attempts are slowed wherever they land."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiToken(Base):
    """A bearer token for the JSON API; only a hash of the token is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class HandledItem(Base):
    """An item on the staff's Today list that someone has dealt with, e.g. "reminder:12"."""

    __tablename__ = "handled_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    item: Mapped[str] = mapped_column(String(60), unique=True)
    handled_by: Mapped[str] = mapped_column(String(120))
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IdempotencyKey(Base):
    """A POST made with an `Idempotency-Key`: what was asked (a hash) and the answer given, so that
    a retry of the same request gets the same answer instead of acting twice."""

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Whose key: a hash of the API token that sent it, so two clients' keys never meet.
    client: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    # A hash of the method, path and body; the same key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # Null while the first request is still being answered.
    status_code: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("client", "key", name="uq_idempotency_keys_client_key"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )
