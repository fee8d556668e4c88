"""Twilio's webhooks: delivery status callbacks and inbound texts, both signed by Twilio."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from scheduler.config import Settings
from scheduler.services.delivery import DeliveryReport, DeliveryReports
from scheduler.services.replies import Replies
from scheduler.sms.twilio import signature_is_valid, twiml_message

log = logging.getLogger("scheduler.web.twilio")


def twilio_router(settings: Settings, reports: DeliveryReports, replies: Replies) -> APIRouter:
    router = APIRouter(prefix="/twilio", include_in_schema=False)

    async def signed_form(request: Request) -> dict[str, str] | None:
        """The posted form if Twilio signed it for this URL, else None (and nothing is done)."""
        form = {k: v for k, v in (await request.form()).multi_items() if isinstance(v, str)}
        token = settings.twilio_auth_token
        if not token:
            log.warning("webhook refused: TWILIO_AUTH_TOKEN is not set, so no signature can be checked")
            return None
        # Behind a TLS-terminating proxy the request arrives as http://internal-host; Twilio signed
        # the public URL, which PUBLIC_BASE_URL names.
        base = settings.public_base_url or str(request.base_url).rstrip("/")
        url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if not signature_is_valid(token, url, form, request.headers.get("X-Twilio-Signature")):
            log.warning("webhook refused: bad or missing X-Twilio-Signature on %s", request.url.path)
            return None
        return form

    @router.post("/status")
    async def status(request: Request) -> Response:
        form = await signed_form(request)
        if form is None:
            return Response("forbidden", status_code=403)
        message_id = request.query_params.get("message_id", "")
        code = form.get("ErrorCode", "")
        report = DeliveryReport(
            status=form.get("MessageStatus", form.get("SmsStatus", "")).lower(),
            message_id=_small_int(message_id),
            provider_sid=form.get("MessageSid") or None,
            error_code=_small_int(code),
        )
        if not report.status:
            return Response("missing MessageStatus", status_code=400)
        await run_in_threadpool(reports.apply, report)
        return Response(status_code=204)

    @router.post("/inbound")
    async def inbound(request: Request) -> Response:
        form = await signed_form(request)
        if form is None:
            return Response("forbidden", status_code=403)
        answer = await run_in_threadpool(
            replies.receive,
            form.get("From", ""),
            form.get("Body", ""),
            form.get("MessageSid") or None,
            form.get("OptOutType") or None,
        )
        return Response(twiml_message(answer), media_type="application/xml")

    return router


def _small_int(value: str) -> int | None:
    """A plain decimal that fits any integer column, else None."""
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None
