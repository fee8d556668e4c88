"""Settings, parsed strictly from an environment mapping; a bad value names its variable."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time, timedelta
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from scheduler.domain.states import Language
from scheduler.domain.templates import BUILT_IN, Catalogue, Voice
from scheduler.domain.window import SendWindow
from scheduler.errors import ConfigError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SMS_BACKENDS = ("auto", "twilio", "console")
# Every template is checked to fit one SMS with a clinic name this long.
MAX_CLINIC_NAME = 20
DEFAULT_SEND_WINDOW = SendWindow(time(9, 0), time(20, 0))
# The emergency number and crisis line of the countries whose clinics need not set them.
_NANP = ("911", "call or text 988")
EMERGENCY_LINES = {
    **dict.fromkeys(("US", "CA", "PR", "VI", "GU", "AS", "MP"), _NANP),
    "GB": ("999", "Samaritans 116 123"),
    "AU": ("000", "Lifeline 13 11 14"),
}
# The built-in crisis lines in the other languages texts are written in.
CRISIS_TRANSLATIONS: Mapping[str, Mapping[Language, str]] = {
    "call or text 988": {Language.ES: "llame o escriba al 988"},
}
MAX_CRISIS_LINE = 30
MIN_SECRET_KEY = 32


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///reminders.db"
    sms_backend: str = "auto"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base_url: str | None = None
    twilio_advanced_opt_out: bool = False
    public_base_url: str | None = None
    clinic_name: str = "Oak St Clinic"
    clinic_phone: str = "+12015550100"
    clinic_timezone: str = "America/New_York"
    clinic_closed_days: frozenset[int] = frozenset({5, 6})
    default_phone_region: str = "US"
    send_window: SendWindow = DEFAULT_SEND_WINDOW
    daily_text_limit: int = 1
    dispatch_interval_seconds: float = 15.0
    send_rate_per_second: float = 10.0
    # Worker liveness and claims (see README, "How texts are sent"): each worker records that it is
    # alive every `heartbeat_interval_seconds`; one silent for `worker_stale_seconds` is gone, and
    # its claims are taken over at once. The lease is the backstop for a claim whose worker is
    # still alive but stuck. A send whose outcome is unknown is looked up after `reconcile_after`.
    heartbeat_interval_seconds: float = 5.0
    worker_stale_seconds: float = 30.0
    claim_lease_seconds: float = 300.0
    reconcile_after_seconds: float = 120.0
    secret_key: str | None = field(default=None, repr=False)
    protocols_file: Path | None = None
    clinic_emergency_number: str = "911"
    clinic_crisis_line: str = "call or text 988"
    staff_alert_phone: str | None = None
    staff_alert_webhook_url: str | None = None
    staff_alert_webhook_secret: str | None = field(default=None, repr=False)
    event_webhook_url: str | None = None  # the EHR's receiver of events (services/events.py)
    event_webhook_secret: str | None = field(default=None, repr=False)
    session_idle_minutes: int = 30
    # Requests per minute one API token may make (a burst of as many, then this rate).
    api_rate_per_minute: int = 600
    session_max_hours: int = 12
    allowed_hosts: tuple[str, ...] = ()  # empty: any Host header (links never use it)
    templates_file: Path | None = None
    templates: Catalogue = BUILT_IN  # with TEMPLATES_FILE's texts in place of the built-in ones

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from `env` (usually `os.environ` after `load_dotenv`)."""

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        defaults = cls()
        clinic_phone = _phone(get("CLINIC_PHONE") or defaults.clinic_phone, "CLINIC_PHONE")
        emergency, crisis = _emergency_lines(
            clinic_phone, get("CLINIC_EMERGENCY_NUMBER"), get("CLINIC_CRISIS_LINE")
        )
        backend = (get("SMS_BACKEND") or "auto").lower()
        if backend not in SMS_BACKENDS:
            raise ConfigError(f"SMS_BACKEND must be one of {', '.join(SMS_BACKENDS)}, not {backend!r}")
        settings = cls(
            database_url=get("DATABASE_URL") or defaults.database_url,
            sms_backend=backend,
            twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
            twilio_from_number=_optional_phone(get("TWILIO_FROM_NUMBER"), "TWILIO_FROM_NUMBER"),
            twilio_messaging_service_sid=_optional_match(
                get("TWILIO_MESSAGING_SERVICE_SID"),
                r"MG[0-9a-fA-F]{32}",
                "TWILIO_MESSAGING_SERVICE_SID",
            ),
            twilio_api_base_url=_optional_url(get("TWILIO_API_BASE_URL"), "TWILIO_API_BASE_URL"),
            twilio_advanced_opt_out=_bool(get("TWILIO_ADVANCED_OPT_OUT"), "TWILIO_ADVANCED_OPT_OUT"),
            public_base_url=_optional_url(get("PUBLIC_BASE_URL"), "PUBLIC_BASE_URL"),
            clinic_name=_clinic_name(get("CLINIC_NAME") or defaults.clinic_name),
            clinic_phone=clinic_phone,
            clinic_timezone=_timezone(get("CLINIC_TIMEZONE") or defaults.clinic_timezone),
            clinic_closed_days=_weekdays(env.get("CLINIC_CLOSED_DAYS"), defaults.clinic_closed_days),
            default_phone_region=_region(get("DEFAULT_PHONE_REGION") or "US"),
            send_window=_window(get("SEND_WINDOW"), defaults.send_window),
            daily_text_limit=_int(get("DAILY_TEXT_LIMIT"), "DAILY_TEXT_LIMIT", 1, 1, 10),
            dispatch_interval_seconds=_float(
                get("DISPATCH_INTERVAL_SECONDS"), "DISPATCH_INTERVAL_SECONDS", 15.0, 0.1, 3600
            ),
            send_rate_per_second=_float(
                get("SEND_RATE_PER_SECOND"), "SEND_RATE_PER_SECOND", 10.0, 0.01, 10_000
            ),
            heartbeat_interval_seconds=_float(
                get("HEARTBEAT_INTERVAL_SECONDS"), "HEARTBEAT_INTERVAL_SECONDS", 5.0, 0.5, 60
            ),
            worker_stale_seconds=_float(get("WORKER_STALE_SECONDS"), "WORKER_STALE_SECONDS", 30.0, 2, 3600),
            claim_lease_seconds=_float(get("CLAIM_LEASE_SECONDS"), "CLAIM_LEASE_SECONDS", 300.0, 30, 3600),
            reconcile_after_seconds=_float(
                get("RECONCILE_AFTER_SECONDS"), "RECONCILE_AFTER_SECONDS", 120.0, 1, 3600
            ),
            secret_key=get("SECRET_KEY"),
            protocols_file=_optional_file(get("PROTOCOLS_FILE"), "PROTOCOLS_FILE"),
            clinic_emergency_number=emergency,
            clinic_crisis_line=crisis,
            staff_alert_phone=_optional_phone(get("STAFF_ALERT_PHONE"), "STAFF_ALERT_PHONE"),
            staff_alert_webhook_url=_optional_url(get("STAFF_ALERT_WEBHOOK_URL"), "STAFF_ALERT_WEBHOOK_URL"),
            staff_alert_webhook_secret=get("STAFF_ALERT_WEBHOOK_SECRET"),
            event_webhook_url=_optional_url(get("EVENT_WEBHOOK_URL"), "EVENT_WEBHOOK_URL"),
            event_webhook_secret=get("EVENT_WEBHOOK_SECRET"),
            session_idle_minutes=_int(get("SESSION_IDLE_MINUTES"), "SESSION_IDLE_MINUTES", 30, 5, 24 * 60),
            api_rate_per_minute=_int(get("API_RATE_PER_MINUTE"), "API_RATE_PER_MINUTE", 600, 1, 100_000),
            session_max_hours=_int(get("SESSION_MAX_HOURS"), "SESSION_MAX_HOURS", 12, 1, 7 * 24),
            allowed_hosts=_hosts(get("ALLOWED_HOSTS")),
            templates_file=_optional_file(get("TEMPLATES_FILE"), "TEMPLATES_FILE"),
        )
        if settings.templates_file is not None:
            settings = replace(settings, templates=_templates(settings.templates_file))
        if settings.secret_key is not None and len(settings.secret_key) < MIN_SECRET_KEY:
            raise ConfigError(
                f"SECRET_KEY must have at least {MIN_SECRET_KEY} characters; generate one with "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        https = (settings.public_base_url or "").startswith("https://")
        if https and backend == "auto" and not settings.twilio_configured:
            raise ConfigError(
                "PUBLIC_BASE_URL is https but TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and a sender are not all "
                "set: texts would only be printed. Set them, or SMS_BACKEND=console to mean it"
            )
        if settings.staff_alert_webhook_url and not settings.staff_alert_webhook_secret:
            raise ConfigError("STAFF_ALERT_WEBHOOK_URL needs STAFF_ALERT_WEBHOOK_SECRET to sign its requests")
        if settings.event_webhook_url and not settings.event_webhook_secret:
            raise ConfigError("EVENT_WEBHOOK_URL needs EVENT_WEBHOOK_SECRET to sign its requests")
        _check_liveness(settings)
        check_texts(settings)
        if backend == "twilio" and not settings.twilio_configured:
            raise ConfigError(
                "SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID"
            )
        return settings

    @property
    def twilio_configured(self) -> bool:
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and (self.twilio_from_number or self.twilio_messaging_service_sid)
        )

    @property
    def printing_in_production(self) -> bool:
        """The console backend chosen on purpose for a public (https) service: texts are printed,
        not sent. Allowed, and warned about at start-up and on /healthz."""
        https = (self.public_base_url or "").startswith("https://")
        return https and self.effective_sms_backend == "console"

    @property
    def heartbeat_interval(self) -> timedelta:
        return timedelta(seconds=self.heartbeat_interval_seconds)

    @property
    def worker_stale_after(self) -> timedelta:
        """How long a worker may stay silent before it counts as gone."""
        return timedelta(seconds=self.worker_stale_seconds)

    @property
    def claim_lease(self) -> timedelta:
        return timedelta(seconds=self.claim_lease_seconds)

    @property
    def reconcile_after(self) -> timedelta:
        """How long a send whose outcome is unknown waits before it is looked up."""
        return timedelta(seconds=self.reconcile_after_seconds)

    @property
    def tick_overdue_after(self) -> timedelta:
        """How long without any worker's dispatch tick before monitoring says none is ticking: a
        tick runs every DISPATCH_INTERVAL_SECONDS, or back to back under a backlog."""
        return max(self.worker_stale_after, timedelta(seconds=4 * self.dispatch_interval_seconds))

    @cached_property
    def voice(self) -> Voice:
        """What every text says of the clinic."""
        from scheduler.domain.phones import readable

        return Voice(
            self.clinic_name,
            readable(self.clinic_phone),
            self.clinic_emergency_number,
            self.clinic_crisis_line,
            region=phonenumbers.region_code_for_number(phonenumbers.parse(self.clinic_phone)) or "US",
            crisis_translated=CRISIS_TRANSLATIONS.get(self.clinic_crisis_line, {}),
            templates=self.templates,
        )

    @property
    def effective_sms_backend(self) -> str:
        """`twilio` or `console`: `auto` picks Twilio only when its credentials are set."""
        if self.sms_backend == "auto":
            return "twilio" if self.twilio_configured else "console"
        return self.sms_backend


def _check_liveness(settings: Settings) -> None:
    """A worker must be able to miss a heartbeat or two (a cut connection) without being taken for
    gone, and a claim must outlive the wait before its worker counts as gone."""
    if settings.worker_stale_seconds < 3 * settings.heartbeat_interval_seconds:
        raise ConfigError(
            "WORKER_STALE_SECONDS must be at least three times HEARTBEAT_INTERVAL_SECONDS "
            f"({settings.worker_stale_seconds:g} < 3 x {settings.heartbeat_interval_seconds:g})"
        )
    if settings.claim_lease_seconds < settings.worker_stale_seconds:
        raise ConfigError(
            "CLAIM_LEASE_SECONDS must be at least WORKER_STALE_SECONDS "
            f"({settings.claim_lease_seconds:g} < {settings.worker_stale_seconds:g})"
        )


def check_texts(settings: Settings) -> None:
    """Every text must fit and stay discreet with the clinic's own name, number and lines and the
    templates in use: alone within its language's limit, and a check-in with a preparation text
    in one message. The first problem stops start-up, naming the template."""
    from scheduler.domain.templates import catalogue_problems

    problems = catalogue_problems(settings.voice)
    if not problems:
        return
    where, problem = problems[0]
    if settings.templates_file is not None and where in settings.templates.replaced_names:
        raise ConfigError(f"TEMPLATES_FILE {settings.templates_file}: {where} {problem}")
    voice = settings.voice
    raise ConfigError(
        f"CLINIC_NAME={voice.clinic!r}, CLINIC_EMERGENCY_NUMBER={voice.emergency!r} and "
        f"CLINIC_CRISIS_LINE={voice.crisis!r} make the {where} text unusable: it {problem}"
    )


def _templates(path: Path) -> Catalogue:
    """The built-in templates with those of the TOML file at `path` in their place."""
    import tomllib

    from scheduler.domain.templates import TemplateError

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"TEMPLATES_FILE {path} cannot be read as TOML: {exc}") from None
    tables = {}
    for code, texts in data.items():
        if not isinstance(texts, dict):
            raise ConfigError(f"TEMPLATES_FILE {path}: {code} must be a table, [{code}], of templates")
        tables[code] = texts
    try:
        return BUILT_IN.replaced(tables)
    except TemplateError as exc:
        raise ConfigError(f"TEMPLATES_FILE {path}: {exc}") from None


def _emergency_lines(clinic_phone: str, emergency: str | None, crisis: str | None) -> tuple[str, str]:
    """CLINIC_EMERGENCY_NUMBER and CLINIC_CRISIS_LINE, or the defaults of the clinic's country."""
    region = phonenumbers.region_code_for_number(phonenumbers.parse(clinic_phone))
    known = EMERGENCY_LINES.get(region or "")
    if known is None and (emergency is None or crisis is None):
        raise ConfigError(
            f"CLINIC_PHONE is in {region or 'a country'} without built-in emergency and crisis lines: "
            "set CLINIC_EMERGENCY_NUMBER and CLINIC_CRISIS_LINE (what texts tell patients to call)"
        )
    if emergency is not None and not re.fullmatch(r"[0-9][0-9 ]{1,11}", emergency):
        raise ConfigError(f"CLINIC_EMERGENCY_NUMBER must be a short number such as 112, not {emergency!r}")
    if crisis is not None and (len(crisis) > MAX_CRISIS_LINE or not re.fullmatch(r"[\w .,'&()+-]+", crisis)):
        raise ConfigError(
            f"CLINIC_CRISIS_LINE must be a short phrase (at most {MAX_CRISIS_LINE} characters) such as "
            "'Samaritans 116 123'"
        )
    default_emergency, default_crisis = known or ("", "")
    return emergency or default_emergency, crisis or default_crisis


def _clinic_name(value: str) -> str:
    if len(value) > MAX_CLINIC_NAME:
        raise ConfigError(f"CLINIC_NAME must be at most {MAX_CLINIC_NAME} characters so texts fit one SMS")
    return value


def _phone(value: str, name: str) -> str:
    try:
        parsed = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException as exc:
        raise ConfigError(f"{name} is not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ConfigError(f"{name} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _optional_phone(value: str | None, name: str) -> str | None:
    return None if value is None else _phone(value, name)


def _optional_match(value: str | None, pattern: str, name: str) -> str | None:
    if value is not None and not re.fullmatch(pattern, value):
        raise ConfigError(f"{name} does not look right (expected {pattern})")
    return value


def _optional_url(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", value):
        raise ConfigError(f"{name} must be an http(s) URL, not {value!r}")
    return value.rstrip("/")


def _optional_file(value: str | None, name: str) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"{name} points to {value!r}, which is not a readable file")
    return path


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"CLINIC_TIMEZONE is not an IANA time zone: {value!r}") from None
    return value


def _region(value: str) -> str:
    region = value.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"DEFAULT_PHONE_REGION is not a known region code: {value!r}")
    return region


def _weekdays(value: str | None, default: frozenset[int]) -> frozenset[int]:
    if value is None:
        return default
    days: set[int] = set()
    for part in value.split(","):
        word = part.strip().lower()[:3]
        if not word:
            continue
        if word not in WEEKDAYS:
            raise ConfigError(f"CLINIC_CLOSED_DAYS has an unknown day {part.strip()!r} (use Mon..Sun)")
        days.add(WEEKDAYS.index(word))
    if len(days) == 7:
        raise ConfigError("CLINIC_CLOSED_DAYS closes every day of the week")
    return frozenset(days)


def _window(value: str | None, default: SendWindow) -> SendWindow:
    if value is None:
        return default
    match = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", value)
    if match is None:
        raise ConfigError(f"SEND_WINDOW must look like 09:00-20:00, not {value!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        window = SendWindow(time(h1, m1), time(h2, m2))
    except ValueError as exc:
        raise ConfigError(f"SEND_WINDOW: {exc}") from None
    return window


def _hosts(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    hosts = tuple(h.strip().lower() for h in value.split(",") if h.strip())
    for host in hosts:
        if not re.fullmatch(r"(\*\.)?[a-z0-9.-]+(:\d+)?|\[[0-9a-f:]+\](:\d+)?", host):
            raise ConfigError(f"ALLOWED_HOSTS has a name that is not a host: {host[:60]!r}")
    return hosts


def _bool(value: str | None, name: str) -> bool:
    if value is None:
        return False
    word = value.lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def _int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be between {low} and {high}")
    return number


def _float(value: str | None, name: str, default: float, low: float, high: float) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be between {low} and {high}")
    return number
