"""Real processes: two `dispatch --once` at the same time, and a worker stopped by SIGTERM.

Each runs the installed `reminders` command with the Twilio backend pointed at a fake Twilio on
loopback, over reminders written straight into the database.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.fake_twilio import FakeTwilio
from tests.support.processes import REMINDERS, environment, seed_due_welcomes, statuses


def test_two_dispatchers_started_together_send_each_text_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    with FakeTwilio() as fake:
        phones = seed_due_welcomes(database_url, 2000)
        env = environment(database_url, fake)
        procs = [
            subprocess.Popen(
                [str(REMINDERS), "dispatch", "--once", "--json"],
                env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for _ in range(2)
        ]  # fmt: skip
        outputs = [p.communicate(timeout=240) for p in procs]
        for proc, (_out, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, err[-2000:]
            assert "database is locked" not in err
        sent_to = [m["to"] for m in fake.messages]
    assert sorted(sent_to) == sorted(phones)
    assert statuses(database_url) == {"sent": 2000}


def test_the_worker_stops_on_sigterm_with_nothing_left_sending(database_url: str, tmp_path: Path) -> None:
    with FakeTwilio() as fake:
        phones = seed_due_welcomes(database_url, 300)
        for phone in phones:
            fake.script(phone, delay=0.05)
        proc = subprocess.Popen(
            [str(REMINDERS), "worker"],
            env=environment(database_url, fake), cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while len(fake.messages) < 20 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        sent_at_fake = len(fake.messages)
    counts = statuses(database_url)
    assert "sending" not in counts
    assert counts.get("sent", 0) == sent_at_fake
    assert 20 <= sent_at_fake < 300
    assert counts["pending"] == 300 - sent_at_fake
    assert "finishing sends in flight" in err


@pytest.mark.parametrize("signal_to_send", [signal.SIGINT])
def test_ctrl_c_stops_the_worker_too(database_url: str, tmp_path: Path, signal_to_send: int) -> None:
    with FakeTwilio() as fake:
        proc = subprocess.Popen(
            [str(REMINDERS), "worker"],
            env=environment(database_url, fake), cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(1.5)
        proc.send_signal(signal_to_send)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
