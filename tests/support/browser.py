"""What the browser tests share: the server they drive, its staff account, and the clinic's day."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from scheduler.app import build
from scheduler.clock import SystemClock
from scheduler.domain.timeutil import to_local, zone
from scheduler.services import EnrolRequest
from scheduler.services.accounts import Accounts
from scheduler.services.replies import Replies
from tests.support import make_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
REMINDERS = Path(sys.executable).parent / "reminders"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
EMAIL = "front.desk@example.org"
PASSWORD = "a long enough password"
ZONE = "America/New_York"  # the clinic's default zone, and the patients'


@dataclass(frozen=True)
class Server:
    url: str
    database_url: str
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clinic_today() -> datetime:
    """Midnight today in the clinic's zone, as a naive local time."""
    local = to_local(SystemClock().now(), zone(ZONE))
    return datetime.combine(local.date(), datetime.min.time())


def seed(database_url: str) -> None:
    """A staff account, and a patient whose session is tomorrow and who asked to change it and
    sent a question, so Today has something on it."""
    app = build(make_settings(database_url))
    try:
        Accounts(app.database, app.clock).add_user(EMAIL, PASSWORD)
        tomorrow = clinic_today() + timedelta(days=1, hours=10)
        bo = app.clinic("test:seed").enrol(
            EnrolRequest(
                "Bo Chen", "(201) 555-0456", ZONE, "iv-6x-2w", f"{tomorrow:%Y-%m-%d %H:%M}", "verbal"
            )
        )
        replies = Replies(app.settings, app.protocols, app.database, app.clock)
        replies.receive(bo.patient.phone, "R", "SMseedchange")
        replies.receive(bo.patient.phone, "Is there parking near the clinic?", "SMseedother")
    finally:
        app.close()


@contextmanager
def serving(
    tmp_path: Path, database_url: str, env: Mapping[str, str], *, worker: bool, port: int | None = None
) -> Iterator[Server]:
    """`reminders serve` on `database_url` with the settings `env`, until the block ends."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "SMS_", "DATABASE_", "PUBLIC_", "STAFF_"))
    }
    clean.update(DATABASE_URL=database_url, SECRET_KEY="browser-test-" + "k" * 32, **env)
    log = tmp_path / "serve.log"
    command = [str(REMINDERS), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as out:
        proc = subprocess.Popen(
            command if worker else [*command, "--no-worker"],
            env=clean, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                # This web process answers (a worker, if any, may not have ticked yet).
                with urllib.request.urlopen(f"{url}/healthz/web", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"reminders serve did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield Server(url, database_url, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
