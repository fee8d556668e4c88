"""The Twilio sender: the only module that imports twilio; turns its errors into `SmsSendError`."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from scheduler.errors import Failure, SmsSendError
from scheduler.sms.base import OutgoingSms, ProviderMessage, SendReceipt, classify

_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")

# twilio-python logs every request URL at INFO, and a message-list URL carries `To=<patient number>`.
# Its requests go to this logger instead of `twilio.http_client`, held at WARNING so that turning
# the root logger up to INFO cannot put patient numbers into the logs.
_HTTP_LOGGER = logging.getLogger("scheduler.sms.twilio_http")
_HTTP_LOGGER.setLevel(logging.WARNING)

# A reconciler looks for one message sent minutes ago; one patient gets at most a few texts a day.
_LIST_PAGE_SIZE = 50
_LIST_LIMIT = 200


class RedirectingHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no type hints
    """A `TwilioHttpClient` that sends every request to another scheme and host (a loopback fake).

    The path and query are kept, so the real client still builds, signs and parses every request.
    """

    def __init__(
        self, base_url: str, *, timeout: float | None = None, logger: logging.Logger = _HTTP_LOGGER
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("TWILIO_API_BASE_URL must be an http(s) URL with a host")
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise ValueError("TWILIO_API_BASE_URL must not have a path, query or fragment")
        super().__init__(timeout=timeout, logger=logger)
        self.base_scheme = parts.scheme
        self.base_netloc = parts.netloc

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        target = urlsplit(url)._replace(scheme=self.base_scheme, netloc=self.base_netloc).geturl()
        return super().request(
            method,
            target,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


class TwilioSender:
    """Sends through Twilio's Messages API with the real twilio-python client and a timeout."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        api_base_url: str | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        if not _ACCOUNT_SID.match(account_sid):
            raise ValueError("account_sid must be 'AC' followed by 32 hex digits")
        if not auth_token:
            raise ValueError("auth_token must not be empty")
        if (from_number is None) == (messaging_service_sid is None):
            raise ValueError("give exactly one of from_number and messaging_service_sid")
        if from_number is not None and not from_number.strip():
            raise ValueError("from_number must not be empty")
        if messaging_service_sid is not None and not _MESSAGING_SERVICE_SID.match(messaging_service_sid):
            raise ValueError("messaging_service_sid must be 'MG' followed by 32 hex digits")
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self._from_number = from_number
        self._messaging_service_sid = messaging_service_sid
        # The default TwilioHttpClient has no timeout and would wait forever on a stalled request.
        http_client = (
            RedirectingHttpClient(api_base_url, timeout=timeout_seconds)
            if api_base_url
            else TwilioHttpClient(timeout=timeout_seconds, logger=_HTTP_LOGGER)
        )
        # An empty `environment` falls back to os.environ, where a stray TWILIO_EDGE/TWILIO_REGION
        # (from .env via load_dotenv) would silently change the API host.
        self._client: Any = Client(
            account_sid,
            auth_token,
            http_client=http_client,
            environment={"TWILIO_ACCOUNT_SID": account_sid, "TWILIO_AUTH_TOKEN": auth_token},
        )

    def send(self, sms: OutgoingSms) -> SendReceipt:
        """Create one Message; raise `SmsSendError` saying whether and how it may be retried."""
        params: dict[str, object] = {"to": sms.to, "body": sms.body}
        if self._messaging_service_sid is not None:
            params["messaging_service_sid"] = self._messaging_service_sid
        else:
            params["from_"] = self._from_number
        if sms.status_callback is not None:
            params["status_callback"] = sms.status_callback
        if sms.validity_period_seconds is not None:
            params["validity_period"] = sms.validity_period_seconds
        # Every `raise ... from None` below drops the original exception from tracebacks: Twilio's
        # messages and requests' URLs can quote the patient's number.
        try:
            message = self._client.messages.create(**params)
        except (TwilioRestException, TwilioServiceException) as exc:
            code, http_status = _as_int(exc.code), _as_int(exc.status)
            raise SmsSendError(classify(code, http_status), code=code, http_status=http_status) from None
        except requests.RequestException as exc:
            raise _transport_error(exc) from None
        except json.JSONDecodeError:
            # A 2xx whose body is not JSON: the message was most likely created.
            raise SmsSendError(Failure.UNKNOWN, reason="unreadable success response") from None
        except TwilioException as exc:
            # Nothing in the create path raises a bare TwilioException before the HTTP call, so the
            # message may exist; the reconciler can tell, a blind resend cannot.
            raise SmsSendError(Failure.UNKNOWN, reason=type(exc).__name__) from None
        return SendReceipt(provider_sid=message.sid, status=str(message.status))

    def recent_messages(self, to: str, since: datetime) -> list[ProviderMessage]:
        """Messages to `to` created at or after `since`, newest first.

        No `DateSent>` filter is sent: `date_sent` stays null while a message is queued (exactly the
        message a reconciler is looking for) and Twilio's filter is by GMT day. The list is bounded by
        `To` and `_LIST_LIMIT`, and filtered here on `date_created`.
        """
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        # Twilio dates have whole seconds; without truncation a message from the same second is lost.
        since_utc = since.astimezone(UTC).replace(microsecond=0)
        try:
            records: list[Any] = self._client.messages.list(
                to=to, page_size=_LIST_PAGE_SIZE, limit=_LIST_LIMIT
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _read_error(_as_int(exc.code), _as_int(exc.status)) from None
        except requests.RequestException as exc:
            raise SmsSendError(Failure.RETRY, reason=type(exc).__name__) from None
        except TwilioException as exc:
            raise _page_error(exc) from None
        found = [_provider_message(record) for record in records]
        return [m for m in found if m.date_created is None or m.date_created >= since_utc]


def _transport_error(exc: requests.RequestException) -> SmsSendError:
    if _never_connected(exc):
        return SmsSendError(Failure.RETRY, reason=f"{type(exc).__name__} before sending")
    # A read timeout, or a connection reset or closed after the request went out: Twilio may have
    # created the message (twilio-ruby issue 306).
    return SmsSendError(Failure.UNKNOWN, reason=f"{type(exc).__name__} after sending")


def _never_connected(exc: requests.RequestException) -> bool:
    """True when no connection was made, so the request cannot have reached Twilio."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError) or not exc.args:
        return False
    reason = exc.args[0]
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    # urllib3's NewConnectionError (refused) and NameResolutionError subclass ConnectTimeoutError.
    return isinstance(reason, ConnectTimeoutError)


def _read_error(code: int | None, http_status: int | None) -> SmsSendError:
    failure = classify(code, http_status)
    # A read changes nothing, so a failure that would be "unknown" for a send is simply retryable.
    if failure is Failure.UNKNOWN:
        failure = Failure.RETRY
    return SmsSendError(failure, code=code, http_status=http_status)


def _page_error(exc: TwilioException) -> SmsSendError:
    """`Page` raises a bare TwilioException("Unable to fetch page", response) for a non-200 page."""
    response = exc.args[1] if len(exc.args) > 1 else None
    http_status = _as_int(getattr(response, "status_code", None))
    code: int | None = None
    try:
        payload = json.loads(getattr(response, "text", ""))
        code = _as_int(payload.get("code")) if isinstance(payload, dict) else None
    except (TypeError, ValueError):
        pass
    if http_status is None:
        return SmsSendError(Failure.REVIEW, reason=type(exc).__name__)
    return _read_error(code, http_status)


def _provider_message(record: Any) -> ProviderMessage:
    created = record.date_created
    if isinstance(created, datetime):
        created = created.astimezone(UTC) if created.tzinfo else created.replace(tzinfo=UTC)
    else:
        created = None
    return ProviderMessage(
        sid=str(record.sid),
        to=record.to,
        from_=record.from_,
        body=record.body,
        status=None if record.status is None else str(record.status),
        error_code=_as_int(record.error_code),
        date_created=created,
        messaging_service_sid=record.messaging_service_sid,
    )


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def signature_is_valid(auth_token: str, url: str, params: dict[str, str], signature: str | None) -> bool:
    """Whether `signature` (the X-Twilio-Signature header) is Twilio's for this URL and form."""
    if not signature:
        return False
    from twilio.request_validator import RequestValidator

    return bool(RequestValidator(auth_token).validate(url, params, signature))


def twiml_message(text: str | None) -> str:
    """A TwiML document that answers an inbound text with `text`, or with nothing."""
    from twilio.twiml.messaging_response import MessagingResponse

    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)
