"""Treatment protocols: the built-in ones and custom ones read from a TOML file."""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from scheduler.domain.states import SessionKind
from scheduler.errors import ConfigError, InvalidInput

Family = Literal["iv", "nasal"]

_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


@dataclass(frozen=True)
class Protocol:
    """A named plan: the first sessions as day offsets, then touch-ups at an interval (or none).

    `family` picks the preparation wording (fasting rules differ between the two routes);
    `first_kind` is the kind of the listed sessions ("touch-up" for a maintenance-only plan).
    """

    id: str
    name: str
    family: Family
    induction_days: tuple[int, ...]
    touch_up_days: int | None
    touch_up_min_days: int = 21
    touch_up_max_days: int = 84
    first_kind: SessionKind = SessionKind.INDUCTION

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    def interval_problem(self, days: int) -> str | None:
        """Why `days` is not an allowed touch-up interval for this protocol, or None."""
        if self.touch_up_days is None:
            return f"protocol {self.id} has no touch-ups; staff review the patient instead"
        if not self.touch_up_min_days <= days <= self.touch_up_max_days:
            return (
                f"the touch-up interval for {self.id} must be between "
                f"{self.touch_up_min_days} and {self.touch_up_max_days} days"
            )
        return None


def _problems(p: Protocol) -> list[str]:
    problems = []
    if not _ID.fullmatch(p.id):
        problems.append(f"id {p.id!r} must be lower-case letters, digits and dashes")
    if not p.name.strip():
        problems.append("name must not be empty")
    if p.family not in ("iv", "nasal"):
        problems.append(f"family must be 'iv' or 'nasal', not {p.family!r}")
    days = p.induction_days
    if not days or days[0] != 0:
        problems.append("the session days must start with 0 (the first session)")
    if any(b <= a for a, b in itertools.pairwise(days)):
        problems.append("the session days must increase")
    if days and days[-1] > 365:
        problems.append("the session days must lie within a year")
    if not 1 <= p.touch_up_min_days <= p.touch_up_max_days <= 365:
        problems.append("touch-up limits must satisfy 1 <= min <= max <= 365")
    if p.touch_up_days is not None and not (p.touch_up_min_days <= p.touch_up_days <= p.touch_up_max_days):
        problems.append("the touch-up interval must lie within its limits")
    if p.first_kind == SessionKind.TOUCH_UP and (p.touch_up_days is None or len(days) != 1):
        problems.append("a maintenance-only protocol has one first session and a touch-up interval")
    return problems


BUILTIN: Mapping[str, Protocol] = {
    p.id: p
    for p in (
        Protocol("iv-6x-mwf", "IV series, 6 sessions over 2 weeks (Mon/Wed/Fri)", "iv",
                 (0, 2, 4, 7, 9, 11), 28),
        Protocol("iv-6x-2w", "IV series, 6 sessions, twice a week", "iv",
                 (0, 3, 7, 10, 14, 17), 28),
        Protocol("esk-trd", "Nasal spray, treatment-resistant course", "nasal",
                 (0, 3, 7, 10, 14, 17, 21, 24, 28, 35, 42, 49), 14, 7, 14),
        Protocol("esk-mdsi", "Nasal spray, 4-week acute course, then staff review", "nasal",
                 (0, 3, 7, 10, 14, 17, 21, 24), None),
        Protocol("touch-up-only", "Touch-up sessions only", "iv", (0,), 28,
                 first_kind=SessionKind.TOUCH_UP),
    )
}  # fmt: skip

DEFAULT_PROTOCOL = "iv-6x-mwf"


def load_protocols(path: Path | None) -> dict[str, Protocol]:
    """The built-in protocols plus those in the TOML file at `path` (if any).

    The file holds one table per protocol:

        [protocols.iv-8x]
        name = "IV series, 8 sessions"
        family = "iv"              # or "nasal"
        days = [0, 2, 4, 7, 9, 11, 14, 16]
        touch_up_days = 28         # omit for no automatic touch-ups
        touch_up_min_days = 21     # optional
        touch_up_max_days = 84     # optional
    """
    protocols = dict(BUILTIN)
    if path is None:
        return protocols
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"PROTOCOLS_FILE {path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"PROTOCOLS_FILE {path}: not valid TOML ({exc})") from None
    tables = data.get("protocols")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"PROTOCOLS_FILE {path}: expected one or more [protocols.<id>] tables")
    for pid, table in tables.items():
        if pid in BUILTIN:
            raise ConfigError(f"PROTOCOLS_FILE {path}: {pid!r} is a built-in protocol; pick another id")
        protocols[pid] = _from_table(path, pid, table)
    return protocols


_KEYS = {"name", "family", "days", "touch_up_days", "touch_up_min_days", "touch_up_max_days"}


def _from_table(path: Path, pid: str, table: object) -> Protocol:
    where = f"PROTOCOLS_FILE {path}: protocol {pid!r}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(table) - _KEYS
    if unknown:
        raise ConfigError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
    days = table.get("days")
    if not isinstance(days, list) or not all(type(d) is int for d in days):
        raise ConfigError(f"{where}: days must be a list of whole numbers")
    ints = {}
    for key in ("touch_up_days", "touch_up_min_days", "touch_up_max_days"):
        value = table.get(key)
        if value is not None and type(value) is not int:
            raise ConfigError(f"{where}: {key} must be a whole number")
        ints[key] = value
    try:
        return Protocol(
            id=pid,
            name=str(table.get("name", "")),
            family=table.get("family", "iv"),
            induction_days=tuple(days),
            touch_up_days=ints["touch_up_days"],
            touch_up_min_days=ints["touch_up_min_days"] or 21,
            touch_up_max_days=ints["touch_up_max_days"] or 84,
        )
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def find_protocol(protocols: Mapping[str, Protocol], protocol_id: str) -> Protocol:
    """The protocol called `protocol_id`, or InvalidInput naming the ones there are."""
    try:
        return protocols[protocol_id]
    except KeyError:
        known = ", ".join(sorted(protocols))
        raise InvalidInput(f"unknown protocol (known: {known})", field="protocol") from None
