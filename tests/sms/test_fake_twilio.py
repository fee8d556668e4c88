"""The fake Twilio is strict enough to catch our own request bugs, and pages like Twilio."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from twilio.rest import Client

from scheduler.sms import RedirectingHttpClient, TwilioSender
from tests.support import fake_twilio as fake_module
from tests.support.fake_twilio import FakeTwilio
from tests.support.sms import BODY, FROM_NUMBER, PATIENT, SERVICE_SID, sms


def post(fake: FakeTwilio, form: dict[str, str], *, token: str | None = None) -> requests.Response:
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    return requests.post(url, data=form, auth=(fake.account_sid, token or fake.auth_token), timeout=5)


def twilio_client(fake: FakeTwilio) -> Any:
    http_client = RedirectingHttpClient(fake.base_url, timeout=5)
    return Client(
        fake.account_sid,
        fake.auth_token,
        http_client=http_client,
        environment={"TWILIO_ACCOUNT_SID": fake.account_sid},
    )


GOOD = {"To": PATIENT, "From": FROM_NUMBER, "Body": BODY}


def test_it_accepts_a_well_formed_message(fake_twilio: FakeTwilio) -> None:
    reply = post(fake_twilio, GOOD)

    assert reply.status_code == 201
    message = reply.json()
    assert message["sid"].startswith("SM")
    assert len(message["sid"]) == 34
    assert (message["to"], message["status"], message["date_sent"]) == (PATIENT, "queued", None)
    assert message["date_created"].endswith("+0000")
    assert fake_twilio.messages == [message]


@pytest.mark.parametrize(
    ("form", "code"),
    [
        (GOOD | {"Bodyy": "typo"}, 20001),
        ({"From": FROM_NUMBER, "Body": BODY}, 21604),
        (GOOD | {"To": "5555550100"}, 21211),
        ({"To": PATIENT, "Body": BODY}, 21603),
        ({"To": PATIENT, "MessagingServiceSid": "MG123", "Body": BODY}, 21705),
        ({"To": PATIENT, "From": FROM_NUMBER}, 21602),
        (GOOD | {"Body": "x" * 1601}, 21617),
        (GOOD | {"ValidityPeriod": "0"}, 21624),
        (GOOD | {"ValidityPeriod": "36001"}, 21624),
        (GOOD | {"ValidityPeriod": "1h"}, 21624),
        (GOOD | {"StatusCallback": "https://bad_host.example/status"}, 21609),
        (GOOD | {"StatusCallback": "/twilio/status"}, 21609),
    ],
    ids=[
        "unknown-field",
        "no-to",
        "to-not-e164",
        "no-sender",
        "bad-service-sid",
        "no-body",
        "body-too-long",
        "validity-zero",
        "validity-too-long",
        "validity-not-integer",
        "callback-underscore-host",
        "callback-relative",
    ],
)
def test_it_rejects_a_request_twilio_would_not_take(
    fake_twilio: FakeTwilio, form: dict[str, str], code: int
) -> None:
    reply = post(fake_twilio, form)

    assert reply.status_code == 400
    assert reply.json()["code"] == code
    assert fake_twilio.messages == []
    assert fake_twilio.attempts[0].http_status == 400


def test_it_demands_the_right_basic_auth(fake_twilio: FakeTwilio) -> None:
    reply = post(fake_twilio, GOOD, token="wrong")

    assert reply.status_code == 401
    assert reply.json()["code"] == 20003
    assert fake_twilio.attempts[0].username is None


def test_it_answers_accepted_for_a_messaging_service(fake_twilio: FakeTwilio) -> None:
    reply = post(fake_twilio, {"To": PATIENT, "MessagingServiceSid": SERVICE_SID, "Body": BODY})

    assert reply.json()["status"] == "accepted"


def test_it_rejects_an_unknown_list_filter(fake_twilio: FakeTwilio) -> None:
    url = f"{fake_twilio.base_url}/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"

    reply = requests.get(
        url, params={"Too": PATIENT}, auth=(fake_twilio.account_sid, fake_twilio.auth_token), timeout=5
    )

    assert reply.status_code == 400


def test_it_takes_field_names_from_the_openapi_subset_kept_in_the_repository() -> None:
    # The subset is a file of this repository, so every clone checks requests the same way.
    assert fake_module.OPENAPI_PATH.is_relative_to(Path(__file__).resolve().parents[1])
    create, listing = fake_module.load_fields(fake_module.OPENAPI_PATH)
    assert {"To", "From", "MessagingServiceSid", "Body", "StatusCallback", "ValidityPeriod"} <= create
    assert {"To", "From", "PageSize", "Page", "PageToken", "DateSent>"} <= listing
    assert (create, listing) == (fake_module.CREATE_FIELDS, fake_module.LIST_PARAMS)


def test_it_fails_loudly_when_the_openapi_subset_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        fake_module.load_fields(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"paths": {}}')
    with pytest.raises(KeyError):
        fake_module.load_fields(broken)


def test_twilio_python_pages_through_its_list_newest_first(fake_twilio: FakeTwilio) -> None:
    sender = TwilioSender(
        fake_twilio.account_sid,
        fake_twilio.auth_token,
        from_number=FROM_NUMBER,
        api_base_url=fake_twilio.base_url,
    )
    sids = [sender.send(sms()).provider_sid for _ in range(3)]

    listed = twilio_client(fake_twilio).messages.list(to=PATIENT, page_size=1, limit=3)

    assert [m.sid for m in listed] == sids[::-1]
    assert fake_twilio.requests == 3 + 3  # one request per page


def test_a_date_sent_filter_leaves_out_messages_not_sent_yet(fake_twilio: FakeTwilio) -> None:
    post(fake_twilio, GOOD)
    yesterday = datetime.now(UTC) - timedelta(days=1)

    assert twilio_client(fake_twilio).messages.list(to=PATIENT, date_sent_after=yesterday) == []
    assert len(twilio_client(fake_twilio).messages.list(to=PATIENT)) == 1


def test_reset_forgets_messages_attempts_and_scripts(fake_twilio: FakeTwilio) -> None:
    fake_twilio.script(PATIENT, code=21610)
    post(fake_twilio, GOOD)

    fake_twilio.reset()

    assert post(fake_twilio, GOOD).status_code == 201
    assert (len(fake_twilio.messages), len(fake_twilio.attempts), fake_twilio.requests) == (1, 1, 1)
