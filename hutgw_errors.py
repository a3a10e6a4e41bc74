"""The one root error type of hut-gateway.

Every layer has its own family below :class:`HutError` (``drivers.errors.DriverError``,
``buffer.errors.BufferError``, ``uplink.errors.UplinkError``, ``gateway.errors.GatewayError``,
``provisioning.errors.ProvisioningError``).  This module imports nothing so that the leaf
packages (``drivers``, ``buffer``) can share the root without depending on each other.
"""

from __future__ import annotations


class HutError(Exception):
    """Root of all hut-gateway errors.

    ``hint`` tells a technician what to do about it; ``exit_code`` is what the CLI exits with
    when the error reaches it.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message
