"""Worker processes for the fault tests: start, SIGKILL, restart, stop, and read what they logged.

Workers log to files, never to pipes: a worker logs a line per text, and a pipe nobody reads
would fill up and stall it.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import pytest
from sqlalchemy import select

from scheduler.store.db import make_engine
from scheduler.store.models import Message, Patient, Reminder
from tests.support.processes import REMINDERS, statuses

FAULT_WORKER = Path(__file__).with_name("fault_worker.py")
# `reminders worker` itself, or the same worker with a test-sized retry policy.
PRODUCT_WORKER = [str(REMINDERS), "worker"]
RETRYING_WORKER = [sys.executable, str(FAULT_WORKER)]
# What a worker logs after it looked up an attempt a dead worker left in doubt.
ADOPTED = re.compile(r"message (\d+): interrupted send found at the provider")
NOT_FOUND = re.compile(r"message (\d+): interrupted send not found at the provider")
# Run a test on one engine only (the `database_url` fixture of tests/conftest.py offers both).
ON_POSTGRESQL = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def retry_policy(*, retry_base: float, max_attempts: int) -> dict[str, str]:
    """Environment for `fault_worker.py` (see its docstring)."""
    return {"FAULT_RETRY_BASE_SECONDS": str(retry_base), "FAULT_MAX_ATTEMPTS": str(max_attempts)}


@dataclass
class _Slot:
    proc: subprocess.Popen[bytes]
    log: Path


@dataclass
class Workers:
    """A fixed number of worker slots; every process ever started is killed on exit."""

    command: list[str]
    env: dict[str, str]
    directory: Path
    slots: list[_Slot] = field(default_factory=list)
    killed_pids: set[int] = field(default_factory=set)
    _all: list[_Slot] = field(default_factory=list)

    def __enter__(self) -> Workers:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for slot in self._all:
            if slot.proc.poll() is None:
                slot.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):  # a kernel problem, not ours
                slot.proc.wait(timeout=10)

    def start(self, count: int) -> None:
        for _ in range(count):
            self.slots.append(self._spawn())

    def _spawn(self) -> _Slot:
        log = self.directory / f"worker-{len(self._all)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                self.command, env=self.env, cwd=self.directory, stdout=out, stderr=subprocess.STDOUT
            )
        slot = _Slot(proc, log)
        self._all.append(slot)
        return slot

    def kill_and_restart(self, index: int) -> int:
        """SIGKILL the worker in slot `index`, start a fresh one there; returns the killed pid."""
        slot = self.slots[index]
        slot.proc.send_signal(signal.SIGKILL)
        slot.proc.wait(timeout=10)
        self.killed_pids.add(slot.proc.pid)
        self.slots[index] = self._spawn()
        return slot.proc.pid

    def running(self) -> bool:
        return all(slot.proc.poll() is None for slot in self.slots)

    def stop(self, timeout: float = 30) -> list[int | None]:
        """SIGTERM every current worker and wait; returns their exit codes (None: had to be killed)."""
        for slot in self.slots:
            if slot.proc.poll() is None:
                slot.proc.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        for slot in self.slots:
            try:
                codes.append(slot.proc.wait(timeout=timeout))
            except subprocess.TimeoutExpired:
                slot.proc.kill()
                codes.append(None)
        return codes

    def logs(self) -> str:
        return "".join(slot.log.read_text(errors="replace") for slot in self._all)


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    interval: float = 0.5,
    alive: Callable[[], bool] = lambda: True,
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if not alive():
            return condition()
        time.sleep(interval)
    return condition()


def wait_until_all_sent(database_url: str, total: int, timeout: float, workers: Workers) -> dict[str, int]:
    """Poll until every reminder is `sent`; returns the last status counts (for the assertion message)."""
    last: dict[str, int] = {}

    def settled() -> bool:
        nonlocal last
        last = statuses(database_url)
        return last.get("sent", 0) == total

    wait_until(settled, timeout, interval=1.0, alive=workers.running)
    return last


@dataclass(frozen=True)
class SentRecord:
    """What the database says about each reminder once the run has settled."""

    attempts: dict[str, int]  # phone -> the reminder's attempts
    reminder_ids: dict[int, str]  # reminder id -> phone
    messages: dict[str, list[tuple[str, str | None, str | None]]]  # phone -> [(status, sid, worker)]
    message_phones: dict[int, str]  # message id -> phone


def sent_record(database_url: str) -> SentRecord:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            reminders = conn.execute(
                select(Reminder.id, Patient.phone, Reminder.attempts).join(
                    Patient, Patient.id == Reminder.patient_id
                )
            ).all()
            rows = conn.execute(
                select(Message.id, Message.to, Message.status, Message.provider_sid, Message.worker).order_by(
                    Message.id
                )
            ).all()
    finally:
        engine.dispose()
    messages: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for _id, to, status, sid, worker in rows:
        messages.setdefault(str(to), []).append((str(status), sid, worker))
    return SentRecord(
        attempts={str(phone): int(attempts) for _id, phone, attempts in reminders},
        reminder_ids={int(rid): str(phone) for rid, phone, _attempts in reminders},
        messages=messages,
        message_phones={int(mid): str(to) for mid, to, _status, _sid, _worker in rows},
    )


def worker_pid(worker: str | None) -> int | None:
    """The pid inside a worker id (`host:pid:random`)."""
    if worker is None:
        return None
    parts = worker.rsplit(":", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def texts_per_number(messages: list[dict[str, object]]) -> Counter[str]:
    return Counter(str(m["to"]) for m in messages)
