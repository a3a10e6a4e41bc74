"""Maps the validated pydantic config onto each component's own frozen settings."""

from __future__ import annotations

from pathlib import Path

from buffer.settings import DAY_S, OutboxSettings
from gateway.config import BufferConfig, UplinkConfig
from uplink.settings import UplinkSettings


def outbox_settings(cfg: BufferConfig) -> OutboxSettings:
    return OutboxSettings(
        group_commit_ms=cfg.group_commit_ms,
        unsynced_max_s=cfg.unsynced_max_s,
        quota_bytes=int(cfg.quota_mb * 1024 * 1024),
        retention_s=cfg.retention_days * DAY_S,
        ttl_s_by_kind={kind: days * DAY_S for kind, days in cfg.ttl_days.items()},
        hard_limit_bytes=None if cfg.hard_limit_mb is None else int(cfg.hard_limit_mb * 1024 * 1024),
        maintain_interval_s=None,  # the daemon runs maintenance itself, to alert on quota drops
    )


def uplink_settings(cfg: UplinkConfig, state_dir: Path) -> UplinkSettings:
    return UplinkSettings.from_mapping(cfg.model_dump(), state_dir=state_dir)
