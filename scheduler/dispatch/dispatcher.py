"""The dispatcher: drains due texts batch after batch on a small thread pool, until none are due.

For each batch: claim (committed), gate and record the attempts (committed), send with no
transaction open for those texts, then record the results only where this worker still holds the
claims. The next batch is claimed and prepared while one is being sent (`batch.Flight`).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from scheduler.clock import Clock
from scheduler.config import Settings
from scheduler.dispatch.batch import BatchPipeline, Flight
from scheduler.dispatch.context import Counts, DispatchOptions, SendContext
from scheduler.dispatch.events import EventDelivery
from scheduler.dispatch.reconcile import reconcile
from scheduler.domain.protocols import Protocol
from scheduler.sms import SmsSender
from scheduler.store.outbox import claim_due
from scheduler.store.uow import UnitOfWork


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        protocols: Mapping[str, Protocol],
        database: sessionmaker[DbSession],
        sender: SmsSender,
        clock: Clock,
        worker: str,
        options: DispatchOptions | None = None,
        rng: random.Random | None = None,
    ) -> None:
        options = options or DispatchOptions()
        self.ctx = SendContext(
            settings, protocols, database, sender, clock, worker, options, rng or random.Random()
        )
        self._pool = ThreadPoolExecutor(options.threads, thread_name_prefix="send")
        self._batches = BatchPipeline(self.ctx, self._pool)
        self._events = EventDelivery(self.ctx)
        self._draining = threading.Lock()

    @property
    def worker(self) -> str:
        return self.ctx.worker

    def drain(self, budget_seconds: float | None = None) -> Counts:
        """Send everything due, batch after batch, until nothing is due, the budget is spent or
        `stop()` is called.

        With a budget (a worker's tick), each batch is only as large as this worker can send in
        the time left, so that the rest of a backlog stays claimable by other workers; `backlog`
        then says that more may be due. Without one, the time is half the lease. Either way a
        batch is also kept to about `batch_seconds` of sends (`batch_size`).
        """
        counts = Counts()
        started = time.monotonic()
        window = budget_seconds if budget_seconds is not None else self.ctx.settings.claim_lease_seconds / 2
        with self._draining:
            first = True
            flight: Flight | None = None
            try:
                while not self.ctx.holding_back(self.ctx.clock.now()):
                    if flight is not None and self.ctx.latency.seconds is None:
                        # Nothing measured yet: see the first round out before sizing the next.
                        self._batches.finish(flight, counts)
                        flight = None
                    left = window if budget_seconds is None else window - (time.monotonic() - started)
                    size = self.batch_size(left - self._sending_seconds(flight), first=first)
                    if size == 0:
                        counts.backlog = True
                        break
                    batch = self.claim(size)
                    if not batch:
                        break
                    first = False
                    counts.add("claimed", len(batch))
                    # Prepared while the batch before is still being sent, and sent after it.
                    flight = self._batches.launch(batch, counts, after=flight)
            finally:
                if flight is not None:
                    self._batches.finish(flight, counts)
        return counts

    def _sending_seconds(self, flight: Flight | None) -> float:
        """How long the batch on the wire may still take: the next one goes out after it."""
        latency = self.ctx.latency.seconds
        if flight is None or latency is None:
            return 0.0
        return flight.size * latency / self.ctx.options.threads

    def batch_size(self, seconds: float, *, first: bool = True) -> int:
        """How many texts to claim to have them sent within `seconds`; 0 when not one more round
        of sends fits (the first batch of a drain always gets one).

        The sends go out on `threads` threads at the latency measured so far, and no faster than
        the rate limit. Before any send has been measured, one round: a slow provider is found
        out before a whole batch is claimed behind it. A batch is also kept to about
        `batch_seconds` of sending: several workers then share a backlog in small parts, while
        each batch's fixed costs (its claim, two transactions, the hand-over) stay small beside
        its sends.
        """
        ctx = self.ctx
        cap, threads = ctx.options.batch_size, ctx.options.threads
        latency = ctx.latency.seconds
        if latency is None:
            return min(cap, threads)
        rate = ctx.settings.send_rate_per_second
        rounds = int(seconds / latency) if latency > 0 else cap
        allowed = int(rate * seconds)
        if min(rounds, allowed) <= 0:
            return min(cap, threads) if first else 0
        span = ctx.options.batch_seconds
        if latency > 0:
            rounds = min(rounds, max(1, int(span / latency)))
        allowed = min(allowed, max(threads, int(rate * span)))
        return min(cap, threads * rounds, allowed)

    def claim(self, limit: int | None = None) -> list[int]:
        """Claim the next batch of due texts for this worker (committed); their reminder ids."""
        ctx = self.ctx
        now = ctx.clock.now()
        with UnitOfWork(ctx.database) as uow:
            claimed = claim_due(
                uow.db,
                ctx.worker,
                now,
                now + ctx.settings.claim_lease,
                limit or ctx.options.batch_size,
                ctx.silent_since(now),
            )
            uow.commit()
        return claimed

    def send_claimed(self, reminder_ids: list[int]) -> Counts:
        """Gate, send and record texts this worker has claimed (what `drain` does with each batch)."""
        counts = Counts()
        with self._draining:
            self._batches.run(reminder_ids, counts)
        return counts

    def deliver_events(self) -> int:
        """Text the alerts and POST the webhook events that are due; how many were delivered."""
        if self.ctx.holding_back(self.ctx.clock.now()):
            return 0
        return self._events.deliver()

    def reconcile(self, limit: int = 100) -> Counts:
        """Settle texts whose send outcome is unknown by looking them up at the provider."""
        return reconcile(self.ctx, limit)

    def stop(self) -> None:
        """Finish the sends in flight, release claimed texts not yet sent, and stop draining."""
        self.ctx.stopping.set()

    def close(self) -> None:
        """Stop, wait for a drain in progress to record its sends, and free the threads."""
        self.stop()
        with self._draining:
            self._batches.close()
            self._pool.shutdown(wait=True)
