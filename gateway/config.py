"""The gateway configuration: one TOML file, validated before any side effect.

Command-line flags override the file (see :func:`load`). Every section is optional; with no
file at all the gateway starts with safe defaults (local API on 127.0.0.1, no uplink,
readings buffered).
"""

from __future__ import annotations

import difflib
import itertools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from drivers.kinds import plausible_defaults
from gateway.errors import ConfigError

DEFAULT_CONFIG = Path("/etc/hutgw/hutgw.toml")
DEFAULT_STATE_DIR = Path("/var/lib/hutgw")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _hostport(value: str, default_port: int) -> str:
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = value, str(default_port)
    if not host:
        raise ValueError("expected HOST:PORT")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"port {port!r} is not a number between 1 and 65535")
    return f"{host}:{int(port)}"


class ApiConfig(_Section):
    listen: str = Field("127.0.0.1:8080", description="HOST:PORT of the local API and kiosk page")
    token: str | None = Field(None, description="bearer token; required when listening beyond loopback")
    doctor_pin: str | None = Field(None, description="PIN the village doctor uses for manual entry")
    session_timeout_s: float = Field(180.0, gt=0, description="kiosk sign-out after this much inactivity")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="extra Host names the API answers to (besides its listen address and localhost)",
    )
    max_connections: int = Field(1024, ge=8, description="open HTTP connections; idle ones are closed first")
    idle_timeout_s: float = Field(
        15.0, gt=0, description="a connection that sends no request (first or next) for this long is closed"
    )
    max_event_streams: int = Field(16, ge=1, description="kiosk event-stream (SSE) clients at once")
    result_hold_s: float = Field(
        420.0,
        ge=0,
        description="the kiosk keeps a resident signed in this long after a result (the advice may ask "
        "her to measure again in 5 minutes)",
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        return _hostport(v, 8080)

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class TlsConfig(_Section):
    ca_file: Path | None = Field(None, description="county CA certificate (PEM) to pin")
    cert_file: Path | None = Field(None, description="this gateway's client certificate (PEM)")
    key_file: Path | None = Field(None, description="this gateway's private key (PEM)")
    insecure_skip_hostname_check: bool = False


class UplinkConfig(_Section):
    broker: str | None = Field(None, description="mqtt://HOST:PORT or mqtts://HOST:PORT; unset = uplink off")
    topic_prefix: str = "hut/v1"
    client_id: str | None = None
    username: str | None = None
    password: str | None = None
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    tls: TlsConfig = TlsConfig()
    ack_mode: Literal["county", "broker"] = "county"
    payload_format: Literal["hut", "fhir"] = "hut"
    # FHIR (docs/fhir.md): transport "http" POSTs FHIR transaction Bundles to fhir_endpoint instead of MQTT.
    transport: Literal["mqtt", "http"] = Field("mqtt", description="mqtt: broker; http: FHIR REST endpoint")
    fhir_endpoint: str | None = Field(None, description="FHIR R4 base URL for transport = http")
    fhir_patient_system: str = Field(
        "urn:hutgw:resident", description="identifier system URI of resident ids on the county FHIR server"
    )
    fhir_identifier_system: str = Field(
        "urn:hutgw", description="base URI of identifiers the gateway mints (devices, readings, batches)"
    )
    fhir_auth_header: str | None = Field(None, description='Authorization header value, e.g. "Bearer ..."')
    fhir_batch_max_count: int = Field(100, ge=1, le=1000, description="readings per FHIR transaction")
    batch_max_count: int = Field(500, ge=1, le=10_000)
    batch_max_bytes: int = Field(256_000, ge=1_000)
    max_inflight_batches: int = Field(4, ge=1, le=64)
    ack_timeout_s: float = Field(30.0, gt=0)
    backoff_initial_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(300.0, gt=0)
    auth_failure_backoff_s: float = Field(600.0, gt=0)
    healthy_after_s: float = Field(60.0, gt=0)
    heartbeat_s: float = Field(60.0, gt=0)
    keepalive_s: int = Field(60, ge=5)
    command_public_key: str | None = Field(None, description="county Ed25519 public key (base64 or PEM)")
    command_max_ttl_s: float = Field(7 * 86_400.0, gt=0, description="refuse commands expiring after this")
    session_expiry_s: int = Field(7 * 86_400, ge=0, description="MQTT 5 session expiry (acks kept meanwhile)")
    retain_status: bool = Field(True, description="retain the status topic (off for brokers without retain)")
    last_will: bool = Field(True, description="register an offline last will (off for brokers without it)")

    @field_validator("broker")
    @classmethod
    def _broker(cls, v: str | None) -> str | None:
        if v is None:
            return None
        parts = urlsplit(v)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError("broker must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("broker URL has no host")
        try:
            parts.port  # noqa: B018 - validates the port
        except ValueError as e:
            raise ValueError(f"broker port: {e}") from None
        return v

    @field_validator("fhir_endpoint")
    @classmethod
    def _fhir_endpoint(cls, v: str | None) -> str | None:
        if v is None:
            return None
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("fhir_endpoint must be an http:// or https:// URL with a host")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _http_needs_endpoint(self) -> UplinkConfig:
        if self.transport == "http" and self.fhir_endpoint is None:
            raise ValueError('transport = "http" needs fhir_endpoint (the county FHIR base URL)')
        return self

    @model_validator(mode="after")
    def _tls_needs_mqtts(self) -> UplinkConfig:
        """Certificates configured for a plain-text broker would be silently unused."""
        tls_set = any(f is not None for f in (self.tls.ca_file, self.tls.cert_file, self.tls.key_file))
        if self.transport == "mqtt" and tls_set and self.broker and urlsplit(self.broker).scheme == "mqtt":
            raise ValueError(
                "broker is mqtt:// (plain text) but [uplink.tls] files are set: use mqtts://HOST:8883, "
                "or remove [uplink.tls]"
            )
        return self


class BufferConfig(_Section):
    quota_mb: float = Field(512.0, gt=0, description="disk quota for the outbox database")
    retention_days: float = Field(30.0, ge=0, description="delivered readings kept for history")
    ttl_days: dict[str, float] = Field(
        default_factory=dict, description="per-kind time to live of undelivered records (kind -> days)"
    )
    group_commit_ms: float = Field(4.0, ge=0, le=100)
    unsynced_max_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="telemetry nobody acknowledged is fsynced within this many seconds (what a power cut "
        "can cost); alerts, clinical readings and anything acknowledged are fsynced before the reply",
    )
    hard_limit_mb: float | None = Field(
        None, gt=0, description="hard cap on the outbox file: new readings refused past it, delivery goes on"
    )


class WatchConfig(_Section):
    listen: str | None = Field(
        None, description="HOST:PORT for 4G watches; unset = off (never 0.0.0.0 by default)"
    )
    idle_timeout_s: float = Field(600.0, gt=0)
    max_connections: int = Field(200, ge=1)
    max_frame_bytes: int = Field(16_384, ge=64)
    first_frame_timeout_s: float = Field(
        10.0, gt=0, description="a connection must send a provisioned watch's frame within this"
    )
    max_unidentified_per_address: int = Field(
        8, ge=1, description="connections one address may hold before they send a watch frame"
    )


class BleConfig(_Section):
    enabled: bool = False
    max_connections: int = Field(3, ge=1, le=10)
    silent_adapter_s: float = Field(300.0, gt=0)


class ClockConfig(_Section):
    max_device_skew_s: float = Field(
        86_400.0, gt=0, description="device time farther than this from the gateway clock is not used"
    )
    max_device_future_s: float = Field(
        600.0, ge=0, description="device time more than this ahead of the gateway clock is not used"
    )
    device_timezone: str = Field(
        "Asia/Shanghai", description="time zone of devices that report local time without zone"
    )
    sync_source: Literal["kernel", "trust"] = Field(
        "kernel", description="kernel: ask adjtimex whether NTP synchronised the clock; trust: battery RTC"
    )

    @field_validator("device_timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (e.g. Asia/Shanghai)") from None
        return v


_Ranges = dict[str, dict[str, tuple[float, float]]]

#: The kind catalogue's plausible ranges (drivers/kinds.py).
_DEFAULT_PLAUSIBLE: _Ranges = plausible_defaults()


class BpLevel(_Section):
    systolic: float = Field(gt=0, lt=400)
    diastolic: float = Field(gt=0, lt=300)


class BpThresholdsConfig(_Section):
    """Lower bounds (mm[Hg]) of each level; default: 中国高血压防治指南 2018 revision."""

    high_normal: BpLevel = BpLevel(systolic=120, diastolic=80)
    grade_1: BpLevel = BpLevel(systolic=140, diastolic=90)
    grade_2: BpLevel = BpLevel(systolic=160, diastolic=100)
    grade_3: BpLevel = BpLevel(systolic=180, diastolic=110)

    @model_validator(mode="after")
    def _ascending(self) -> BpThresholdsConfig:
        levels = [self.high_normal, self.grade_1, self.grade_2, self.grade_3]
        for lo, hi in itertools.pairwise(levels):
            if not (lo.systolic < hi.systolic and lo.diastolic < hi.diastolic):
                raise ValueError("blood-pressure thresholds must rise from high_normal to grade_3")
        return self


class BmiThresholdsConfig(_Section):
    """Lower bounds (kg/m2); default: WS/T 428-2013 (adults)."""

    normal: float = Field(18.5, gt=0)
    overweight: float = Field(24.0, gt=0)
    obese: float = Field(28.0, gt=0)
    min_age: int = Field(18, ge=0, description="BMI is not classified for residents younger than this")

    @model_validator(mode="after")
    def _ascending(self) -> BmiThresholdsConfig:
        if not self.normal < self.overweight < self.obese:
            raise ValueError("BMI thresholds must rise: normal < overweight < obese")
        return self


class ClinicalConfig(_Section):
    plausible: dict[str, dict[str, tuple[float, float]]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in _DEFAULT_PLAUSIBLE.items()},
        description="kind -> value -> [low, high]; values outside are kept, flagged and not classified. "
        "Entries given here replace the defaults value by value.",
    )
    bp: BpThresholdsConfig = BpThresholdsConfig()
    bmi: BmiThresholdsConfig = BmiThresholdsConfig()
    crisis: BpLevel = Field(
        BpLevel(systolic=180, diastolic=110), description="bp_crisis alert at systolic or diastolic >= this"
    )
    low_battery_pct: float = Field(15.0, ge=0, le=100)
    suppress_s: float = Field(
        900.0, ge=0, description="repeats of the same alert condition within this are counted"
    )
    suppress_by_kind_s: dict[str, float] = Field(
        default_factory=lambda: {"low_battery": 21_600.0, "signal_lost": 3_600.0},
        description="per alert kind override of suppress_s",
    )
    sos_max_suppress_s: float = Field(60.0, ge=0, le=60, description="SOS repeats are never held back longer")

    @field_validator("plausible", mode="after")
    @classmethod
    def _plausible(cls, v: _Ranges) -> _Ranges:
        from gateway.kinds import KINDS

        merged = {k: dict(r) for k, r in _DEFAULT_PLAUSIBLE.items()}
        for kind, ranges in v.items():
            spec = KINDS.get(kind)
            if spec is None:
                raise ValueError(f"unknown kind {kind!r} (known: {', '.join(sorted(KINDS))})")
            for name, (lo, hi) in ranges.items():
                if name not in spec.values:
                    raise ValueError(f"{kind}: unknown value {name!r}")
                if not lo < hi:
                    raise ValueError(f"{kind}.{name}: low {lo} must be below high {hi}")
            merged.setdefault(kind, {}).update(ranges)
        return merged

    @field_validator("suppress_by_kind_s", mode="after")
    @classmethod
    def _suppress(cls, v: dict[str, float]) -> dict[str, float]:
        for kind, s in v.items():
            if s < 0:
                raise ValueError(f"{kind}: suppression must not be negative")
        return v


class GeofenceConfig(_Section):
    """Electronic fences (docs/geofence.md): when a fix counts, and how long a change must hold."""

    margin_m: float = Field(10.0, ge=0, description="a fix counts past the boundary beyond accuracy + this")
    fixes: int = Field(3, ge=1, le=100, description="consecutive fixes needed for a state change")
    dwell_s: float = Field(60.0, ge=0, description="those fixes must span at least this long")
    signal_lost_min: float = Field(15.0, gt=0, description="no fix this long while watched: signal_lost")
    default_accuracy_m: float = Field(50.0, ge=0, description="accuracy assumed for a fix that reports none")
    max_accuracy_m: float = Field(500.0, gt=0, description="fixes worse than this never change a state")
    history: int = Field(10, ge=1, le=100, description="last fixes attached to an event")


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


_PHONE_RE = r"^\+?[0-9]{3,20}$"

DEFAULT_TEMPLATES: dict[str, str] = {
    # {name} resident, {what} what happened, {where} place, {time} local time, {map} map link or ""
    "urgent": "【紧急】{name}{what}，{where}，{time}。{map}回复1表示收到",
    "reminder": "【紧急·第{round}次】{name}{what}，{where}，{time}，仍无人确认。{map}回复1表示收到",
    "unanswered": (
        "【无人应答】{name}{what}（{time}）已通知{count}人仍无人确认，请卫生院立即派人。回复1表示收到"
    ),
    "acknowledged": "{name}的{kind}已由{by}确认，谢谢。",
    "no_match": "健康小屋：您的回复已收到，但目前没有需要确认的紧急提醒。",
    "digest": "健康小屋每日提醒（{date}）：{items}",
    "test": "健康小屋短信测试：收到此短信说明通知通道正常（{time}）。",
}


class NotifyConfig(_Section):
    """Alerts reach people (docs/alerts.md): the SMS channel and the escalation ladder."""

    modem: str | None = Field(
        None, description="the 4G modem's AT port (udev by-id path); SMS off when unset"
    )
    clinic: list[str] = Field(
        default_factory=list, description="township clinic duty phones: every urgent alert"
    )
    escalation: list[str] = Field(default_factory=list, description="village doctor, volunteers: round 2 on")
    escalate_after_s: float = Field(60.0, gt=0, description="no acknowledgement this long: next round")
    max_rounds: int = Field(3, ge=1, le=20)
    unanswered_repeat_s: float = Field(
        600.0, gt=0, description="remind the clinic this often once unanswered"
    )
    notify_others_on_ack: bool = True
    digest_to: list[str] | None = Field(None, description="non-urgent daily digest; default: escalation")
    digest_hour: int = Field(8, ge=0, le=23, description="local hour of the daily digest")
    max_per_phone_per_hour: int = Field(
        10, ge=1, description="messages per number per hour (a first urgent round is never held back)"
    )
    timezone: str = Field("Asia/Shanghai", description="local time in messages and for the digest hour")
    map_link: str | None = Field(
        None, description='optional map link, e.g. "https://uri.amap.com/marker?position={lon},{lat}"'
    )
    templates: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_TEMPLATES))
    send_timeout_s: float = Field(60.0, gt=0, description="one SMS (all parts) must be accepted this fast")

    @field_validator("clinic", "escalation", "digest_to")
    @classmethod
    def _phones(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        out = []
        for n in v:
            norm = n.replace(" ", "").replace("-", "")
            if not re.match(_PHONE_RE, norm):
                raise ValueError(f"{n!r} is not a phone number (digits, optionally a leading +)")
            out.append(norm)
        return out

    @field_validator("templates")
    @classmethod
    def _templates(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = set(v) - set(DEFAULT_TEMPLATES)
        if unknown:
            raise ValueError(f"unknown template(s) {sorted(unknown)} (known: {', '.join(DEFAULT_TEMPLATES)})")
        return {**DEFAULT_TEMPLATES, **v}

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (e.g. Asia/Shanghai)") from None
        return v


class Config(_Section):
    gateway_id: str = Field("hut-unnamed", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    state_dir: Path = DEFAULT_STATE_DIR
    api: ApiConfig = ApiConfig()
    uplink: UplinkConfig = UplinkConfig()
    buffer: BufferConfig = BufferConfig()
    watch: WatchConfig = WatchConfig()
    ble: BleConfig = BleConfig()
    clock: ClockConfig = ClockConfig()
    clinical: ClinicalConfig = ClinicalConfig()
    geofence: GeofenceConfig = GeofenceConfig()
    logging: LoggingConfig = LoggingConfig()
    notify: NotifyConfig = NotifyConfig()


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One invalid field: its dotted path, pydantic's error type and English message, and for an
    unknown field the known field meant (``ble.enable`` -> ``enabled``)."""

    path: str
    kind: str
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        if self.kind == "extra_forbidden":
            meant = f" (did you mean `{self.suggestion}`?)" if self.suggestion else ""
            return f"{self.path}: unknown field{meant}"
        return f"{self.path}: {self.message}"


def _known_fields(loc: tuple[int | str, ...]) -> list[str]:
    """The field names of the section holding ``loc`` (for "did you mean")."""
    model: Any = Config
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(getattr(model, "model_fields", {}))


def field_problems(err: ValidationError) -> list[FieldProblem]:
    out = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(file)"
        suggestion = None
        if e["type"] == "extra_forbidden" and e["loc"]:
            known = _known_fields(tuple(e["loc"]))
            close = difflib.get_close_matches(str(e["loc"][-1]), known, n=1, cutoff=0.6)
            suggestion = close[0] if close else None
        out.append(FieldProblem(path, e["type"], e["msg"].removeprefix("Value error, "), suggestion))
    return out


def format_errors(err: ValidationError) -> list[str]:
    return [str(p) for p in field_problems(err)]


class ConfigFieldsError(ConfigError):
    """Invalid fields; ``problems`` for messages in other languages (``errors``: English)."""

    def __init__(self, message: str, problems: list[FieldProblem]) -> None:
        super().__init__(message, [str(p) for p in problems])
        self.problems = problems


def parse(data: dict[str, Any], *, source: str = "config") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        problems = field_problems(e)
        raise ConfigFieldsError(f"{source}: {len(problems)} invalid field(s)", problems) from None


def read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist", hint="create it or run `hutgw init`"
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(
            f"{path} is not valid TOML: {e}",
            hint="fix that line: text in quotes, [section] on a line of its own, one key = value a line",
        ) from None


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (``127.0.0.1``, ``[::1]``): not reachable from other
    machines."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check(config: Config, *, source: str = "config") -> None:
    """What the file alone cannot show: an API reachable from other machines without a token,
    certificate files that do not exist. ``hutgw run`` and ``hutgw config validate`` both call
    it, so that validate passes exactly what run starts with."""
    problems: list[FieldProblem] = []
    if not is_loopback(config.api.host) and not config.api.token:
        problems.append(
            FieldProblem(
                "api.token",
                "token_required",
                f"required when api.listen ({config.api.listen}) is reachable from other machines",
            )
        )
    tls = config.uplink.tls
    for name, file in (("ca_file", tls.ca_file), ("cert_file", tls.cert_file), ("key_file", tls.key_file)):
        if file is not None and not Path(file).is_file():
            problems.append(FieldProblem(f"uplink.tls.{name}", "file_missing", f"{file} does not exist"))
    if problems:
        raise ConfigFieldsError(f"{source}: {len(problems)} invalid field(s)", problems)


def load(
    path: Path | None = None,
    *,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Read ``path`` (or the default file when it exists), apply dotted-key overrides, validate."""
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        data = read_file(path)
        source = str(path)
    elif DEFAULT_CONFIG.exists():
        data = read_file(DEFAULT_CONFIG)
        source = str(DEFAULT_CONFIG)
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return parse(data, source=source)
