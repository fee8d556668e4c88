"""How the texts of one patient's day become messages.

The planner uses this to lay out a course, and the dispatcher again at the moment of sending, so
the preview and what the patient gets agree:

- A text superseded by a newer one for the same session does not go out: a preparation text
  covers the confirm request and the day-of nudge, a day-of nudge covers the confirm request.
- Every session can be confirmed: where no confirm request of a session goes out, its
  preparation text (or else its day-of nudge) asks for C or R.
- At most `allowed` messages carry texts that count towards the daily limit; a day with more
  texts than that shares messages, the most important texts first, each message at most
  `MESSAGE_SEGMENTS` long. Change notices do not count and are never held back: one rides along
  where there is room, and goes alone where there is not; a notice that goes alone carries what
  the limit held back, where there is room.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from scheduler.domain.states import ReminderKind
from scheduler.domain.templates import Piece

# The order parts are read in, within one message.
_READING_ORDER = {
    ReminderKind.CHECK_IN: 0,
    ReminderKind.NOTICE: 1,
    ReminderKind.CONFIRM: 2,
    ReminderKind.PREP: 2,
    ReminderKind.DAY_OF: 3,
}
# Which text a day keeps when it cannot carry them all: the first of these.
_KEEP_ORDER = (ReminderKind.PREP, ReminderKind.CHECK_IN, ReminderKind.CONFIRM, ReminderKind.DAY_OF)
# Texts that count towards the daily limit.
CAPPED = frozenset(_KEEP_ORDER)
COMBINED = CAPPED | {ReminderKind.NOTICE}
# The texts that ask for C where no confirm request of their session goes out, in that order.
_CARRIERS = (ReminderKind.PREP, ReminderKind.DAY_OF)


@dataclass(frozen=True)
class Part:
    """One text about a course, ready to share a message."""

    ref: Hashable  # the reminder it stands for
    kind: ReminderKind
    appointment_id: int | None
    template: str  # a key of templates.PARTS
    start: datetime | None  # the session's local wall-clock time
    due_at: datetime
    deadline: datetime | None = None
    ask_wanted: bool = False  # the session still needs a text that asks for C or R
    asks: bool = False  # this part carries that question

    def pieces(self) -> list[Piece]:
        own = Piece(self.template, self.start)
        return [own, Piece("confirm-ask")] if self.asks else [own]


@dataclass
class Composition:
    messages: list[list[Part]] = field(default_factory=list)  # each in reading order
    superseded: list[Part] = field(default_factory=list)
    dropped: list[Part] = field(default_factory=list)  # no room left on the day

    def capped_messages(self) -> int:
        return sum(1 for m in self.messages if any(p.kind in CAPPED for p in m))


def compose(parts: Sequence[Part], fits: Callable[[Sequence[Part]], bool], allowed: int) -> Composition:
    """Lay out `parts` (one patient's texts due together) as messages.

    `fits` says whether parts can share one message; `allowed` is how many messages that count
    towards the daily limit may still go out.
    """
    if len(parts) == 1:
        return _alone(parts[0], allowed)
    result = Composition()
    live = _supersede(parts, result.superseded)
    notices = [p for p in live if p.kind is ReminderKind.NOTICE]
    capped = sorted(
        (p for p in live if p.kind in CAPPED), key=lambda p: (_KEEP_ORDER.index(p.kind), p.due_at)
    )
    if len(capped) <= allowed:
        # Room for each in a message of its own; a notice rides with the first that has room.
        messages = [[p] for p in capped]
    else:
        messages = []
        for part in capped:
            home = next((m for m in messages if fits([*m, part])), None)
            if home is not None:
                home.append(part)
            elif len(messages) < allowed and fits([part]):
                messages.append([part])
            else:
                result.dropped.append(part)
    for notice in notices:
        home = next((m for m in messages if fits([*m, notice]) and _timely([*m, notice])), None)
        if home is not None:
            home.append(notice)
        else:
            messages.append([notice])
    # A message that goes anyway, to announce a change, carries what the limit held back if it fits.
    for part in list(result.dropped):
        home = next(
            (m for m in messages if all(p.kind is ReminderKind.NOTICE for p in m) and fits([*m, part])), None
        )
        if home is not None and _timely([*home, part]):
            home.append(part)
            result.dropped.remove(part)
    result.messages = [sorted(m, key=lambda p: (_READING_ORDER[p.kind], p.due_at)) for m in messages]
    return result


def _alone(part: Part, allowed: int) -> Composition:
    """What `compose` makes of a single part (most days of a course carry one text): nothing
    covers it; a preparation text or day-of nudge asks for C where its session needs it; a
    notice goes; a text that counts goes where the limit allows, else it is dropped."""
    if part.kind is ReminderKind.NOTICE:
        return Composition(messages=[[part]])
    if part.kind not in CAPPED:
        return Composition()
    if part.appointment_id is not None and part.kind in _CARRIERS and part.asks != part.ask_wanted:
        part = replace(part, asks=part.ask_wanted)
    return Composition(messages=[[part]]) if allowed >= 1 else Composition(dropped=[part])


def message_time(parts: Sequence[Part]) -> datetime:
    """When a message goes: with its first text due, but never before a change it announces."""
    times = [p.due_at for p in parts if p.kind is ReminderKind.NOTICE]
    others = [p.due_at for p in parts if p.kind is not ReminderKind.NOTICE]
    if others:
        times.append(min(others))
    return max(times)


def _timely(parts: Sequence[Part]) -> bool:
    at = message_time(parts)
    return all(p.deadline is None or at < p.deadline for p in parts)


def _supersede(parts: Sequence[Part], superseded: list[Part]) -> list[Part]:
    """Drop texts a newer text of the same session covers, and choose which part asks for C."""
    by_session: dict[int | None, list[Part]] = {}
    for part in parts:
        by_session.setdefault(part.appointment_id, []).append(part)
    live: list[Part] = []
    for appointment_id, own in by_session.items():
        if appointment_id is None:
            live.extend(own)
            continue
        kinds = {p.kind for p in own}
        carrier = next((k for k in _CARRIERS if k in kinds), None)
        for part in own:
            covered = carrier is not None and (
                part.kind is ReminderKind.CONFIRM
                or (part.kind is ReminderKind.DAY_OF and carrier is ReminderKind.PREP)
            )
            if covered:
                superseded.append(part)
            elif part.kind is carrier:
                live.append(replace(part, asks=part.ask_wanted))
            else:
                live.append(part)
    return live
