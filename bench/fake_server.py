"""The loopback fake Twilio (tests/support/fake_twilio.py) in its own process, for the benchmarks.

Prints one JSON line {"base_url", "account_sid", "auth_token"}, then answers one JSON line per
command read on stdin: `stats`, `reset`, `quit`. `stats` counts the messages the fake accepted,
with the monotonic times of the first and the last (CLOCK_MONOTONIC is shared by processes) and
the pauses of more than 0.5 s between two consecutive messages (how long senders sat idle).

    .venv/bin/python bench/fake_server.py --latency 0.1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import _common  # noqa: F401 - puts the repository root on sys.path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds every POST waits (default 0)")
    parser.add_argument("--backlog", type=int, default=256, help="listen backlog (socketserver's default: 5)")
    args = parser.parse_args()

    from tests.support import fake_twilio
    from tests.support.fake_twilio import FakeTwilio

    # socketserver's default listen backlog is 5: with more clients connecting at once (each
    # request is a new HTTP/1.0 connection) the kernel resets connections. Raise it for this
    # process only, so that the fake is not the bottleneck when 16-64 senders hit it together.
    fake_twilio._Server.request_queue_size = args.backlog

    class TimedFake(FakeTwilio):
        """Remembers when each message was accepted, the pauses between them and the numbers
        texted (kept up to date in `_record`, which the fake calls under its lock)."""

        stamps: list[float]
        pauses: list[float]
        numbers: set[str]

        def _record(self, form: dict[str, str]) -> dict[str, Any]:
            now = time.monotonic()
            if self.stamps and now - self.stamps[-1] > 0.5:
                self.pauses.append(now - self.stamps[-1])
            self.stamps.append(now)
            self.numbers.add(form["To"])
            return super()._record(form)

        def clear(self) -> None:
            self.reset()
            with self._lock:
                self.stamps, self.pauses, self.numbers = [], [], set()

    fake = TimedFake(latency=args.latency)
    fake.clear()
    print(
        json.dumps(
            {"base_url": fake.base_url, "account_sid": fake.account_sid, "auth_token": fake.auth_token}
        ),
        flush=True,
    )
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                with fake._lock:
                    answer: dict[str, Any] = {
                        "messages": len(fake.messages),
                        "distinct_to": len(fake.numbers),
                        "posts": len(fake.attempts),
                        "first": fake.stamps[0] if fake.stamps else None,
                        "last": fake.stamps[-1] if fake.stamps else None,
                        "pauses": len(fake.pauses),
                        "pause_seconds": sum(fake.pauses),
                    }
            elif command == "reset":
                fake.clear()
                answer = {"ok": True}
            elif command == "quit":
                print(json.dumps({"ok": True}), flush=True)
                break
            else:
                answer = {"error": f"unknown command {command!r}"}
            print(json.dumps(answer), flush=True)
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
