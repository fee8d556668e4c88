"""Sending due texts: claim with a lease, gate, send with no transaction open, record.

`dispatcher` runs the loop; `batch` gates, sends and records one batch; `reconcile` looks sends in
doubt up at the provider. The statements that claim and hold texts are in `scheduler.store.outbox`.
"""

from __future__ import annotations

from scheduler.dispatch.context import Counts, DispatchOptions
from scheduler.dispatch.dispatcher import Dispatcher

__all__ = ["Counts", "DispatchOptions", "Dispatcher"]
