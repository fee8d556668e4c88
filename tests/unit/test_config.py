"""Settings are parsed strictly; a bad value names its variable."""

from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path

import pytest

from scheduler.config import Settings
from scheduler.domain.states import Language
from scheduler.domain.templates import BUILT_IN
from scheduler.errors import ConfigError
from scheduler.store.db import make_engine


def test_defaults_run_on_sqlite_with_the_console_backend() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///reminders.db"
    assert settings.effective_sms_backend == "console"
    assert settings.clinic_closed_days == {5, 6}
    assert (settings.send_window.start, settings.send_window.end) == (time(9), time(20))
    assert settings.daily_text_limit == 1


def test_twilio_is_chosen_when_its_credentials_are_set() -> None:
    settings = Settings.from_env(
        {
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": "secret",
            "TWILIO_FROM_NUMBER": "+12015550100",
        }
    )
    assert settings.effective_sms_backend == "twilio"
    assert "secret" not in repr(settings)


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "CLINIC_CLOSED_DAYS": "Sun, mon",
            "SEND_WINDOW": "08:30-19:00",
            "DAILY_TEXT_LIMIT": "2",
            "CLINIC_PHONE": "(201) 555-0100",
            "PUBLIC_BASE_URL": "https://reminders.example.org/",
            "SMS_BACKEND": "console",
            "SESSION_IDLE_MINUTES": "15",
            "ALLOWED_HOSTS": "reminders.example.org, *.clinic.example",
        }
    )
    assert settings.session_idle_minutes == 15
    assert settings.allowed_hosts == ("reminders.example.org", "*.clinic.example")
    assert settings.clinic_closed_days == {6, 0}
    assert settings.send_window.start == time(8, 30)
    assert settings.daily_text_limit == 2
    assert settings.clinic_phone == "+12015550100"
    assert settings.public_base_url == "https://reminders.example.org"


def test_an_empty_closed_days_value_opens_every_day() -> None:
    assert Settings.from_env({"CLINIC_CLOSED_DAYS": ""}).clinic_closed_days == frozenset()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMS_BACKEND", "carrier-pigeon"),
        ("SEND_WINDOW", "9-5"),
        ("SEND_WINDOW", "20:00-09:00"),
        ("DAILY_TEXT_LIMIT", "zero"),
        ("DAILY_TEXT_LIMIT", "0"),
        ("DISPATCH_INTERVAL_SECONDS", "-1"),
        ("CLINIC_CLOSED_DAYS", "Funday"),
        ("CLINIC_CLOSED_DAYS", "mon,tue,wed,thu,fri,sat,sun"),
        ("CLINIC_TIMEZONE", "Mars/Olympus"),
        ("CLINIC_PHONE", "12345"),
        ("CLINIC_NAME", "A clinic name far too long to fit in a text"),
        ("DEFAULT_PHONE_REGION", "ZZ"),
        ("PUBLIC_BASE_URL", "reminders.example.org"),
        ("TWILIO_MESSAGING_SERVICE_SID", "MG123"),
        ("PROTOCOLS_FILE", "/nonexistent/protocols.toml"),
        ("CLINIC_EMERGENCY_NUMBER", "call 911"),
        ("CLINIC_CRISIS_LINE", "a crisis line whose name is far too long"),
        ("STAFF_ALERT_PHONE", "12345"),
        ("STAFF_ALERT_WEBHOOK_URL", "alerts.example.org"),
        ("EVENT_WEBHOOK_URL", "ftp://ehr.example.org/events"),
        ("SECRET_KEY", "a"),
        ("SESSION_IDLE_MINUTES", "0"),
        ("SESSION_MAX_HOURS", "1000"),
        ("ALLOWED_HOSTS", "https://reminders.example.org/"),
        ("HEARTBEAT_INTERVAL_SECONDS", "0"),
        ("WORKER_STALE_SECONDS", "half a minute"),
        ("CLAIM_LEASE_SECONDS", "5"),
        ("RECONCILE_AFTER_SECONDS", "86400"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_worker_liveness_settings_are_read_with_their_defaults() -> None:
    defaults = Settings.from_env({})
    assert (defaults.heartbeat_interval, defaults.worker_stale_after) == (
        timedelta(seconds=5),
        timedelta(seconds=30),
    )
    assert (defaults.claim_lease, defaults.reconcile_after) == (timedelta(minutes=5), timedelta(minutes=2))
    changed = Settings.from_env(
        {
            "HEARTBEAT_INTERVAL_SECONDS": "1",
            "WORKER_STALE_SECONDS": "4",
            "CLAIM_LEASE_SECONDS": "60",
            "RECONCILE_AFTER_SECONDS": "2",
        }
    )
    assert changed.worker_stale_after == timedelta(seconds=4)
    assert changed.claim_lease == timedelta(minutes=1)
    assert changed.reconcile_after == timedelta(seconds=2)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"HEARTBEAT_INTERVAL_SECONDS": "20"}, "WORKER_STALE_SECONDS must be at least three times"),
        ({"WORKER_STALE_SECONDS": "600"}, "CLAIM_LEASE_SECONDS must be at least WORKER_STALE_SECONDS"),
    ],
    ids=["stale-before-three-heartbeats", "lease-shorter-than-staleness"],
)
def test_liveness_settings_that_would_take_a_live_worker_for_gone_are_refused(
    values: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(values)


def test_forcing_twilio_without_credentials_is_refused() -> None:
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID"):
        Settings.from_env({"SMS_BACKEND": "twilio"})


def test_no_secret_is_quoted_in_an_error() -> None:
    with pytest.raises(ConfigError) as short:
        Settings.from_env({"SECRET_KEY": "hunter2-hunter2"})
    assert "hunter2" not in str(short.value)
    with pytest.raises(ConfigError, match="DATABASE_URL") as url:
        make_engine("postgresql://app:s3cr3t-pw@db:notaport/reminders")
    assert "s3cr3t" not in str(url.value)


def test_a_public_service_left_to_choose_without_twilio_refuses_to_only_print_texts() -> None:
    public = {"PUBLIC_BASE_URL": "https://reminders.example.org"}
    with pytest.raises(ConfigError, match="SMS_BACKEND=console"):
        Settings.from_env(public)
    chosen = Settings.from_env({**public, "SMS_BACKEND": "console"})
    assert chosen.printing_in_production
    assert not Settings.from_env({"PUBLIC_BASE_URL": "http://localhost:8000"}).printing_in_production


def test_a_protocols_file_that_exists_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("")
    assert Settings.from_env({"PROTOCOLS_FILE": str(path)}).protocols_file == path


def test_env_example_documents_every_setting_and_parses() -> None:
    root = Path(__file__).resolve().parents[2]
    source = (root / "scheduler" / "config.py").read_text()
    read = set(re.findall(r'get\("([A-Z_]+)"\)', source)) | set(
        re.findall(r'env\.get\("([A-Z_]+)"\)', source)
    )
    documented = set()
    values = {}
    for line in (root / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            documented.add(name)
            values[name] = value
    assert read == documented
    Settings.from_env(values)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("Ketamine Care", "names 'ketamine'"),
        ("Clínica Sol", "UCS-2 characters (because of 'í')"),
        ("Infusion Lab", "infusion"),
    ],
    ids=["drug", "accent", "procedure"],
)
def test_a_clinic_name_that_would_break_the_texts_is_refused(name: str, problem: str) -> None:
    with pytest.raises(ConfigError, match="CLINIC_NAME") as info:
        Settings.from_env({"CLINIC_NAME": name})
    assert problem in str(info.value)


@pytest.mark.parametrize(
    ("phone", "emergency", "crisis"),
    [
        ("+12015550100", "911", "call or text 988"),
        ("+16135550100", "911", "call or text 988"),  # Canada
        ("+442071838750", "999", "Samaritans 116 123"),
        ("+61293744000", "000", "Lifeline 13 11 14"),
    ],
    ids=["us", "canada", "uk", "australia"],
)
def test_emergency_and_crisis_lines_default_from_the_clinics_country(
    phone: str, emergency: str, crisis: str
) -> None:
    settings = Settings.from_env({"CLINIC_PHONE": phone})
    assert (settings.clinic_emergency_number, settings.clinic_crisis_line) == (emergency, crisis)


def test_a_clinic_in_a_country_without_defaults_must_set_both_lines() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"CLINIC_PHONE": "+33142685300"})
    assert "CLINIC_EMERGENCY_NUMBER" in str(info.value)
    assert "CLINIC_CRISIS_LINE" in str(info.value)
    with pytest.raises(ConfigError, match="CLINIC_CRISIS_LINE"):
        Settings.from_env({"CLINIC_PHONE": "+33142685300", "CLINIC_EMERGENCY_NUMBER": "112"})
    settings = Settings.from_env(
        {"CLINIC_PHONE": "+33142685300", "CLINIC_EMERGENCY_NUMBER": "112", "CLINIC_CRISIS_LINE": "SOS 3114"}
    )
    assert (settings.voice.emergency, settings.voice.crisis) == ("112", "SOS 3114")


def test_a_staff_alert_webhook_needs_a_secret_to_sign_with() -> None:
    with pytest.raises(ConfigError, match="STAFF_ALERT_WEBHOOK_SECRET"):
        Settings.from_env({"STAFF_ALERT_WEBHOOK_URL": "https://alerts.example.org/hook"})


def test_the_ehr_event_webhook_needs_a_secret_to_sign_with() -> None:
    with pytest.raises(ConfigError, match="EVENT_WEBHOOK_URL needs EVENT_WEBHOOK_SECRET"):
        Settings.from_env({"EVENT_WEBHOOK_URL": "https://ehr.example.org/events"})
    both = {"EVENT_WEBHOOK_URL": "https://ehr.example.org/events/", "EVENT_WEBHOOK_SECRET": "s3cret"}
    settings = Settings.from_env(both)
    assert settings.event_webhook_url == "https://ehr.example.org/events"
    assert "s3cret" not in repr(settings)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "templates.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_templates_file_replaces_the_built_in_wording(tmp_path: Path) -> None:
    path = write(tmp_path, '[es]\n"check-in" = "Hoy descanse. ¿Dudas? {phone}. Emergencias: {emergency}."\n')
    settings = Settings.from_env({"TEMPLATES_FILE": str(path)})
    assert settings.templates.template(Language.ES, "check-in").startswith("Hoy descanse. ¿Dudas?")
    assert settings.templates.template(Language.EN, "check-in") == BUILT_IN.template(Language.EN, "check-in")


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        (
            '[en]\nconfirm = "Visit {when}. Reply C or R. {phone}"\n',
            "[en] confirm has an unknown placeholder {when}",
        ),
        ('[es]\n"prep:iv" = "{day} {time}: nada de ketamina antes."\n', "[es] prep:iv names 'ketamina'"),
        ('[es]\n"day-of" = "' + "Hoy, {time}. Llegue antes. " * 14 + '"\n', "[es] day-of is"),
        ("[en]\nwelcome = 'Hi'\n[fr]\nwelcome = 'Salut'\n", "[fr] is not a language"),
        ("[en\n", "cannot be read as TOML"),
    ],
    ids=["placeholder", "forbidden-word", "too-long", "language", "not-toml"],
)
def test_a_bad_templates_file_stops_start_up_naming_the_template(
    tmp_path: Path, toml: str, named: str
) -> None:
    with pytest.raises(ConfigError, match="TEMPLATES_FILE") as info:
        Settings.from_env({"TEMPLATES_FILE": str(write(tmp_path, toml))})
    assert named in str(info.value)


def test_a_sqlite_library_too_old_for_the_outbox_statements_is_refused_by_name() -> None:
    from scheduler.store.db import check_sqlite

    check_sqlite((3, 35, 0))
    check_sqlite((3, 40, 1))
    with pytest.raises(ConfigError, match=r"SQLite 3\.35\.0 or later is needed; this Python has 3\.34\.1"):
        check_sqlite((3, 34, 1))
