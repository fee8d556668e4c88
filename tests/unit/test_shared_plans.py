"""An import plans alike courses once (`SharedPlans`): every patient still gets exactly the rows
planning their own course gives, whatever their ids, for every built-in protocol, in both
languages, across zones, start times and daily limits. Session ids that change length inside
one course (9 and 10, 99 and 100) order the texts of a shared message differently from the ids
the course was first planned with."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from scheduler.config import Settings
from scheduler.domain import course, plan
from scheduler.domain.protocols import BUILTIN
from scheduler.domain.states import Language
from scheduler.domain.timeutil import to_local, to_utc, zone
from scheduler.services.planning import Planner, SharedPlans
from scheduler.store.models import Patient

NOW = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)
ZONES = ("America/New_York", "Pacific/Honolulu", "Asia/Kolkata")
TIMES = (time(8, 0), time(10, 0), time(13, 45), time(19, 30))
# The first session ids of the courses: each course is planned again under every one of these.
FIRST_IDS = (1, 4, 7, 95, 98, 996)


def sessions(protocol_id: str, timezone: str, first: datetime, first_id: int) -> list[plan.Session]:
    protocol, tz = BUILTIN[protocol_id], zone(timezone)
    tomorrow = to_local(NOW, tz).date() + timedelta(days=1)
    booked = course.initial_sessions(protocol, first, frozenset(), protocol.touch_up_days, tomorrow)
    return [
        plan.Session(first_id + n, 0, s.kind, s.number, to_utc(s.local_start, tz), NOW)
        for n, s in enumerate(booked)
    ]


@pytest.mark.parametrize("daily_limit", [1, 2])
@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("protocol_id", sorted(BUILTIN))
def test_alike_courses_share_a_planning_and_each_gets_its_own_rows(
    protocol_id: str, language: Language, daily_limit: int
) -> None:
    settings = Settings(database_url="sqlite://", clinic_name="Oak St Clinic", daily_text_limit=daily_limit)
    planner = Planner(settings, BUILTIN)
    shared = SharedPlans(planner, NOW)
    for timezone, at, days in itertools.product(ZONES, TIMES, (1, 2, 6)):
        first = datetime.combine(to_local(NOW, zone(timezone)).date() + timedelta(days=days), at)
        for patient_id, first_id in enumerate(FIRST_IDS, 1):
            own = sessions(protocol_id, timezone, first, first_id)
            patient = Patient(id=patient_id, timezone=timezone, protocol=protocol_id, language=language)
            expected = planner.new_patient_reminders(patient, NOW, own)
            assert shared.reminders(patient_id, timezone, protocol_id, language, own) == expected


def test_courses_that_differ_are_planned_apart() -> None:
    planner = Planner(Settings(database_url="sqlite://", clinic_name="Oak St Clinic"), BUILTIN)
    shared = SharedPlans(planner, NOW)
    first = datetime(2026, 3, 9, 10, 0)  # noqa: DTZ001
    own = sessions("iv-6x-mwf", "America/New_York", first, 1)
    moved = [replace(own[0], starts_at=own[0].starts_at + timedelta(hours=1)), *own[1:]]
    for patient_id, course_sessions, language in [
        (1, own, Language.EN),
        (2, moved, Language.EN),
        (3, own, Language.ES),
    ]:
        patient = Patient(id=patient_id, timezone="America/New_York", protocol="iv-6x-mwf", language=language)
        expected = planner.new_patient_reminders(patient, NOW, course_sessions)
        got = shared.reminders(patient_id, "America/New_York", "iv-6x-mwf", language, course_sessions)
        assert got == expected
