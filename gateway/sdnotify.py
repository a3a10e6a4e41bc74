"""The systemd notification protocol (``sd_notify``) and the service watchdog, without libsystemd.

systemd passes ``$NOTIFY_SOCKET`` to a ``Type=notify`` service: the path of an AF_UNIX datagram
socket, or an abstract socket name written with a leading ``@``. A notification is one datagram
of newline-separated ``KEY=VALUE`` lines (``READY=1``, ``STATUS=...``, ``WATCHDOG=1``,
``STOPPING=1``, ``MAINPID=...``). systemd identifies the sender from the kernel's credentials on
the datagram, so with ``NotifyAccess=main`` only the main process may send.

:class:`Notifier` sends them; without ``$NOTIFY_SOCKET`` (not under systemd: tests, a technician
running ``hutgw run`` by hand) every call is a cheap no-op. Sending never raises: a lost
notification is logged and reported as ``False``, it must not take the daemon down.

:class:`Watchdog` pings ``WATCHDOG=1`` at half of ``WatchdogSec=`` but only while the daemon's
health check says it is healthy. When the check names a reason the pings stop, the reason goes
into the log and into ``STATUS=``, and systemd restarts the service once ``WatchdogSec=`` has
passed without a ping. A blocked event loop stops the pings by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping, MutableMapping
from types import TracebackType

HealthCheck = Callable[[], bool | str]
"""``True`` = healthy; ``False`` or a string (the reason) = unhealthy."""

_log = logging.getLogger(__name__)


def _socket_address(value: str) -> str | bytes | None:
    """The ``sendto`` address for a ``$NOTIFY_SOCKET`` value; ``None`` if not an AF_UNIX one."""
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    return None


def _clean(value: str) -> str:
    """A notification value is one line: newlines would start a new ``KEY=`` assignment."""
    return " ".join(value.splitlines()).strip()


class Notifier:
    """Sends ``sd_notify`` messages to one notification socket (or nowhere)."""

    def __init__(self, address: str | None, *, logger: logging.Logger | None = None) -> None:
        self._log = logger or _log
        self.address = address or None
        self._target: str | bytes | None = None
        self._sock: socket.socket | None = None
        self.last_status: str | None = None
        if self.address is not None:
            self._target = _socket_address(self.address)
            if self._target is None:
                self._log.warning(
                    "NOTIFY_SOCKET=%s is not an AF_UNIX path or @name; systemd notifications are off",
                    self.address,
                )

    @classmethod
    def from_env(
        cls,
        environ: MutableMapping[str, str] | None = None,
        *,
        unset: bool = False,
        logger: logging.Logger | None = None,
    ) -> Notifier:
        """The notifier systemd asked for in ``$NOTIFY_SOCKET``.

        ``unset=True`` removes the variable so child processes cannot notify in our name.
        """
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET")
        if unset:
            env.pop("NOTIFY_SOCKET", None)
        return cls(address, logger=logger)

    @property
    def enabled(self) -> bool:
        """True when running under systemd with a usable notification socket."""
        return self._target is not None

    def notify(self, *assignments: str, remember_status: bool = True) -> bool:
        """Send ``KEY=VALUE`` lines as one datagram; ``True`` if it was handed to the kernel.

        Each assignment is kept to one line. A ``STATUS=`` is remembered as :attr:`last_status`
        (the watchdog restores it after an unhealthy spell) unless ``remember_status=False``.
        """
        lines = [_clean(a) for a in assignments]
        if remember_status:
            for line in lines:
                if line.startswith("STATUS="):
                    self.last_status = line.removeprefix("STATUS=")
        if self._target is None:
            return False
        message = "\n".join(lines).encode("utf-8", errors="replace")
        try:
            if self._sock is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                sock.setblocking(False)
                self._sock = sock
            self._sock.sendto(message, self._target)
        except OSError as e:
            # BlockingIOError too: systemd is not reading. Never wait for it in the event loop.
            self._log.warning("systemd notification %s to %s failed: %s", lines, self.address, e)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1``: start-up finished (outbox, uplink and device tasks are up)."""
        return self.notify("READY=1", *([] if status is None else [f"STATUS={status}"]))

    def status(self, text: str) -> bool:
        """``STATUS=``: one line shown by ``systemctl status``."""
        return self.notify(f"STATUS={text}")

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: keep-alive ping (use :class:`Watchdog`, which checks health first)."""
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        """``STOPPING=1``: graceful shutdown has begun."""
        return self.notify("STOPPING=1", *([] if status is None else [f"STATUS={status}"]))

    def mainpid(self, pid: int | None = None) -> bool:
        """``MAINPID=``: the process systemd should treat as the service's main process."""
        return self.notify(f"MAINPID={os.getpid() if pid is None else pid}")

    def extend_timeout(self, seconds: float) -> bool:
        """``EXTEND_TIMEOUT_USEC=``: a slow start or stop is still making progress."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={max(0, round(seconds * 1_000_000))}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def watchdog_interval(environ: Mapping[str, str] | None = None, *, pid: int | None = None) -> float | None:
    """``WatchdogSec=`` in seconds from ``$WATCHDOG_USEC``; ``None`` when no watchdog is asked of us.

    ``$WATCHDOG_PID``, when set, names the process the watchdog is meant for; any other process
    (a child that inherited the environment) gets ``None``.
    """
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "").strip()
    if not usec.isdigit() or int(usec) == 0:
        return None
    wanted = env.get("WATCHDOG_PID", "").strip()
    me = os.getpid() if pid is None else pid
    if wanted and (not wanted.isdigit() or int(wanted) != me):
        return None
    return int(usec) / 1_000_000


class Watchdog:
    """Pings the systemd watchdog at half the interval while ``health_check()`` reports healthy.

    ``async with Watchdog(notifier, interval, health_check, logger):`` owns one task named
    ``sd-watchdog``; or run ``await watchdog.run(stop_event)`` in your own task group. With no
    interval or a disabled notifier it does nothing (and never calls the health check). The
    check is called once per tick and must be quick and not block.
    """

    def __init__(
        self,
        notifier: Notifier,
        interval: float | None,
        health_check: HealthCheck,
        logger: logging.Logger | None = None,
    ) -> None:
        self._notifier = notifier
        self._interval = interval
        self._check = health_check
        self._log = logger or _log
        self._group: asyncio.TaskGroup | None = None
        self._task: asyncio.Task[None] | None = None
        self.unhealthy_reason: str | None = None
        self.pings = 0

    @property
    def active(self) -> bool:
        return self._notifier.enabled and self._interval is not None and self._interval > 0

    @property
    def period(self) -> float | None:
        """Seconds between health checks (half of ``WatchdogSec=``), ``None`` when inactive."""
        return self._interval / 2 if self.active and self._interval is not None else None

    async def __aenter__(self) -> Watchdog:
        if not self.active:
            self._log.debug("systemd watchdog not requested; no pings")
            return self
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        self._task = self._group.create_task(self.run(), name="sd-watchdog")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._group is None:
            return
        if self._task is not None:
            self._task.cancel()
        group, self._group, self._task = self._group, None, None
        # The block's own exception propagates as it is; only a failure of the ping task itself
        # would surface from the group.
        await group.__aexit__(None, None, None)

    def _health(self) -> str | None:
        """``None`` when healthy, else the reason."""
        try:
            result = self._check()
        except Exception as e:  # a broken check is itself a reason to stop vouching for the daemon
            return f"health check failed: {type(e).__name__}: {e}"
        if result is True:
            return None
        if isinstance(result, str):
            return _clean(result) or "unhealthy (no reason given)"
        return "unhealthy (no reason given)"

    def tick(self) -> None:
        """One health check and, if healthy, one ping (the loop calls this every period)."""
        reason = self._health()
        if reason is None:
            if self.unhealthy_reason is not None:
                self._log.warning("healthy again after: %s; watchdog pings resume", self.unhealthy_reason)
                self.unhealthy_reason = None
                restored = self._notifier.last_status or "running"
                self._notifier.notify("WATCHDOG=1", f"STATUS={restored}", remember_status=False)
            else:
                self._notifier.watchdog()
            self.pings += 1
            return
        if reason != self.unhealthy_reason:
            self._log.error(
                "unhealthy: %s; watchdog pings stopped, systemd restarts the service after %.0f s",
                reason,
                self._interval or 0.0,
            )
            self.unhealthy_reason = reason
            self._notifier.notify(f"STATUS=unhealthy: {reason}", remember_status=False)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """The ping loop as a plain coroutine (for a caller's own TaskGroup), until ``stop`` is set.

        Returns at once when the watchdog is inactive.
        """
        period = self.period
        if period is None:
            self._log.debug("systemd watchdog not requested; no pings")
            return
        while stop is None or not stop.is_set():
            self.tick()
            if stop is None:
                await asyncio.sleep(period)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), period)
