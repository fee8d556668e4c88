"""Treatment-schedule SMS reminders: plans a course of sessions and texts patients through Twilio."""

from __future__ import annotations

__version__ = "0.1.0"
