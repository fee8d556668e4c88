"""How one patient's texts of a day become messages: what a newer text covers, who asks for C, what
fits, and what the daily limit allows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.domain.messages import CAPPED, Part, compose, message_time
from scheduler.domain.states import ReminderKind

NOON = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
K = ReminderKind


def part(ref: str, kind: ReminderKind, session: int | None = 1, *, at: int = 0, ask: bool = False) -> Part:
    return Part(
        ref=ref,
        kind=kind,
        appointment_id=session,
        template=str(kind),
        start=None,
        due_at=NOON + timedelta(hours=at),
        deadline=NOON + timedelta(days=1),
        ask_wanted=ask,
    )


def fits_up_to(n: int):  # type: ignore[no-untyped-def]
    """A message of at most `n` parts (stands for the two-segment limit)."""

    def fits(parts: Sequence[Part]) -> bool:
        return len(parts) <= n

    return fits


def refs(messages: list[list[Part]]) -> list[list[str]]:
    return [[str(p.ref) for p in m] for m in messages]


def test_a_preparation_text_covers_the_confirm_request_of_its_session_and_asks_for_c() -> None:
    result = compose([part("confirm", K.CONFIRM, ask=True), part("prep", K.PREP, ask=True)], fits_up_to(3), 1)
    assert refs(result.messages) == [["prep"]]
    assert [p.ref for p in result.superseded] == ["confirm"]
    assert result.messages[0][0].asks


def test_a_confirmed_session_is_not_asked_again() -> None:
    result = compose([part("prep", K.PREP, ask=False)], fits_up_to(3), 1)
    assert not result.messages[0][0].asks


def test_a_preparation_text_covers_the_day_of_nudge_and_the_nudge_covers_the_confirm() -> None:
    both = compose([part("prep", K.PREP), part("day-of", K.DAY_OF)], fits_up_to(3), 1)
    assert refs(both.messages) == [["prep"]]
    assert [p.ref for p in both.superseded] == ["day-of"]
    nudge = compose(
        [part("confirm", K.CONFIRM, ask=True), part("day-of", K.DAY_OF, ask=True)], fits_up_to(3), 1
    )
    assert refs(nudge.messages) == [["day-of"]]
    assert nudge.messages[0][0].asks


def test_texts_of_different_sessions_share_one_message_in_reading_order() -> None:
    result = compose(
        [part("prep-2", K.PREP, 2, at=4), part("check-in-1", K.CHECK_IN, 1), part("confirm-3", K.CONFIRM, 3)],
        fits_up_to(3),
        1,
    )
    assert refs(result.messages) == [["check-in-1", "confirm-3", "prep-2"]]
    assert message_time(result.messages[0]) == NOON


def test_when_the_limit_allows_more_messages_each_text_goes_in_its_own() -> None:
    result = compose([part("check-in-1", K.CHECK_IN, 1), part("prep-2", K.PREP, 2)], fits_up_to(3), 2)
    assert refs(result.messages) == [["prep-2"], ["check-in-1"]]


def test_what_cannot_fit_is_dropped_least_important_first() -> None:
    parts = [
        part("day-of-1", K.DAY_OF, 1),
        part("confirm-3", K.CONFIRM, 3),
        part("check-in-2", K.CHECK_IN, 2),
        part("prep-4", K.PREP, 4),
    ]
    result = compose(parts, fits_up_to(2), 1)
    assert refs(result.messages) == [["check-in-2", "prep-4"]]
    assert {p.ref for p in result.dropped} == {"day-of-1", "confirm-3"}


def test_with_the_days_messages_used_up_only_a_notice_goes_carrying_what_fits() -> None:
    alone = compose([part("prep", K.PREP, 1), part("check-in", K.CHECK_IN, 2)], fits_up_to(3), 0)
    assert alone.messages == []
    assert {p.ref for p in alone.dropped} == {"prep", "check-in"}
    carried = compose([part("prep", K.PREP, 1), part("check-in", K.CHECK_IN, 3), part("notice", K.NOTICE, 2)],
                      fits_up_to(2), 0)  # fmt: skip
    assert refs(carried.messages) == [["notice", "prep"]]
    assert [p.ref for p in carried.dropped] == ["check-in"]


def test_a_notice_rides_along_where_it_fits_and_goes_alone_where_it_does_not() -> None:
    rides = compose([part("check-in", K.CHECK_IN, 1), part("notice", K.NOTICE, 2)], fits_up_to(2), 1)
    assert refs(rides.messages) == [["check-in", "notice"]]
    alone = compose(
        [part("check-in", K.CHECK_IN, 1), part("prep", K.PREP, 3), part("notice", K.NOTICE, 2)],
        fits_up_to(2),
        1,
    )
    assert refs(alone.messages) == [["check-in", "prep"], ["notice"]]
    assert alone.dropped == []


def test_a_message_carrying_a_notice_never_goes_before_the_change_it_announces() -> None:
    result = compose(
        [part("check-in", K.CHECK_IN, 1, at=0), part("notice", K.NOTICE, 2, at=3)], fits_up_to(2), 1
    )
    assert message_time(result.messages[0]) == NOON + timedelta(hours=3)


@pytest.mark.parametrize("kind", list(K))
@pytest.mark.parametrize("session", [1, None])
@pytest.mark.parametrize("ask", [True, False])
@pytest.mark.parametrize("allowed", [0, 1, 2])
def test_a_day_of_one_text(kind: ReminderKind, session: int | None, ask: bool, allowed: int) -> None:
    alone = part("only", kind, session, ask=ask)
    result = compose([alone], fits_up_to(0), allowed)  # one text alone never needs to fit with others
    asks = ask and session is not None and kind in (K.PREP, K.DAY_OF)
    if kind is K.NOTICE:
        assert (result.messages, result.dropped) == ([[alone]], [])
    elif kind not in CAPPED:
        assert (result.messages, result.dropped) == ([], [])
    elif allowed == 0:
        assert (result.messages, result.dropped) == ([], [replace(alone, asks=asks)])
    else:
        assert (result.messages, result.dropped) == ([[replace(alone, asks=asks)]], [])
    assert result.superseded == []
