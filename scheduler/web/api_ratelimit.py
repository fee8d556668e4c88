"""A rate limit per API token: `API_RATE_PER_MINUTE` requests a minute, in a burst of as many.

A token bucket per token (keyed by a hash of the Authorization header, so a token is never kept),
in this process's memory: each web process counts on its own. Past the limit the API answers 429
with `Retry-After`, the seconds until the next request would be taken.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from starlette.datastructures import Headers

from scheduler.web.api_idempotency import Asgi, Receive, Scope, Send
from scheduler.web.api_problems import problem_response

# Buckets kept at most; full ones (idle clients) are dropped first when there are more.
MAX_BUCKETS = 10_000


class RateLimit:
    def __init__(self, app: Asgi, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when counted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        per_minute: int = scope["app"].state.settings.api_rate_per_minute
        header = Headers(scope=scope).get("authorization", "")
        client = hashlib.sha256(header.encode("latin-1")).hexdigest()
        wait = self._take(client, per_minute)
        if wait > 0:
            detail = f"more than {per_minute} requests a minute with this token; slow down"
            answer = problem_response(
                429, detail, scope["path"], headers={"Retry-After": str(math.ceil(wait))}
            )
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _take(self, client: str, per_minute: int) -> float:
        """Take one request from the client's bucket: 0, or the seconds until one is there."""
        now, rate = self.clock(), per_minute / 60.0
        tokens, then = self.buckets.get(client, (float(per_minute), now))
        tokens = min(float(per_minute), tokens + (now - then) * rate)
        if tokens < 1:
            self.buckets[client] = (tokens, now)
            return (1 - tokens) / rate
        self.buckets[client] = (tokens - 1, now)
        if len(self.buckets) > MAX_BUCKETS:
            self._prune(now, rate, per_minute)
        return 0.0

    def _prune(self, now: float, rate: float, per_minute: int) -> None:
        for client, (tokens, then) in list(self.buckets.items()):
            if tokens + (now - then) * rate >= per_minute:
                del self.buckets[client]
