"""The session tallies (`SessionTally`): the weekly reports' counts of sessions per quarter hour.

Triggers on `appointments` (migration 0015) add a row of +1 or -1 for every change to what a
session is counted as; `fold` replaces a quarter hour's rows by one per kind of session, so that
a report reads a few rows per quarter hour however busy the clinic was. Folding changes no sum:
the reports are right before it and after.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, delete, insert, select, text

from scheduler.store.models import SessionTally

SLOT_SECONDS = 900
# Quarter hours folded in one transaction: after a large import, the worker catches up over a
# few minutes instead of holding SQLite's write lock for one long fold.
FOLD_SLOTS = 2_000
# Held by the transaction folding on PostgreSQL: two folds at once could each wait for rows the
# other deleted first.
_FOLD_LOCK = 0x7A11_1E5


def slot_of(instant: datetime) -> int:
    """The quarter hour `instant` falls in, as the triggers number them (alike on both databases
    from 1970 on: SQLite's division rounds toward zero before it)."""
    return math.floor(instant.astimezone(UTC).timestamp()) // SLOT_SECONDS


def fold(engine: Engine, most: int = FOLD_SLOTS) -> int:
    """Fold the quarter hours that have rows not yet folded, at most `most` of them; the number
    folded. Rows that triggers add meanwhile wait for the next fold."""
    with engine.begin() as db:
        if not _locked(db):
            return 0
        slots = select(SessionTally.slot).where(text("NOT folded")).distinct().limit(most)
        chosen = list(db.execute(slots).scalars())
        if not chosen:
            return 0
        gone = db.execute(
            delete(SessionTally)
            .where(SessionTally.slot.in_(chosen))
            .returning(
                SessionTally.slot,
                SessionTally.status,
                SessionTally.asked,
                SessionTally.confirmed,
                SessionTally.sessions,
            )
        )
        sums: Counter[tuple[int, str, bool, bool]] = Counter()
        for slot, status, asked, confirmed, sessions in gone:
            sums[slot, status, bool(asked), bool(confirmed)] += sessions
        rows = [
            {"slot": s, "status": st, "asked": a, "confirmed": c, "sessions": n, "folded": True}
            for (s, st, a, c), n in sums.items()
            if n
        ]
        if rows:
            db.execute(insert(SessionTally), rows)
        return len(chosen)


def recount(db: Connection) -> None:
    """Write the tallies afresh from the sessions, folded: after rows were loaded with triggers
    off (a data-only restore, a bulk load). On PostgreSQL the sessions are locked against writes
    until the transaction ends, so that none added meanwhile is counted twice."""
    slot = (
        "floor(extract(epoch FROM starts_at) / 900)::bigint"
        if db.dialect.name == "postgresql"
        else "CAST(strftime('%s', starts_at) AS INTEGER) / 900"
    )
    kind = f"{slot}, status, confirm_requests_sent > 0, confirmed_at IS NOT NULL"
    if db.dialect.name == "postgresql":
        db.execute(text("LOCK TABLE appointments IN SHARE MODE"))
    db.execute(delete(SessionTally))
    db.execute(
        text(
            "INSERT INTO session_tallies (slot, status, asked, confirmed, sessions, folded)"
            f" SELECT {kind}, count(*), true FROM appointments GROUP BY {kind}"
        )
    )


def _locked(db: Connection) -> bool:
    if db.dialect.name != "postgresql":
        return True  # SQLite: one writer at a time
    return bool(db.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _FOLD_LOCK}).scalar_one())
