"""The hut's 4G modem as an SMS channel: port, initialisation, status, sending, receiving.

:class:`Modem` owns the AT port (the udev by-id path of a Quectel/SIMCom/Huawei modem) through
:class:`~drivers.modem.at.AtChannel`. ``run(stop)`` keeps it open (reopening with jittered backoff
after a USB re-plug or a modem reset), initialises it, polls SIM / registration / signal /
operator every ``status_interval_s``, reads new messages (``+CMTI`` -> ``AT+CMGR``; ``AT+CMGL=4``
on every status pass, so replies stored while the daemon was down or whose ``+CMTI`` was missed
are picked up), hands each complete message to ``on_sms`` and deletes it only after ``on_sms``
returned. ``send`` sends one message at a time in PDU mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from drivers.modem.at import AtChannel, Urc
from drivers.modem.errors import (
    AtError,
    AtTimeout,
    ModemError,
    ModemUnavailable,
    PduError,
    PortClosed,
    SmsSendError,
)
from drivers.modem.pdu import DeliverPdu, decode_deliver, encode_submit

OpenSerial = Callable[[str, Callable[[], asyncio.Protocol]], Awaitable[asyncio.BaseTransport]]

BAUDRATE: Final = 115200
CONCAT_HOLD_S: Final = 600.0  # parts of a concatenated reply wait this long for the rest
MAX_GROUPS: Final = 32  # at most this many incomplete concatenated replies held
TIMEOUTS_BEFORE_REOPEN: Final = 3

#: +CREG/+CEREG <stat> (TS 27.007 §7.2) -> ModemState.registration
_REG_NAMES: Final[dict[int, str]] = {
    0: "not registered",
    1: "home",
    2: "searching",
    3: "denied",
    4: "unknown",
    5: "roaming",
    6: "home",  # SMS only
    7: "roaming",  # SMS only
    8: "emergency only",
    9: "home",  # CSFB not preferred
    10: "roaming",
}
_REGISTERED: Final = frozenset({1, 5, 6, 7, 9, 10})
#: +CME ERROR codes of AT+CPIN? (TS 27.007 §9.2) -> the SIM state
_CPIN_ERRORS: Final[dict[int, str]] = {
    10: "NOT INSERTED",
    11: "SIM PIN",
    12: "SIM PUK",
    13: "SIM FAILURE",
    14: "SIM BUSY",
    15: "SIM WRONG",
    17: "SIM PIN2",
    18: "SIM PUK2",
}
#: +CMS ERROR codes after which sending the same message to the same number will not work:
#: RP-cause values (TS 24.011 Annex E-2) for unassigned/barred numbers and rejected messages,
#: TP-FCS values 128..207 (TS 23.040 §9.2.3.22: the PDU itself is refused), and the ME's
#: "invalid PDU / operation not allowed" (TS 27.005 §3.2.5). Everything else may pass later.
_PERMANENT_CMS: Final = frozenset(
    {1, 8, 10, 21, 29, 50, 69, 96, 97, 98, 99, 111, *range(128, 208), 301, 302, 303, 304, 305}
)

_CMTI: Final = re.compile(r'^\+CMTI:\s*"?([A-Z]*)"?\s*,\s*(\d+)')
_CMGS: Final = re.compile(r"^\+CMGS:\s*(\d+)")
_CMGL: Final = re.compile(r"^\+CMGL:\s*(\d+)")
_REG_URC: Final = re.compile(r"^\+(C|CE)REG:\s*(\d+)")


@dataclass(frozen=True, slots=True)
class ModemState:
    port: str
    connected: bool  # port open and initialised
    sim: str  # "READY", "SIM PIN", "NOT INSERTED", "unknown", ...
    registered: bool  # home or roaming on CREG or CEREG
    registration: str  # "home", "roaming", "searching", "denied", "not registered", "unknown"
    operator: str | None
    signal_csq: int | None  # 0..31, None for 99
    signal_dbm: int | None
    last_error: str | None  # the current problem, one English sentence; None once all is well
    sent: int  # messages (parts) sent since start
    failed: int


@dataclass(frozen=True, slots=True)
class IncomingSms:
    sender: str
    text: str  # reassembled from concatenated parts
    received_at: datetime | None


@dataclass(slots=True)
class _Group:
    first_seen: float
    total: int
    parts: dict[int, tuple[int, DeliverPdu]] = field(default_factory=dict)  # seq -> (index, pdu)


async def open_serial_port(path: str, factory: Callable[[], asyncio.Protocol]) -> asyncio.BaseTransport:
    """The default opener: pyserial-asyncio-fast, 115200 8N1, exclusive."""
    import serial_asyncio_fast

    loop = asyncio.get_running_loop()
    transport, _ = await serial_asyncio_fast.create_serial_connection(
        loop, factory, path, baudrate=BAUDRATE, exclusive=True
    )
    return transport


class _Port(asyncio.Protocol):
    def __init__(self, channel_for: Callable[[asyncio.BaseTransport], AtChannel]) -> None:
        self._channel_for = channel_for
        self.channel: AtChannel | None = None
        self.lost = asyncio.Event()
        self.reason = "the AT port closed"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.channel = self._channel_for(transport)

    def data_received(self, data: bytes) -> None:
        if self.channel is not None:
            self.channel.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.reason = f"the AT port closed ({exc})" if exc else "the AT port closed"
        if self.channel is not None:
            self.channel.close(self.reason)
        self.lost.set()


class _Backoff:
    def __init__(self, initial: float, maximum: float) -> None:
        self.initial, self.maximum, self.attempt = initial, maximum, 0
        self._rng = random.Random()

    def next(self) -> float:
        delay = min(self.maximum, self.initial * 2.0 ** min(self.attempt, 30))
        self.attempt += 1
        return delay * self._rng.uniform(0.5, 1.0)


class Modem:
    def __init__(
        self,
        port: str,
        *,
        on_sms: Callable[[IncomingSms], Awaitable[None]],
        logger: logging.Logger | None = None,
        open_serial: OpenSerial = open_serial_port,
        command_timeout_s: float = 10.0,
        send_timeout_s: float = 60.0,
        status_interval_s: float = 30.0,
        reopen_backoff_s: tuple[float, float] = (1.0, 30.0),
        monotonic: Callable[[], float] = time.monotonic,
        concat_hold_s: float = CONCAT_HOLD_S,
    ) -> None:
        self._port = port
        self._concat_hold = concat_hold_s
        self._on_sms = on_sms
        self._log = logger or logging.getLogger("hutgw.modem")
        self._open = open_serial
        self._command_timeout = command_timeout_s
        self._send_timeout = send_timeout_s
        self._status_interval = status_interval_s
        self._backoff_s = reopen_backoff_s
        self._monotonic = monotonic
        self._channel: AtChannel | None = None
        self._send_lock = asyncio.Lock()
        self._urcs: asyncio.Queue[Urc] = asyncio.Queue(maxsize=256)
        self._groups: dict[tuple[str, int, int], _Group] = {}
        self._reference = random.Random().randrange(256)
        self._connected = False
        self._sim = "unknown"
        self._creg: int | None = None
        self._cereg: int | None = None
        self._operator: str | None = None
        self._csq: int | None = None
        self._last_error: str | None = None
        self._sent = 0
        self._failed = 0
        self._timeouts_in_row = 0
        self._sms_ready = False  # CNMI/CPMS done in this session
        self._reinit = False
        self._status_now = False
        self._logged: dict[str, float] = {}

    # -------------------------------------------------------------------------------- state

    @property
    def state(self) -> ModemState:
        stats = [s for s in (self._creg, self._cereg) if s is not None]
        registered = any(s in _REGISTERED for s in stats)
        if registered:
            registration = _REG_NAMES[next(s for s in stats if s in _REGISTERED)]
        elif stats:
            registration = _REG_NAMES.get(stats[0], "unknown")
        else:
            registration = "unknown"
        return ModemState(
            port=self._port,
            connected=self._connected,
            sim=self._sim,
            registered=registered,
            registration=registration,
            operator=self._operator,
            signal_csq=self._csq,
            signal_dbm=None if self._csq is None else -113 + 2 * self._csq,
            last_error=self._last_error,
            sent=self._sent,
            failed=self._failed,
        )

    def _problem(self, sentence: str, *, level: int = logging.WARNING) -> None:
        """Record the current problem; log it, at most once a minute per sentence."""
        self._last_error = sentence
        now = self._monotonic()
        if now - self._logged.get(sentence, -1e9) >= 60.0:
            if len(self._logged) > 256:
                self._logged.clear()
            self._logged[sentence] = now
            self._log.log(level, "modem %s: %s", self._port, sentence)

    # ---------------------------------------------------------------------------------- run

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the modem open and serviced until ``stop`` is set. Never raises on modem trouble."""
        backoff = _Backoff(*self._backoff_s)
        while not stop.is_set():
            try:
                if await self._session(stop):
                    backoff.attempt = 0
            except Exception as e:  # the channel must outlive any modem trouble
                self._log.exception("modem %s: session failed", self._port)
                self._problem(f"The modem session failed unexpectedly: {e}.")
            finally:
                self._connected = False
                self._channel = None
            if stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff.next())

    async def _session(self, stop: asyncio.Event) -> bool:
        """One open port; True when the modem was initialised (resets the backoff)."""

        def channel_for(transport: asyncio.BaseTransport) -> AtChannel:
            write = transport.write  # type: ignore[attr-defined]
            return AtChannel(write, self._urc, logger=self._log)

        port = _Port(channel_for)
        try:
            transport = await asyncio.wait_for(self._open(self._port, lambda: port), self._command_timeout)
        except Exception as e:
            self._problem(f"Cannot open the modem port {self._port}: {e}.")  # once a minute at most
            return False
        initialised = False
        try:
            channel = port.channel
            if channel is None:
                raise PortClosed("the port opened without a connection")
            self._channel = channel
            self._sms_ready = False
            self._timeouts_in_row = 0
            while not self._urcs.empty():
                self._urcs.get_nowait()
            self._log.info("modem %s: port open", self._port)
            work = asyncio.create_task(self._work(channel), name=f"modem:{self._port}")
            lost = asyncio.create_task(port.lost.wait())
            stopped = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({work, lost, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await _cancel_all({work, lost, stopped})
            initialised = self._connected or self._sms_ready
            exc = work.exception() if work.done() and not work.cancelled() else None
            if port.lost.is_set():
                self._problem(f"The modem port {self._port} went away ({port.reason}).")
            elif isinstance(exc, ModemError):
                self._problem(f"The modem stopped answering: {exc}.")
            elif exc is not None:
                self._log.error("modem %s: the channel failed; reopening", self._port, exc_info=exc)
                self._problem(f"The modem channel failed unexpectedly: {exc}.")
        finally:
            self._connected = False
            self._channel = None
            self._sim, self._creg, self._cereg, self._csq, self._operator = "unknown", None, None, None, None
            if port.channel is not None:
                port.channel.close("closed by the channel")
            transport.close()
        return initialised

    def _urc(self, urc: Urc) -> None:
        try:
            self._urcs.put_nowait(urc)
        except asyncio.QueueFull:  # the next AT+CMGL picks up any message whose +CMTI is lost here
            self._log.debug("modem %s: URC queue full, dropped %s", self._port, urc.line)

    async def _cmd(self, channel: AtChannel, command: str) -> list[str]:
        try:
            lines = await channel.command(command, timeout_s=self._command_timeout)
        except AtTimeout:
            self._timeouts_in_row += 1
            raise
        self._timeouts_in_row = 0
        return lines

    async def _initialise(self, channel: AtChannel) -> None:
        # A previous run may have died between AT+CMGS and its PDU: the modem would take every
        # command for PDU text. ESC cancels that (and is ignored in command mode); its OK, if
        # any, arrives with no command pending and is dropped.
        channel.write_raw(b"\x1b")
        await asyncio.sleep(0.1)
        for attempt in range(3):  # the first command after a reset may meet boot noise
            try:
                await self._cmd(channel, "ATE0")
                break
            except AtTimeout:
                if attempt == 2:
                    raise
            except AtError:
                if attempt == 2:
                    raise
        await self._cmd(channel, "AT+CMEE=1")
        await self._cmd(channel, "AT+CMGF=0")
        self._sms_ready = False
        self._connected = True
        self._reinit = False

    async def _work(self, channel: AtChannel) -> None:
        await self._initialise(channel)
        next_status = self._monotonic()
        while True:
            if self._reinit:
                self._log.info("modem %s: the modem restarted; initialising again", self._port)
                await self._initialise(channel)
                next_status = self._monotonic()
            if self._status_now or self._monotonic() >= next_status:
                self._status_now = False
                try:
                    await self._status(channel)
                except (AtError, AtTimeout) as e:
                    self._problem(f"The modem did not answer a status command: {e}.")
                next_status = self._monotonic() + self._status_interval
            if self._timeouts_in_row >= TIMEOUTS_BEFORE_REOPEN:
                raise AtTimeout("status", self._command_timeout)
            wait = max(0.0, next_status - self._monotonic())
            try:
                async with asyncio.timeout(wait):
                    urc = await self._urcs.get()
            except TimeoutError:
                continue
            try:
                await self._handle_urc(channel, urc)
            except (AtError, AtTimeout) as e:
                self._problem(f"Handling {urc.line!r} failed: {e}.")

    # ------------------------------------------------------------------------------- status

    async def _status(self, channel: AtChannel) -> None:
        """One status pass; the state fields change together at its end (a reader never sees a
        new SIM state with the old registration)."""
        try:
            lines = await self._cmd(channel, "AT+CPIN?")
            sim = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("+CPIN:")), "unknown")
        except AtError as e:
            sim = _CPIN_ERRORS.get(e.code or -1, "unknown") if e.kind == "CME" else "unknown"
        except AtTimeout as e:
            self._problem(f"The modem does not answer: {e}.")
            return
        stats: list[int | None] = []
        for command in ("AT+CREG?", "AT+CEREG?"):
            try:
                lines = await self._cmd(channel, command)
                stats.append(next((_stat(ln) for ln in lines if ln.startswith("+C")), None))
            except AtError:
                stats.append(None)
        try:
            csq = _csq(await self._cmd(channel, "AT+CSQ"))
        except AtError:
            csq = None
        try:
            operator = _operator(await self._cmd(channel, "AT+COPS?"))
        except AtError:
            operator = None
        self._sim, self._creg, self._cereg, self._csq, self._operator = sim, stats[0], stats[1], csq, operator
        state = self.state
        if self._sim != "READY":
            self._problem(_sim_sentence(self._sim))
        elif not state.registered:
            self._problem(f"The modem is not registered on a network ({state.registration}).")
        else:
            self._last_error = None
        if self._sim == "READY":
            await self._sms_setup(channel)
            await self._list_stored(channel)
        await self._expire_groups(channel)

    async def _sms_setup(self, channel: AtChannel) -> None:
        if self._sms_ready:
            return
        try:
            await self._cmd(channel, "AT+CNMI=2,1,0,0,0")
        except AtError:  # some modems refuse mode 2 with the link up; mode 1 buffers less, still indicates
            await self._cmd(channel, "AT+CNMI=1,1,0,0,0")
        try:
            await self._cmd(channel, 'AT+CPMS="SM","SM","SM"')
        except AtError as e:
            self._log.info("modem %s: AT+CPMS refused (%s); using the modem's default storage", self._port, e)
        self._sms_ready = True

    # ------------------------------------------------------------------------------ receive

    async def _handle_urc(self, channel: AtChannel, urc: Urc) -> None:
        line = urc.line
        if (m := _CMTI.match(line)) is not None:
            if self._sim == "READY":
                await self._read(channel, int(m.group(2)))
            return
        if line.startswith("+CMT:") and urc.data is not None:  # routed straight to us, not stored
            await self._take(channel, None, urc.data)
            return
        if (m := _REG_URC.match(line)) is not None:
            setattr(self, "_creg" if m.group(1) == "C" else "_cereg", int(m.group(2)))
            return
        if line in ("RDY", "+CFUN: 1"):  # the modem restarted: echo is back on, indications off
            self._reinit = True
            return
        if line.startswith("+QIND: SMS DONE") or line.startswith("+CPIN: READY"):  # SMS ready only now
            self._sms_ready = False
            self._status_now = True
            return
        self._log.debug("modem %s: unsolicited %s", self._port, line)

    async def _read(self, channel: AtChannel, index: int) -> None:
        if self._is_held(index):
            return
        lines = await self._cmd(channel, f"AT+CMGR={index}")
        pdu = next((ln for ln in lines if not ln.startswith("+CMGR")), None)
        if pdu is not None:
            await self._take(channel, index, pdu)

    async def _list_stored(self, channel: AtChannel) -> None:
        try:
            lines = await self._cmd(channel, "AT+CMGL=4")
        except AtError as e:
            self._log.debug("modem %s: AT+CMGL=4 refused: %s", self._port, e)
            return
        stored: list[tuple[int, str]] = []
        index: int | None = None
        for ln in lines:
            m = _CMGL.match(ln)
            if m is not None:
                index = int(m.group(1))
            elif index is not None:
                stored.append((index, ln))
                index = None
        for idx, pdu in stored:
            if not self._is_held(idx):
                await self._take(channel, idx, pdu)

    def _is_held(self, index: int) -> bool:
        return any(index == i for g in self._groups.values() for i, _ in g.parts.values())

    async def _take(self, channel: AtChannel, index: int | None, pdu_hex: str) -> None:
        try:
            d = decode_deliver(pdu_hex)
        except PduError as e:
            self._log.warning(
                "modem %s: stored SMS %s does not decode (%s); deleting it. PDU: %s",
                self._port,
                index,
                e,
                pdu_hex,
            )
            await self._delete(channel, [index])
            return
        if d.concat is None:
            await self._deliver(channel, IncomingSms(d.sender, d.text, d.timestamp), [index])
            return
        ref, total, seq = d.concat
        key = (d.sender, ref, total)
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= MAX_GROUPS:
                oldest = min(self._groups, key=lambda k: self._groups[k].first_seen)
                await self._flush(channel, oldest, "too many incomplete messages held")
            group = self._groups[key] = _Group(self._monotonic(), total)
        group.parts[seq] = (index if index is not None else -1, d)
        if len(group.parts) == total:
            await self._flush(channel, key, None)

    async def _flush(self, channel: AtChannel, key: tuple[str, int, int], why: str | None) -> None:
        group = self._groups.pop(key)
        ordered = [group.parts[s] for s in sorted(group.parts)]
        if why is not None:
            self._log.warning(
                "modem %s: delivering %d of %d parts of a concatenated SMS: %s",
                self._port,
                len(ordered),
                group.total,
                why,
            )
        first = ordered[0][1]
        sms = IncomingSms(first.sender, "".join(d.text for _, d in ordered), first.timestamp)
        await self._deliver(channel, sms, [i if i >= 0 else None for i, _ in ordered])

    async def _expire_groups(self, channel: AtChannel) -> None:
        now = self._monotonic()
        hold = self._concat_hold
        for key in [k for k, g in self._groups.items() if now - g.first_seen >= hold]:
            await self._flush(channel, key, f"the rest did not arrive within {hold:g} s")

    async def _deliver(self, channel: AtChannel, sms: IncomingSms, indices: list[int | None]) -> None:
        try:
            await self._on_sms(sms)
        except Exception:  # kept in the modem's storage: the next AT+CMGL hands it over again
            now = self._monotonic()
            if now - self._logged.get("on_sms", -1e9) >= 60.0:
                self._logged["on_sms"] = now
                self._log.exception("modem %s: on_sms failed; the SMS stays in storage", self._port)
            return
        self._log.info("modem %s: SMS received (%d characters)", self._port, len(sms.text))
        self._log.debug("modem %s: SMS from %s: %r", self._port, sms.sender, sms.text)
        await self._delete(channel, indices)

    async def _delete(self, channel: AtChannel, indices: list[int | None]) -> None:
        for i in indices:
            if i is None:
                continue
            try:
                await self._cmd(channel, f"AT+CMGD={i}")
            except AtError as e:
                self._log.warning("modem %s: AT+CMGD=%d failed: %s", self._port, i, e)

    # --------------------------------------------------------------------------------- send

    async def send(self, number: str, text: str, *, timeout_s: float | None = None) -> list[int]:
        """Send ``text`` to ``number`` (all parts); the message references (TP-MR) of the parts.

        Raises ModemUnavailable when the port is not open / initialised, the SIM is not ready or
        the modem is not registered; SmsSendError(temporary=...) when the modem refuses or times
        out (on a timeout the PDU is cancelled with ESC). A failure after some parts went out
        raises too: the caller sends the whole message again.
        """
        part_timeout = self._send_timeout if timeout_s is None else timeout_s
        async with self._send_lock:
            channel = self._channel
            if channel is None or not self._connected:
                raise ModemUnavailable(f"the modem port {self._port} is not open")
            state = self.state
            if state.sim != "READY":
                raise ModemUnavailable(_sim_sentence(state.sim))
            if not state.registered:
                raise ModemUnavailable(f"the modem is not registered on a network ({state.registration})")
            self._reference = (self._reference + 1) & 0xFF
            try:
                parts = encode_submit(number, text, reference=self._reference)
            except PduError as e:
                raise SmsSendError(f"cannot encode the SMS: {e}", temporary=False) from e
            refs: list[int] = []
            for n, part in enumerate(parts, start=1):
                try:
                    lines = await channel.send_pdu(
                        f"AT+CMGS={part.tpdu_length}",
                        part.hex,
                        prompt_timeout_s=self._command_timeout,
                        timeout_s=part_timeout,
                    )
                except AtError as e:
                    self._failed += 1
                    temporary = not (e.kind == "CMS" and e.code in _PERMANENT_CMS)
                    self._problem(f"Sending an SMS failed: {e.text}.")
                    raise SmsSendError(
                        f"part {n}/{len(parts)} refused: {e.text}", temporary=temporary, code=e.code
                    ) from e
                except AtTimeout as e:
                    self._failed += 1
                    self._timeouts_in_row += 1
                    self._problem(f"The modem did not confirm an SMS within {part_timeout:g} s.")
                    raise SmsSendError(f"part {n}/{len(parts)}: {e}", temporary=True) from e
                except PortClosed as e:
                    self._failed += 1
                    raise SmsSendError(f"part {n}/{len(parts)}: {e}", temporary=True) from e
                self._timeouts_in_row = 0
                mr = next((int(m.group(1)) for ln in lines if (m := _CMGS.match(ln)) is not None), None)
                if mr is None:
                    self._failed += 1
                    raise SmsSendError(f"part {n}/{len(parts)}: OK without +CMGS", temporary=True)
                self._sent += 1
                refs.append(mr)
            return refs


async def _cancel_all(tasks: set[asyncio.Task[Any]]) -> None:
    """Cancel until done: a cancellation that meets a result at the same moment can be lost."""
    pending = {t for t in tasks if not t.done()}
    while pending:
        for t in pending:
            t.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.1)
    for t in tasks:
        if not t.cancelled():
            t.exception()  # retrieved here, looked at by the caller


def _sim_sentence(sim: str) -> str:
    if sim == "NOT INSERTED":
        return "The SIM card is not inserted."
    if sim in ("SIM PIN", "SIM PUK"):
        return f"The SIM card is locked ({sim}): remove its PIN on a phone."
    return f"The SIM card is not ready ({sim})."


def _stat(line: str) -> int | None:
    fields = [f.strip() for f in line.split(":", 1)[1].split(",")]
    if len(fields) >= 2 and fields[1].isdigit():
        return int(fields[1])
    return None


def _csq(lines: list[str]) -> int | None:
    for ln in lines:
        if ln.startswith("+CSQ:"):
            rssi = ln.split(":", 1)[1].split(",")[0].strip()
            if rssi.isdigit() and int(rssi) <= 31:
                return int(rssi)
    return None


def _operator(lines: list[str]) -> str | None:
    for ln in lines:
        if ln.startswith("+COPS:"):
            fields = ln.split(":", 1)[1].split(",")
            if len(fields) >= 3:
                return fields[2].strip().strip('"') or None
    return None


__all__ = ["IncomingSms", "Modem", "ModemError", "ModemState", "OpenSerial", "open_serial_port"]
