"""What the uplink needs to know, as one frozen dataclass (no dependency on ``gateway.config``).

The gateway builds it from its ``[uplink]`` config section with :meth:`UplinkSettings.from_mapping`
(``UplinkSettings.from_mapping(cfg.uplink.model_dump(), state_dir=cfg.state_dir)``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from uplink import topics
from uplink.errors import UplinkError


@dataclass(frozen=True, slots=True)
class TlsSettings:
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure_skip_hostname_check: bool = False


@dataclass(frozen=True, slots=True)
class UplinkSettings:
    broker: str
    topic_prefix: str = topics.DEFAULT_PREFIX
    client_id: str | None = None
    username: str | None = None
    password: str | None = None
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    tls: TlsSettings = field(default_factory=TlsSettings)
    ack_mode: Literal["county", "broker"] = "county"
    batch_max_count: int = 500
    batch_max_bytes: int = 256_000
    max_inflight_batches: int = 4
    ack_timeout_s: float = 30.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 300.0
    auth_failure_backoff_s: float = 600.0
    healthy_after_s: float = 60.0
    heartbeat_s: float = 60.0
    keepalive_s: int = 60
    command_public_key: str | None = None
    # Not (yet) in every config file: sensible defaults.
    session_expiry_s: int = 7 * 86_400
    retain_status: bool = True
    last_will: bool = True
    poll_interval_s: float = 1.0
    command_max_ttl_s: float = 7 * 86_400
    io_timeout_s: float = 15.0
    lease_s: float | None = None  # outbox lease of a claimed batch; default 2 x ack_timeout_s (>= 10 s)
    state_dir: Path | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.broker)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise UplinkError(
                f"uplink broker {self.broker!r} is not a mqtt:// or mqtts:// URL",
                hint='set [uplink] broker = "mqtts://county.example:8883"',
            )

    @property
    def host(self) -> str:
        return urlsplit(self.broker).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.broker)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def use_tls(self) -> bool:
        return urlsplit(self.broker).scheme == "mqtts"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, state_dir: Path | None = None) -> UplinkSettings:
        """Build from a plain mapping (e.g. ``UplinkConfig.model_dump()``); unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names and v is not None}
        tls = data.get("tls") or {}
        if isinstance(tls, Mapping):
            tls_names = {f.name for f in dataclasses.fields(TlsSettings)}
            tls_kwargs: dict[str, Any] = {
                k: (Path(v) if k.endswith("_file") and v is not None else v)
                for k, v in tls.items()
                if k in tls_names
            }
            kwargs["tls"] = TlsSettings(**tls_kwargs)
        if state_dir is not None:
            kwargs["state_dir"] = Path(state_dir)
        if "broker" not in kwargs:
            raise UplinkError("uplink has no broker configured", hint="set [uplink] broker")
        return cls(**kwargs)

    def topic(self, gateway_id: str, leaf: str) -> str:
        return topics.topic(self.topic_prefix, gateway_id, leaf)
