"""The console sender prints each text on one line with the number masked."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime

import pytest

from scheduler.sms import ConsoleSender, OutgoingSms, SendReceipt, SmsSender
from tests.support.sms import BODY, PATIENT, sms


def test_it_prints_the_masked_number_and_the_body(capsys: pytest.CaptureFixture[str]) -> None:
    receipt = ConsoleSender().send(sms())

    assert capsys.readouterr().out == f"[sms to +1******0100] {BODY}\n"
    assert receipt == SendReceipt(provider_sid=None, status="sent")


def test_it_keeps_a_multi_line_text_on_one_line() -> None:
    stream = io.StringIO()

    ConsoleSender(stream).send(OutgoingSms(PATIENT, "Line one\nLine two"))

    assert stream.getvalue() == "[sms to +1******0100] Line one\\nLine two\n"


def test_it_never_logs_the_body(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    ConsoleSender(io.StringIO()).send(sms())

    assert BODY not in caplog.text


def test_it_has_nothing_to_reconcile() -> None:
    sender: SmsSender = ConsoleSender(io.StringIO())

    assert sender.name == "console"
    assert sender.recent_messages(PATIENT, datetime.now(UTC)) == []
