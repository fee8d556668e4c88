"""`reminders serve` as a newcomer runs it: answers /healthz, sends due texts, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.processes import seed_due_welcomes, statuses

REMINDERS = Path(sys.executable).parent / "reminders"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_answers_healthz_sends_due_texts_and_stops_cleanly(database_url: str, tmp_path: Path) -> None:
    seed_due_welcomes(database_url, 5)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SMS_", "DATABASE_"))}
    env.update(DATABASE_URL=database_url, SMS_BACKEND="console", DISPATCH_INTERVAL_SECONDS="1")
    proc = subprocess.Popen(
        [str(REMINDERS), "serve", "--port", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        health = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    health = json.loads(response.read())
                if statuses(database_url).get("sent") == 5:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert health is not None
        assert health["status"] == "ok"
        assert statuses(database_url) == {"sent": 5}
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    assert f"serving on http://127.0.0.1:{port}/" in out
    assert out.count("[sms to +1******") == 5
    assert "201555" not in err  # no patient number in the logs
