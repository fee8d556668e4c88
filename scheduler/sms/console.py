"""The console sender: prints each text to a stream, the default backend when Twilio is not configured."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TextIO

from scheduler.sms.base import OutgoingSms, ProviderMessage, SendReceipt, mask_phone


class ConsoleSender:
    """Prints one line per text: the masked number and the body.

    Showing the body on stdout is the point of this development backend. It never goes through
    `logging`, where it could reach shipped log files.
    """

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        # None means "sys.stdout at the time of sending", so a redirected or captured stdout is used.
        self._stream = stream

    def send(self, sms: OutgoingSms) -> SendReceipt:
        stream = self._stream if self._stream is not None else sys.stdout
        # Newlines are escaped so that each text stays one line.
        body = sms.body.replace("\r\n", "\n").replace("\n", "\\n")
        print(f"[sms to {mask_phone(sms.to)}] {body}", file=stream, flush=True)
        return SendReceipt(provider_sid=None, status="sent")

    def recent_messages(self, to: str, since: datetime) -> list[ProviderMessage]:
        """Nothing to reconcile: a printed text cannot be in doubt."""
        return []
