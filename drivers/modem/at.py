"""The AT command layer (3GPP TS 27.007 §4-5, TS 27.005 §3-4) over any byte stream.

:class:`AtChannel` is fed the bytes the port delivers (``feed``) and writes through a callable,
so it runs on a serial port, a pty or a plain buffer in a test. It

* splits the stream into lines (CR and/or LF; empty lines dropped; a line too long is cut off),
* runs one command at a time (a lock), each with a timeout, and returns its information lines
  once the final result code arrives: ``OK``, or raises :class:`AtError` on ``ERROR``,
  ``+CME ERROR: <n>``, ``+CMS ERROR: <n>`` (and the V.250 call finals),
* skips the echo of the command line (echo may be on after a modem reset),
* routes unsolicited result codes (``+CMTI``, ``RING``, ``+CREG: <stat>``, ``^RSSI``, ``+QIND``...)
  to ``on_urc`` at any moment, also between a command's information lines and its ``OK``: a
  ``+NAME:`` line is a command's answer only when the command is ``AT+NAME...``; ``+CMT:`` and
  ``+CDS:`` carry their PDU on the next line,
* handles the ``> `` prompt of ``AT+CMGS`` (no line end) and ends the PDU with Ctrl-Z, or ESC on a
  timeout; after any timeout the next command first resynchronises with a bare ``AT``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from drivers.modem.errors import AtError, AtTimeout, PortClosed

CTRL_Z: Final = b"\x1a"
ESC: Final = b"\x1b"

_FINAL_ERRORS: Final = ("ERROR", "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE", "COMMAND NOT SUPPORT")
_PLAIN_URCS: Final = ("RING", "RDY", "NORMAL POWER DOWN", "POWERED DOWN")
_TWO_LINE_URCS: Final = ("+CMT:", "+CDS:", "+CBM:")
_REGISTRATION: Final = ("+CREG", "+CGREG", "+CEREG", "+C5GREG")
_COMMAND_NAME: Final = re.compile(r"^AT([+^$#%*][A-Z0-9]+)", re.IGNORECASE)
_NAME: Final = re.compile(r"^([+^$#%*][A-Z0-9]+):")
_CODE_ERROR: Final = re.compile(r"^\+(CME|CMS) ERROR:\s*(.*)$")


@dataclass(frozen=True, slots=True)
class Urc:
    """An unsolicited result code: its line, and the next line for ``+CMT:``/``+CDS:``/``+CBM:``."""

    line: str
    data: str | None = None


@dataclass(slots=True)
class _Pending:
    command: str
    name: str | None
    done: asyncio.Future[list[str]]
    prompt: asyncio.Future[None] | None = None
    lines: list[str] = field(default_factory=list)
    skip: set[str] = field(default_factory=set)


def command_name(command: str) -> str | None:
    """``"+CMGL"`` for ``"AT+CMGL=4"``; None for a basic command (``ATE0``, ``AT``)."""
    m = _COMMAND_NAME.match(command.strip())
    return m.group(1).upper() if m else None


def is_final(line: str) -> bool:
    return line == "OK" or line in _FINAL_ERRORS or _CODE_ERROR.match(line) is not None


def _registration_answer(line: str) -> bool:
    """``+CREG: <n>,<stat>[,...]`` answers ``AT+CREG?``; ``+CREG: <stat>[,"lac",...]`` is a URC."""
    fields = [f.strip() for f in line.split(":", 1)[1].split(",")]
    return len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit()


class AtChannel:
    def __init__(
        self,
        write: Callable[[bytes], None],
        on_urc: Callable[[Urc], None],
        *,
        logger: logging.Logger | None = None,
        max_line: int = 4096,
    ) -> None:
        self._write = write
        self._on_urc = on_urc
        self._log = logger or logging.getLogger("hutgw.modem.at")
        self._max_line = max_line
        self._buf = bytearray()
        self._pending: _Pending | None = None
        self._lock = asyncio.Lock()
        self._two_line: str | None = None  # a +CMT: waiting for its PDU line
        self._dirty = False
        self.closed: str | None = None
        self.timeouts = 0
        self.dropped_lines = 0

    # ------------------------------------------------------------------------------- input side

    def feed(self, data: bytes) -> None:
        self._buf += data
        while True:
            cut = min((i for i in (self._buf.find(b"\r"), self._buf.find(b"\n")) if i >= 0), default=-1)
            if cut < 0:
                break
            raw = bytes(self._buf[:cut])
            del self._buf[: cut + 1]
            if raw:
                self._line(raw.decode("ascii", errors="replace").strip())
        if len(self._buf) > self._max_line:
            self._log.warning("AT port: dropped %d bytes without a line end", len(self._buf))
            self._buf.clear()
        prompt = self._pending.prompt if self._pending is not None else None
        if prompt is not None and not prompt.done() and self._buf.lstrip().startswith(b">"):
            self._buf.clear()  # "> " has no line end
            prompt.set_result(None)

    def _line(self, line: str) -> None:
        if not line:
            return
        if self._two_line is not None:
            first, self._two_line = self._two_line, None
            self._on_urc(Urc(first, line))
            return
        if line.startswith(_TWO_LINE_URCS):
            self._two_line = line
            return
        p = self._pending
        if p is None:
            if is_final(line):
                self.dropped_lines += 1
                self._log.debug("AT port: final %r with no command pending (late answer), dropped", line)
            else:
                self._on_urc(Urc(line))
            return
        if not p.lines and line.upper() == p.command.upper():
            return  # echo of the command line
        if line in p.skip or line.lstrip("> ").rstrip("\x1a") in p.skip:
            return  # echo of the PDU
        if is_final(line):
            self._finish(p, line)
            return
        if line in _PLAIN_URCS:
            self._on_urc(Urc(line))
            return
        m = _NAME.match(line)
        if m is not None:
            name = m.group(1).upper()
            if name != p.name or (name in _REGISTRATION and not _registration_answer(line)):
                self._on_urc(Urc(line))
                return
        p.lines.append(line)

    def _finish(self, p: _Pending, final: str) -> None:
        self._pending = None
        if p.done.done():
            return
        if final == "OK":
            p.done.set_result(p.lines)
            return
        m = _CODE_ERROR.match(final)
        if m is not None:
            kind, text = m.group(1), m.group(2).strip()
            code = int(text) if text.isdigit() else None
            p.done.set_exception(AtError(p.command, kind, code, final))
        else:
            p.done.set_exception(AtError(p.command, final, None, final))

    def close(self, reason: str = "the AT port closed") -> None:
        """The port is gone: fail the pending command, refuse new ones."""
        self.closed = reason
        p, self._pending = self._pending, None
        if p is not None:
            if not p.done.done():
                p.done.set_exception(PortClosed(reason))
            if p.prompt is not None and not p.prompt.done():
                p.prompt.cancel()

    # ------------------------------------------------------------------------------ output side

    async def command(self, command: str, *, timeout_s: float) -> list[str]:
        """Run ``command`` (without CR); its information lines, or AtError / AtTimeout / PortClosed."""
        async with self._lock:
            await self._resync(timeout_s)
            return await self._run(command, timeout_s)

    async def send_pdu(
        self, command: str, pdu_hex: str, *, prompt_timeout_s: float, timeout_s: float
    ) -> list[str]:
        """``AT+CMGS=<n>``: wait for ``> ``, write the PDU and Ctrl-Z, wait for the final result."""
        async with self._lock:
            await self._resync(prompt_timeout_s)
            p = self._start(command)
            prompt: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            p.prompt = prompt
            p.skip.add(pdu_hex)
            either: set[asyncio.Future[Any]] = {prompt, p.done}
            try:
                await asyncio.wait(either, timeout=prompt_timeout_s, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                self._timed_out(p, prompt_timeout_s, escape=True)
                raise
            if p.done.done():  # a final result code (or the port closing) instead of the prompt
                return p.done.result()
            if not prompt.done():
                self._timed_out(p, prompt_timeout_s, escape=True)
                raise AtTimeout(command, prompt_timeout_s)
            self._write(pdu_hex.encode("ascii") + CTRL_Z)
            return await self._wait(p, timeout_s, escape=True)

    def write_raw(self, data: bytes) -> None:
        self._write(data)

    def _start(self, command: str) -> _Pending:
        if self.closed is not None:
            raise PortClosed(self.closed)
        loop = asyncio.get_running_loop()
        p = _Pending(command, command_name(command), loop.create_future())
        self._pending = p
        self._write(command.encode("ascii") + b"\r")
        return p

    async def _run(self, command: str, timeout_s: float) -> list[str]:
        p = self._start(command)
        return await self._wait(p, timeout_s, escape=False)

    async def _wait(self, p: _Pending, timeout_s: float, *, escape: bool) -> list[str]:
        try:
            async with asyncio.timeout(timeout_s):  # not wait_for: 3.11's can swallow a cancellation
                return await asyncio.shield(p.done)
        except TimeoutError:
            self._timed_out(p, timeout_s, escape=escape)
            raise AtTimeout(p.command, timeout_s) from None
        except asyncio.CancelledError:
            if self._pending is p:
                self._timed_out(p, timeout_s, escape=escape)
            raise

    def _timed_out(self, p: _Pending, timeout_s: float, *, escape: bool) -> None:
        if self._pending is p:
            self._pending = None
        if not p.done.done():
            p.done.cancel()
        if p.prompt is not None and not p.prompt.done():
            p.prompt.cancel()
        self.timeouts += 1
        self._dirty = True
        if escape and self.closed is None:
            self._write(ESC)  # cancel a PDU the modem may still be waiting for
        self._log.debug("AT port: %s timed out after %.1f s", p.command, timeout_s)

    async def _resync(self, timeout_s: float) -> None:
        """After a timeout, a late answer may still come: a bare AT soaks it up first."""
        if not self._dirty:
            return
        for _ in range(3):
            try:
                await self._run("AT", min(timeout_s, 2.0))
            except AtError:
                pass
            except AtTimeout:
                continue
            self._dirty = False
            return
