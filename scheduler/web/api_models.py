"""Request and response bodies of the JSON API, documented for its OpenAPI document.

Responses have exactly the shapes the CLI prints with `--json` (`scheduler.services.views`):
instants are ISO 8601 strings in UTC (`...+00:00`) and `local_start` carries the patient's offset.
Request bodies refuse fields they do not know, so a misspelt field is an error, not ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from scheduler.domain.protocols import DEFAULT_PROTOCOL

PatientFilter = Literal["active", "paused", "discharged", "opted-out", "attention"]
LOCAL_TIME = 'a wall-clock time in the patient\'s time zone, written "YYYY-MM-DD HH:MM"'


def _utf8(value: str) -> str:
    # JSON can carry an unpaired surrogate (`"\\ud800"`), which no database column can store.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (it has an unpaired surrogate)") from None
    return value


Text = Annotated[str, AfterValidator(_utf8)]


def _instant(description: str) -> Any:
    """A field holding an ISO 8601 instant as the CLI prints it (a string, so `+00:00` stays)."""
    return Field(
        description=description,
        json_schema_extra={"format": "date-time"},
        examples=["2026-03-09T15:00:00+00:00"],
    )


# -- requests -----------------------------------------------------------------------------------


class EnrolBody(BaseModel):
    """A new patient, with the fields `reminders enrol` takes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Ana Lima",
                    "phone": "(201) 555-0123",
                    "timezone": "America/New_York",
                    "protocol": "iv-6x-mwf",
                    "first": "2026-03-09 10:00",
                    "consent": "intake-form",
                }
            ]
        },
    )

    name: Text = Field(description="The patient's name as staff should see it (1 to 100 characters).")
    phone: Text = Field(
        description="Mobile number: E.164 (`+12015550123`), or national for the clinic's "
        "DEFAULT_PHONE_REGION. It must be able to take texts.",
    )
    timezone: Text = Field(description="The patient's IANA time zone, e.g. `America/New_York`.")
    protocol: Text = Field(
        default=DEFAULT_PROTOCOL,
        description="Protocol id (see `reminders protocols`), e.g. `iv-6x-mwf`, `esk-trd`.",
    )
    first: Text = Field(description=f"The first session: {LOCAL_TIME}; in the future, within a year.")
    consent: Text = Field(description="How the patient agreed to texts, e.g. `intake-form`.")
    interval_days: int | None = Field(
        default=None,
        description="Touch-up interval in days, within the protocol's limits (default: the protocol's).",
    )


class RescheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"when": "2026-03-12 15:30"}]})

    when: Text = Field(description=f"The new start: {LOCAL_TIME}; in the future.")


class OutcomeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"outcome": "attended"}]})

    outcome: Literal["attended", "missed"] = Field(
        description="Whether the patient came. `missed` puts the patient on hold until staff act."
    )


class IntervalBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"days": 35}]})

    days: int = Field(description="The touch-up interval in days, within the protocol's limits.")


class PhoneBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"phone": "(201) 555-0187"}]})

    phone: str = Field(description="The new mobile number; national numbers use DEFAULT_PHONE_REGION.")


# -- responses ----------------------------------------------------------------------------------


class PatientOut(BaseModel):
    id: int
    name: str
    phone: str = Field(description="E.164", examples=["+12015550123"])
    timezone: str = Field(examples=["America/New_York"])
    protocol: str = Field(examples=["iv-6x-mwf"])
    status: str = Field(description="`active`, `paused` or `discharged`")
    touch_up_interval_days: int | None = Field(description="None for a protocol without touch-ups.")
    consent: str = Field(description="How the patient agreed to texts.")
    opted_out: bool = Field(description="The patient replied STOP; no texts go out.")
    phone_invalid: bool = Field(description="The carrier reported that the number cannot take texts.")
    attention: str | None = Field(
        description="Why staff need to act (`missed-session`, `phone-invalid`, ...), or null."
    )


class AppointmentOut(BaseModel):
    id: int
    kind: str = Field(description="`induction` or `touch-up`")
    number: int = Field(description="1, 2, ... within its kind")
    starts_at: str = _instant("The start, in UTC.")
    local_start: str = Field(
        description="The start in the patient's time zone, with its offset.",
        json_schema_extra={"format": "date-time"},
        examples=["2026-03-09T10:00:00-05:00"],
    )
    status: str = Field(description="`scheduled`, `confirmed`, `attended`, `missed` or `cancelled`")


class ReminderOut(BaseModel):
    id: int
    appointment_id: int | None = Field(description="null for texts about no one session (the welcome).")
    kind: str = Field(description="`welcome`, `confirm`, `prep`, `day-of` or `check-in`")
    due_at: str = _instant("When it is planned to go out, in UTC.")
    deadline: str | None = _instant("After this it is too late to send, in UTC; or null.")
    status: str = Field(
        description="`pending`, `sending`, `unknown`, `sent`, `delivered`, `failed`, `expired`, "
        "`cancelled` or `skipped`"
    )
    reason: str | None = Field(description="Why it was cancelled, skipped or failed, or null.")
    attempts: int


class MessageOut(BaseModel):
    id: int
    reminder_id: int | None
    to: str = Field(description="E.164")
    body: str
    status: str = Field(description="The provider's delivery status, e.g. `sent`, `delivered`, `failed`.")
    provider_sid: str | None
    error_code: int | None = Field(description="The provider's error code, or null.")
    created_at: str = _instant("When it was handed to the provider, in UTC.")


class PatientDetail(BaseModel):
    """A patient with every session and planned text (what `enrol --json` prints)."""

    patient: PatientOut
    appointments: list[AppointmentOut]
    reminders: list[ReminderOut]


class PatientRecord(PatientDetail):
    """A patient with sessions, planned texts and the messages sent (what `show --json` prints)."""

    messages: list[MessageOut]


# -- errors -------------------------------------------------------------------------------------


class FieldError(BaseModel):
    loc: list[str | int] = Field(
        description='Where the problem is: `["body", field]`, `["path", parameter]` or '
        '`["query", parameter]`.',
        examples=[["body", "phone"]],
    )
    msg: str = Field(examples=["a patient in care already has this phone number"])
    type: str = Field(description="`not_found`, `conflict` or `value_error` (and pydantic's types).")


class ErrorList(BaseModel):
    """The shape of every 404, 409 and 422 answer (the same as FastAPI's validation errors)."""

    detail: list[FieldError]


class ErrorMessage(BaseModel):
    detail: str = Field(examples=["a valid API token is required (Authorization: Bearer <token>)"])
