"""Sending due texts: claim with a lease, gate, send with no transaction open, record."""

from __future__ import annotations

from scheduler.dispatch.dispatcher import Counts, Dispatcher, DispatchOptions

__all__ = ["Counts", "DispatchOptions", "Dispatcher"]
