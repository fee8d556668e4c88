"""`reminders serve` as a newcomer runs it: answers /healthz, sends due texts, stops on SIGTERM;
and as a clinic's EHR meets it: racing enrolments, with nothing about them in the log."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scheduler.app import build
from scheduler.services.api_tokens import ApiTokens
from tests.support import make_settings
from tests.support.processes import seed_due_welcomes, statuses
from tests.support.server import REMINDERS, free_port, serving

GIB = 1 << 30
MIB = 1 << 20


def test_serve_answers_healthz_sends_due_texts_and_stops_cleanly(database_url: str, tmp_path: Path) -> None:
    seed_due_welcomes(database_url, 5)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SMS_", "DATABASE_"))}
    env.update(
        DATABASE_URL=database_url, SMS_BACKEND="console", DISPATCH_INTERVAL_SECONDS="1", SECRET_KEY="s" * 32
    )
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


def serve_env(database_url: str, **changes: str) -> dict[str, str]:
    unset = ("TWILIO_", "SMS_", "DATABASE_", "SECRET_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(unset)}
    env.update(DATABASE_URL=database_url, SMS_BACKEND="console", **changes)
    return env


def refused_start(env: dict[str, str], cwd: Path) -> str:
    """Run `reminders serve`, expecting it to refuse at once with exit 2; its error line."""
    command = [str(REMINDERS), "serve", "--port", str(free_port())]
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    return done.stderr


def test_serve_refuses_to_start_without_a_good_secret_key(database_url: str, tmp_path: Path) -> None:
    missing = refused_start(serve_env(database_url), tmp_path)
    assert "SECRET_KEY" in missing
    assert "--demo" in missing
    assert "at least 32 characters" in refused_start(serve_env(database_url, SECRET_KEY="a"), tmp_path)


def upload(port: int, path: str, content_type: str, declared: int | None) -> tuple[int, int]:
    """POST a body of `declared` bytes (chunked when None), sending until the server answers or
    256 MiB have gone; returns the status and the bytes sent."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
    head += f"Content-Length: {declared}\r\n" if declared is not None else "Transfer-Encoding: chunked\r\n"
    chunk = b'--x\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\n'.ljust(MIB, b"a")
    if declared is None:
        chunk = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall((head + "\r\n").encode())
        while sent < 256 * MIB:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        answer = sock.recv(4096).decode("latin-1")
    return int(answer.split(" ", 2)[1]), sent


def test_a_huge_upload_is_refused_before_anything_is_written_to_disk(
    database_url: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"  # the server's TMPDIR: where a parser would spool an upload
    spool.mkdir()
    with serving(
        tmp_path, database_url, {"TMPDIR": str(spool), "SMS_BACKEND": "console"}, worker=False
    ) as server:
        port = int(server.url.rsplit(":", 1)[1])
        multipart = "multipart/form-data; boundary=x"
        for path in ("/twilio/inbound", "/login", "/import"):
            status, sent = upload(port, path, multipart, declared=GIB)
            assert status in (413, 415), path
            assert sent < 64 * MIB, path  # refused on its headers, long before the body was in
        # Without a declared length the body is counted as it arrives.
        status, _ = upload(port, "/twilio/inbound", "application/x-www-form-urlencoded", declared=None)
        assert status == 413
        status, _ = upload(port, "/import", multipart, declared=None)
        assert status in (303, 413)  # to sign in first, or too large
    spooled = sum(f.stat().st_size for f in spool.rglob("*") if f.is_file())
    assert spooled < 4 * MIB


def test_eight_identical_enrolments_at_once_give_one_201_and_seven_409s_naming_the_patient(
    database_url: str, tmp_path: Path
) -> None:
    """A client retrying an enrolment races itself: both requests find the number free, one
    commits first. The other is told who has the number, and nothing lands in the log."""
    built = build(make_settings(database_url), check=False)
    try:
        token = ApiTokens(built.database, built.clock).add("ehr")
    finally:
        built.close()
    port = free_port()
    env = serve_env(database_url, SECRET_KEY="s" * 32)
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
            assert json.loads(text)["patient_id"] == patient
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
