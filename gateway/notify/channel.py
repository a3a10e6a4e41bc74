"""A channel hands one message to people's phones. The engine knows only this interface.

:class:`ModemChannel` is the hut's own 4G modem (:mod:`drivers.modem`). A county that prefers a
cloud SMS provider writes one small class with the same four members (``name``, ``ready``,
``send``, ``status``) plus ``run`` for its background work, and passes it to the engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from drivers.modem.errors import ModemUnavailable, SmsSendError
from drivers.modem.modem import IncomingSms, Modem
from gateway.errors import GatewayError


class ChannelError(GatewayError):
    """A message was not accepted; ``temporary``: try again later (no network, modem busy)."""

    def __init__(self, message: str, *, temporary: bool, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.temporary = temporary


class Channel(Protocol):
    name: str

    @property
    def ready(self) -> bool:
        """Worth trying now (a modem with a SIM, registered on a network)."""
        ...

    async def send(self, to: str, text: str) -> None:
        """Hand one message over; raises :class:`ChannelError`."""
        ...

    def status(self) -> dict[str, Any]:
        """What a technician wants to see (``hutgw status``, /metrics)."""
        ...

    async def run(self, stop: asyncio.Event) -> None:
        """Background work (reading replies) until ``stop``."""
        ...


OnReply = Callable[[str, str], Awaitable[None]]


class ModemChannel:
    """SMS through the hut's modem; replies are handed to ``on_reply(sender, text)``, which must
    have stored what it needs before it returns (the modem deletes the message then)."""

    name = "sms"

    def __init__(
        self,
        port: str,
        on_reply: OnReply,
        *,
        send_timeout_s: float = 60.0,
        logger: logging.Logger | None = None,
        modem: Modem | None = None,
    ) -> None:
        self._on_reply = on_reply
        self._send_timeout_s = send_timeout_s
        self.modem = modem or Modem(
            port,
            on_sms=self._incoming,
            logger=logger or logging.getLogger("hutgw.modem"),
            send_timeout_s=send_timeout_s,
        )

    async def _incoming(self, sms: IncomingSms) -> None:
        await self._on_reply(sms.sender, sms.text)

    @property
    def ready(self) -> bool:
        s = self.modem.state
        return s.connected and s.sim == "READY" and s.registered

    async def send(self, to: str, text: str) -> None:
        try:
            await self.modem.send(to, text, timeout_s=self._send_timeout_s)
        except ModemUnavailable as e:
            raise ChannelError(str(e), temporary=True) from None
        except SmsSendError as e:
            raise ChannelError(str(e), temporary=e.temporary) from None

    def status(self) -> dict[str, Any]:
        return modem_status(self.modem)

    async def run(self, stop: asyncio.Event) -> None:
        await self.modem.run(stop)


def modem_status(modem: Modem) -> dict[str, Any]:
    """A modem's state as ``hutgw notify``, ``hutgw status`` and ``/api/v1/notify`` show it."""
    s = modem.state
    return {
        "channel": ModemChannel.name,
        "port": s.port,
        "connected": s.connected,
        "sim": s.sim,
        "registered": s.registered,
        "registration": s.registration,
        "operator": s.operator,
        "signal_csq": s.signal_csq,
        "signal_dbm": s.signal_dbm,
        "sent": s.sent,
        "failed": s.failed,
        "last_error": s.last_error,
    }
