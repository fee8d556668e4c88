"""`reminders serve` as a newcomer runs it: answers /healthz, sends due texts, stops on SIGTERM;
and as a clinic's EHR meets it: racing enrolments, with nothing about them in the log."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scheduler.app import build
from scheduler.services.accounts import Accounts
from tests.support import make_settings
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


def test_eight_identical_enrolments_at_once_give_one_201_and_seven_409s_naming_the_patient(
    database_url: str, tmp_path: Path
) -> None:
    """A client retrying an enrolment races itself: both requests find the number free, one
    commits first. The other is told who has the number, and nothing lands in the log."""
    built = build(make_settings(database_url), check=False)
    try:
        token = Accounts(built.database, built.clock).add_token("ehr")
    finally:
        built.close()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SMS_", "DATABASE_"))}
    env.update(DATABASE_URL=database_url, SMS_BACKEND="console")
    proc = subprocess.Popen(
        [str(REMINDERS), "serve", "--no-worker", "--port", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    first = (datetime.now(UTC) + timedelta(days=9)).strftime("%Y-%m-%d 10:00")
    body = json.dumps(
        {"name": "Ana Lima", "phone": "(201) 555-0123", "timezone": "America/New_York", "first": first,
         "consent": "intake-form"}
    ).encode()  # fmt: skip
    start = threading.Barrier(8)

    def enrol() -> tuple[int, str, str | None]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/patients", data=body, method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )  # fmt: skip
        start.wait(timeout=30)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode(), response.headers.get("Location")
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read().decode(), refused.headers.get("Location")

    try:
        wait_for_port(port, proc)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _n: enrol(), range(8)))
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    codes = sorted(code for code, _text, _location in answers)
    assert codes == [201] + [409] * 7, answers
    [created] = [json.loads(text) for code, text, _location in answers if code == 201]
    patient = created["patient"]["id"]
    for code, text, location in answers:
        if code == 409:
            assert location == f"/api/v1/patients/{patient}"
            assert f"(patient {patient})" in json.loads(text)["detail"][0]["msg"]
    assert "Traceback" not in err
    # No phone number in the log, in any of its forms.
    assert "5550123" not in err
    assert "555-0123" not in err


def wait_for_port(port: int, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/web", timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"reminders serve did not answer on port {port}")
