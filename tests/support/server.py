"""`reminders serve` in its own process, as an operator starts it, for tests that need a real server."""

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
from pathlib import Path

REMINDERS = Path(sys.executable).parent / "reminders"


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
