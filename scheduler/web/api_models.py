"""Request bodies and error answers of the JSON API, documented for its OpenAPI document.

Responses are the services' own typed results (`scheduler.services.results`), the shapes the CLI
prints with `--json`. Request bodies refuse fields they do not know, so a misspelt field is an
error, not ignored.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr, StringConstraints

from scheduler.domain.protocols import DEFAULT_PROTOCOL
from scheduler.domain.states import Language

LOCAL_TIME = (
    'a wall-clock time in the patient\'s time zone, written "YYYY-MM-DD HH:MM", or an ISO 8601 '
    "instant with its offset (`2026-03-09T10:00:00-04:00`), read in the patient's zone"
)
# Either form of a session's start; the service reads it and names what is wrong.
WHEN_PATTERN = r"^\s*\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?\s*$"


def _utf8(value: str) -> str:
    # JSON can carry an unpaired surrogate (`"\\ud800"`), which no database column can store.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (it has an unpaired surrogate)") from None
    return value


Text = Annotated[StrictStr, AfterValidator(_utf8)]
When = Annotated[
    StrictStr,
    StringConstraints(pattern=WHEN_PATTERN),
    AfterValidator(_utf8),
    Field(examples=["2026-03-09 10:00", "2026-03-09T10:00:00-04:00"]),
]


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
    first: When = Field(description=f"The first session: {LOCAL_TIME}; in the future, within a year.")
    consent: Text = Field(description="How the patient agreed to texts, e.g. `intake-form`.")
    interval_days: StrictInt | None = Field(
        default=None,
        description="Touch-up interval in days, within the protocol's limits (default: the protocol's).",
    )
    language: Language = Field(default=Language.EN, description="The language of the patient's texts.")
    external_id: StrictStr | None = Field(
        default=None,
        max_length=64,
        description="The clinic's record number (from its EHR), unique among patients; optional.",
    )


class RescheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"when": "2026-03-12 15:30"}]})

    when: When = Field(description=f"The new start: {LOCAL_TIME}; in the future, within a year.")


class OutcomeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"outcome": "attended"}]})

    outcome: Literal["attended", "missed"] = Field(
        description="Whether the patient came. `missed` puts the patient on hold until staff act."
    )


class IntervalBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"days": 35}]})

    days: StrictInt = Field(description="The touch-up interval in days, within the protocol's limits.")


class PhoneBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"phone": "(201) 555-0187"}]})

    phone: Text = Field(description="The new mobile number; national numbers use DEFAULT_PHONE_REGION.")


class EditBody(BaseModel):
    """The fields to change; those left out stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {"timezone": "America/Chicago"},
                {"protocol": "touch-up-only", "from": "2026-05-04 10:00"},
            ]
        },
    )

    name: Text | None = Field(default=None, description="The patient's name as staff should see it.")
    timezone: Text | None = Field(
        default=None, description="The right IANA zone; sessions keep their local times."
    )
    consent: Text | None = Field(default=None, description="How the patient agreed to texts.")
    external_id: StrictStr | None = Field(
        default=None, max_length=64, description="The clinic's record number; an empty string clears it."
    )
    language: Language | None = Field(default=None, description="The language of the patient's texts.")
    protocol: Text | None = Field(default=None, description="A new protocol; needs `from`.")
    start: When | None = Field(
        default=None, alias="from", description=f"When the new protocol's course begins: {LOCAL_TIME}."
    )


class AddSessionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"when": "2026-03-12 15:30"}]})

    when: When = Field(description=f"The new session's start: {LOCAL_TIME}; in the future, within a year.")
