"""A worker's heartbeat: a thread of its own records that the worker is alive, every few seconds.

Apart from the dispatch ticks on purpose: a worker whose tick is slow (a provider answering in
seconds) is still alive, and one that was killed stops beating at once. Other workers take the
claims of a worker silent for `WORKER_STALE_SECONDS` over; so a worker that cannot record its own
heartbeat for half that long holds back its sends (`fresh`) rather than race whoever takes over.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.clock import Clock
from scheduler.store.heartbeat import beat, retire

log = logging.getLogger("scheduler.liveness")


class Heartbeat:
    def __init__(
        self,
        database: sessionmaker[DbSession],
        clock: Clock,
        worker: str,
        interval: timedelta,
        stale_after: timedelta,
    ) -> None:
        self.database = database
        self.clock = clock
        self.worker = worker
        self.started_at = clock.now()
        self._interval = interval.total_seconds()
        self._fresh_for = stale_after.total_seconds() / 2
        self._last_beat = float("-inf")  # time.monotonic() of the last beat recorded
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{worker}", daemon=True)

    def start(self) -> None:
        """Register the worker (before it claims anything, so that its claims can be taken over if
        it dies), then beat on a thread of its own."""
        self._beat()
        self._thread.start()

    def fresh(self) -> bool:
        """Whether this worker's last recorded beat is recent enough that no other worker can take
        it for gone before a send started now is recorded."""
        return time.monotonic() - self._last_beat < self._fresh_for

    def stop(self, *, retire_worker: bool = True) -> None:
        """Stop beating; a worker that stopped cleanly (its claims released) leaves the table."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._interval + 30)
        if retire_worker:
            try:
                retire(self.database, self.worker)
            except Exception as exc:  # it will be swept as gone
                log.warning("could not remove worker %s on stopping (%s)", self.worker, type(exc).__name__)

    def _beat(self) -> None:
        beat(self.database, self.worker, self.started_at, self.clock.now())
        self._last_beat = time.monotonic()

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(self._interval):
            try:
                self._beat()
            except Exception as exc:
                # Only the type: a database error's text can quote values.
                if not failing:
                    log.warning(
                        "worker %s could not record its heartbeat (%s); sends are held back after %.0f s "
                        "without one",
                        self.worker,
                        type(exc).__name__,
                        self._fresh_for,
                    )
                failing = True
                continue
            if failing:
                log.info("worker %s records its heartbeat again", self.worker)
                failing = False
