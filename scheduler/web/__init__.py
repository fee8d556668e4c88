"""The web application: health check, Twilio webhooks (and, later, the admin and its API)."""

from __future__ import annotations

from scheduler.web.app import create_app

__all__ = ["create_app"]
