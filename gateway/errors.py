"""Errors of the gateway layer."""

from __future__ import annotations

from hutgw_errors import HutError


class GatewayError(HutError):
    """Family root for the daemon, its rules and its local API."""


class ConfigError(GatewayError):
    """The configuration is invalid; nothing was started."""

    exit_code = 2

    def __init__(self, message: str, errors: list[str] | None = None, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or "fix the listed fields and run `hutgw config validate FILE`")
        self.errors = errors or []


class ReadingError(GatewayError):
    """A reading was refused (bad field values); ``errors`` maps field path -> message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(
            "invalid reading: " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
            hint="nothing was stored: correct the named field(s) and enter the reading again",
        )
        self.errors = errors
