"""A 4G modem's AT port on a real pseudo-terminal, answering as 3GPP TS 27.007 / 27.005 say.

Written from the standards (TS 27.005 / 27.007 / 23.040 / 23.038), not from ``drivers.modem``: it
has its own GSM 7-bit tables, its own SMS-DELIVER encoder and SMS-SUBMIT decoder (checked against
the public vectors of the SMS brief (protocols/SMS.md) in tests/drivers/test_sms_pdu.py).

``ModemSim`` runs one background thread around ``os.openpty()``; the client opens the pty slave
through ``sim.path``, a symlink like ``/dev/serial/by-id/usb-Quectel_EC25-if02-port0``. Every
public method is thread-safe, so a daemon in a subprocess and an asyncio test in this process can
both drive it. Behaviour:

* echo ON at power-up (and after ``reappear()``) until ``ATE0``; verbose result codes;
  ``+CME ERROR``/``+CMS ERROR`` numeric with ``AT+CMEE=1``, verbose with 2, plain ``ERROR`` with 0;
* ``AT+CPIN?``, ``AT+CREG?``/``AT+CEREG?`` (``=n`` too, with ``+CREG: <stat>`` URCs when n>=1),
  ``AT+CSQ``, ``AT+COPS?``, ``AT+CMGF``, ``AT+CSCS``, ``AT+CNMI``, ``AT+CPMS``, ``ATI``;
* ``AT+CMGS=<n>`` -> ``> ``, the PDU in hex up to Ctrl-Z (ESC cancels), ``+CMS ERROR: 304`` when
  ``<n>`` does not match the PDU or it does not decode, ``+CMS ERROR: 331`` when not registered,
  else ``+CMGS: <mr>`` and ``OK`` after ``cmgs_delay_s``; further input waits meanwhile;
* ``AT+CMGR``/``AT+CMGD``/``AT+CMGL`` (stat 0..4) in PDU mode over a ``SM`` store of ``capacity``
  slots holding SMS-DELIVER PDUs the simulator encodes itself; ``+CMTI: "SM",<i>`` when ``AT+CNMI``
  asked for it (power-up default: no indications);
* ``urc_inside_replies``: queued URCs (``+CMTI``, ``RING``, ``sim.urc(...)``) are written inside the
  next multi-line reply, after its first line and before its ``OK``.

Shared by ``hutgw demo`` (an SOS reaching simulated phones), the tests and the bench
(``tests/support/modemsim.py`` re-exports it for older imports); the daemon never imports it.

Run as a process: ``python -m devtools.modemsim --dir D`` prints the symlink path and serves
until SIGTERM/SIGINT.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import select
import threading
import time
import tty
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType

# ----------------------------------------------------------------------------- TS 23.038 tables

# The default alphabet, row by row (column-major in the standard's table): code -> character.
_GSM_ROWS = [
    "@£$¥èéùìòÇ\nØø\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞ\x00ÆæßÉ",  # 0x1B is the escape to the extension table (placeholder here)
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "¡ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "¿abcdefghijklmno",
    "pqrstuvwxyzäöñüà",
]
GSM_BASIC: dict[int, str] = {}
for _row, _chars in enumerate(_GSM_ROWS):
    for _col, _ch in enumerate(_chars):
        if _row * 16 + _col != 0x1B:
            GSM_BASIC[_row * 16 + _col] = _ch
GSM_EXT: dict[int, str] = {
    10: "\x0c",
    20: "^",
    40: "{",
    41: "}",
    47: "\\",
    60: "[",
    61: "~",
    62: "]",
    64: "|",
    101: "€",
}
_CHAR_TO_SEPTETS: dict[str, list[int]] = {c: [k] for k, c in GSM_BASIC.items()}
_CHAR_TO_SEPTETS.update({c: [27, k] for k, c in GSM_EXT.items()})


def gsm_septets(text: str) -> list[int] | None:
    out: list[int] = []
    for ch in text:
        if ch not in _CHAR_TO_SEPTETS:
            return None
        out += _CHAR_TO_SEPTETS[ch]
    return out


def gsm_text(septets: list[int]) -> str:
    s, i = [], 0
    while i < len(septets):
        if septets[i] == 27 and i + 1 < len(septets):
            s.append(GSM_EXT.get(septets[i + 1], GSM_BASIC.get(septets[i + 1], " ")))
            i += 2
        elif septets[i] == 27:
            i += 1
        else:
            s.append(GSM_BASIC[septets[i]])
            i += 1
    return "".join(s)


def septets_to_octets(septets: list[int], offset_bits: int) -> bytes:
    """Packs septets bit by bit (TS 23.038 §6.1.2.1.1), starting ``offset_bits`` into the octets."""
    bits: list[int] = [0] * offset_bits
    for v in septets:
        bits += [(v >> b) & 1 for b in range(7)]
    while len(bits) % 8:
        bits.append(0)
    return bytes(sum(bits[i + b] << b for b in range(8)) for i in range(0, len(bits), 8))


def octets_to_septets(octets: bytes, count: int, offset_bits: int) -> list[int]:
    bits = [(o >> b) & 1 for o in octets for b in range(8)]
    out = []
    for n in range(count):
        chunk = bits[offset_bits + 7 * n : offset_bits + 7 * n + 7]
        if len(chunk) < 7:
            raise ValueError("user data shorter than TP-UDL")
        out.append(sum(bit << b for b, bit in enumerate(chunk)))
    return out


# ----------------------------------------------------------------------------- TS 23.040 codec


def _bcd_swap(digits: str) -> str:
    if len(digits) % 2:
        digits += "F"
    return "".join(digits[i + 1] + digits[i] for i in range(0, len(digits), 2))


def _address_field(number: str) -> str:
    """Address field as hex: digits count, TOA, swapped semi-octets; alphanumeric TOA 0xD0."""
    if number.startswith("+") and number[1:].isdigit():
        return f"{len(number) - 1:02X}91{_bcd_swap(number[1:])}"
    if number.isdigit():
        return f"{len(number):02X}81{_bcd_swap(number)}"
    septets = gsm_septets(number)
    if septets is None:
        raise ValueError(f"sender {number!r}")
    packed = septets_to_octets(septets, 0)
    return f"{len(packed) * 2:02X}D0{packed.hex().upper()}"


def _scts(when: datetime, tz_negative: bool = False) -> str:
    offset = when.utcoffset() or timedelta(0)
    quarters = int(abs(offset.total_seconds()) // 900)
    fields = [when.year % 100, when.month, when.day, when.hour, when.minute, when.second]
    out = "".join(_bcd_swap(f"{f:02d}") for f in fields)
    tz = _bcd_swap(f"{quarters:02d}")
    tz_val = int(tz, 16) | (0x08 if offset < timedelta(0) or tz_negative else 0)
    return out + f"{tz_val:02X}"


@dataclass(frozen=True)
class DeliverPart:
    pdu: str  # with the SMSC prefix, uppercase hex
    tpdu_length: int  # what +CMGR/+CMGL report as <length>


def encode_deliver(
    sender: str,
    text: str,
    *,
    reference: int,
    when: datetime,
    smsc: str = "+8613800100500",
    sixteen_bit_ref: bool = False,
    tz_negative: bool = False,
) -> list[DeliverPart]:
    """SMS-DELIVER PDUs for ``text`` (7-bit when it fits the GSM alphabet, else UCS-2), split
    into concatenated parts (IEI 0x00, or 0x08 with ``sixteen_bit_ref``) when too long.
    ``tz_negative`` sets the SCTS sign bit even for a zero offset (some SMSCs write "-0")."""
    septets = gsm_septets(text)
    udh_len = 7 if sixteen_bit_ref else 6
    chunks: list[list[int]] | list[bytes]
    if septets is not None:
        if len(septets) <= 160:
            chunks = [septets]
        else:
            room = (140 - udh_len) * 8 // 7
            cs: list[list[int]] = [[]]
            i = 0
            while i < len(septets):
                step = 2 if septets[i] == 27 else 1
                if len(cs[-1]) + step > room:
                    cs.append([])
                cs[-1] += septets[i : i + step]
                i += step
            chunks = cs
    else:
        raw = text.encode("utf-16-be")
        if len(raw) <= 140:
            chunks = [raw]
        else:
            room = (140 - udh_len) // 2 * 2
            bs: list[bytes] = []
            i = 0
            while i < len(raw):
                j = min(i + room, len(raw))
                if j < len(raw) and 0xD8 <= raw[j - 2] <= 0xDB:
                    j -= 2
                bs.append(raw[i:j])
                i = j
            chunks = bs
    smsc_digits = smsc.lstrip("+")
    smsc_body = "91" + _bcd_swap(smsc_digits)
    smsc_hex = f"{len(smsc_body) // 2:02X}{smsc_body}"
    parts = []
    for seq, chunk in enumerate(chunks, start=1):
        concat = len(chunks) > 1
        first = 0x04 | (0x40 if concat else 0)  # SMS-DELIVER, TP-MMS (no more messages)
        if concat and sixteen_bit_ref:
            udh = bytes([6, 8, 4, reference >> 8 & 0xFF, reference & 0xFF, len(chunks), seq])
        elif concat:
            udh = bytes([5, 0, 3, reference & 0xFF, len(chunks), seq])
        else:
            udh = b""
        if isinstance(chunk, list):
            dcs = 0
            hdr_septets = -(-len(udh) * 8 // 7)
            body = udh + septets_to_octets(chunk, hdr_septets * 7 - len(udh) * 8)
            udl = hdr_septets + len(chunk)
        else:
            dcs = 8
            body = udh + bytes(chunk)
            udl = len(body)
        scts = _scts(when, tz_negative)
        tpdu = f"{first:02X}{_address_field(sender)}00{dcs:02X}{scts}{udl:02X}{body.hex().upper()}"
        parts.append(DeliverPart(smsc_hex + tpdu, len(tpdu) // 2))
    return parts


@dataclass(frozen=True)
class SubmitDecoded:
    number: str
    text: str
    concat: tuple[int, int, int] | None  # reference, total, sequence
    tpdu_length: int


def decode_submit(pdu_hex: str) -> SubmitDecoded:
    """An SMS-SUBMIT PDU (with SMSC prefix) as the network would read it; ValueError if malformed."""
    b = bytes.fromhex(pdu_hex)
    p = 1 + b[0]
    tpdu_length = len(b) - p
    first = b[p]
    if first & 0b11 != 0b01:
        raise ValueError("not an SMS-SUBMIT")
    vpf = (first >> 3) & 0b11
    p += 2  # first octet, TP-MR
    ndigits, toa = b[p], b[p + 1]
    addr = b[p + 2 : p + 2 + (ndigits + 1) // 2]
    if len(addr) != (ndigits + 1) // 2:
        raise ValueError("address truncated")
    digits = "".join(f"{o & 0xF:X}{o >> 4:X}" for o in addr)[:ndigits]
    if not digits.isdigit():
        raise ValueError(f"address digits {digits!r}")
    number = ("+" if toa == 0x91 else "") + digits
    p += 2 + len(addr)
    dcs = b[p + 1]
    p += 2 + {0: 0, 2: 1, 1: 7, 3: 7}[vpf]
    udl = b[p]
    ud = b[p + 1 :]
    concat = None
    hdr = 0
    if first & 0x40:
        hdr = ud[0] + 1
        i = 1
        while i < hdr:
            iei, ln = ud[i], ud[i + 1]
            if iei == 0 and ln == 3:
                concat = (ud[i + 2], ud[i + 3], ud[i + 4])
            elif iei == 8 and ln == 4:
                concat = (ud[i + 2] << 8 | ud[i + 3], ud[i + 4], ud[i + 5])
            i += 2 + ln
    if dcs & 0x0C == 0x08:
        if len(ud) != udl:
            raise ValueError("TP-UDL does not match the user data")
        text = ud[hdr:].decode("utf-16-be")
    elif dcs & 0x0C == 0:
        if len(ud) != -(-udl * 7 // 8):
            raise ValueError("TP-UDL does not match the user data")
        hdr_septets = -(-hdr * 8 // 7)
        text = gsm_text(octets_to_septets(ud, udl, 0)[hdr_septets:])
    else:
        raise ValueError(f"DCS {dcs:#x}")
    return SubmitDecoded(number, text, concat, tpdu_length)


# ----------------------------------------------------------------------------------- the modem


@dataclass(frozen=True)
class SentSms:
    number: str
    text: str
    parts: int
    at_monotonic: float  # when the last part was accepted


@dataclass
class StoredSms:
    index: int
    stat: int  # 0 REC UNREAD, 1 REC READ, 2 STO UNSENT, 3 STO SENT
    pdu: str
    tpdu_length: int
    sender: str = ""
    text: str = ""


@dataclass
class _Link:
    master: int
    slave: int
    name: str


_CONTROLS = {c: None for c in range(32)}  # stray LF, ESC, Ctrl-Z before a command are ignored
_CME_TEXT = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    13: "SIM failure",
    30: "no network service",
    100: "unknown",
}
_CMS_TEXT = {
    302: "operation not allowed",
    303: "operation not supported",
    304: "invalid PDU mode parameter",
    310: "SIM not inserted",
    311: "SIM PIN required",
    321: "invalid memory index",
    322: "SIM memory full",
    331: "no network service",
    500: "unknown error",
}


class ModemSim:
    def __init__(
        self,
        folder: Path | str,
        *,
        name: str = "usb-Quectel_EC25-if02-port0",
        cmgs_delay_s: float = 0.3,
        capacity: int = 30,
        operator: str = "CHINA MOBILE",
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / name
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._thread: threading.Thread | None = None
        self._running = False
        self._link: _Link | None = None
        self.tty_names: list[str] = []
        # knobs
        self.cmgs_delay_s = cmgs_delay_s
        self.sim_status = "READY"
        self.registration = 1
        self.lte_registration: int | None = None  # +CEREG stat; None: same as registration
        self.csq = 20
        self.operator = operator
        self.urc_inside_replies = False
        self.capacity = capacity
        self._fail_sends: list[int] = []
        # observations
        self.sent: list[SentSms] = []
        self.cmgs_issued: list[float] = []
        self.commands: list[str] = []
        self.rejected_deliveries = 0
        # storage and modem state
        self._store: dict[int, StoredSms] = {}
        self._partial: dict[tuple[str, int, int], dict[int, str]] = {}
        self._mr = 0
        self._deliver_ref = 0x40
        self._power_up()
        self._out = bytearray()
        self._in = bytearray()
        self._urcs: list[str] = []
        self._timers: list[tuple[float, str, object]] = []
        self._busy_until = 0.0
        self._pdu_for: int | None = None  # AT+CMGS=<n> waiting for its PDU

    def _power_up(self) -> None:
        self.echo = True
        self.cmee = 0
        self.cmgf = 0
        self.cscs = "IRA"
        self.cnmi = [0, 0, 0, 0, 0]
        self.creg_n = 0
        self.cereg_n = 0

    # ----------------------------------------------------------------------------- lifecycle

    def __enter__(self) -> ModemSim:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        with self._lock:
            if self._running:
                return
            self._running = True
            self._plug()
        self._thread = threading.Thread(target=self._serve, name="modemsim", daemon=True)
        self._thread.start()

    def close(self) -> None:
        with self._lock:
            self._running = False
        self._wake()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            self._unplug()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def vanish(self) -> None:
        """The USB device goes away: the pty closes and the by-id symlink disappears."""
        with self._lock:
            self._unplug()
        self._wake()

    def reappear(self) -> None:
        """The modem comes back after a reset: a NEW pty (another tty name), echo on, defaults."""
        with self._lock:
            self._unplug()
            self._power_up()
            self._in.clear()
            self._out.clear()
            self._urcs.clear()
            self._timers.clear()
            self._pdu_for = None
            self._busy_until = 0.0
            self._plug()
        self._wake()

    def reset(self) -> None:
        """The modem restarts on its own on the same tty: power-up defaults (echo on, no
        indications), input lost, then ``RDY`` as Quectel modems print it."""
        with self._lock:
            self._power_up()
            self._in.clear()
            self._urcs.clear()
            self._timers.clear()
            self._pdu_for = None
            self._busy_until = 0.0
            if self._link is not None:
                self._emit("\r\nRDY\r\n")

    def _plug(self) -> None:
        avoid = set(self.tty_names[-1:])
        spare: list[tuple[int, int]] = []
        while True:
            master, slave = os.openpty()
            name = os.ttyname(slave)
            if name not in avoid:
                break
            spare.append((master, slave))  # keep it open so the next openpty differs
        for m, s in spare:
            os.close(m)
            os.close(s)
        tty.setraw(slave)
        fl = fcntl.fcntl(master, fcntl.F_GETFL)
        fcntl.fcntl(master, fcntl.F_SETFL, fl | os.O_NONBLOCK)
        self._link = _Link(master, slave, name)
        self.tty_names.append(name)
        tmp = self.path.with_name(self.path.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(name)
        os.replace(tmp, self.path)

    def _unplug(self) -> None:
        link, self._link = self._link, None
        self.path.unlink(missing_ok=True)
        if link is not None:
            for fd in (link.master, link.slave):
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._out.clear()
        self._in.clear()
        self._pdu_for = None

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    # ------------------------------------------------------------------------------ thread

    def _serve(self) -> None:
        while True:
            with self._lock:
                if not self._running:
                    return
                link = self._link
                now = time.monotonic()
                self._run_timers(now)
                self._process_input(now)
                want_write = bool(self._out) and link is not None
                nxt = min((t for t, _, _ in self._timers), default=now + 0.2)
                if self._busy_until > now:
                    nxt = min(nxt, self._busy_until)
            rlist = [self._wake_r] + ([link.master] if link is not None else [])
            wlist = [link.master] if want_write and link is not None else []
            try:
                r, w, _ = select.select(rlist, wlist, [], max(0.0, min(0.2, nxt - time.monotonic())))
            except (OSError, ValueError):
                continue  # the link changed under us
            if self._wake_r in r:
                with contextlib.suppress(OSError):
                    os.read(self._wake_r, 4096)
            with self._lock:
                if link is None or self._link is not link:
                    continue
                if link.master in r:
                    try:
                        data = os.read(link.master, 4096)
                    except OSError as e:
                        if e.errno not in (errno.EAGAIN, errno.EIO):
                            raise
                        data = b""
                    if data:
                        self._receive(data)
                if link.master in w and self._out:
                    try:
                        n = os.write(link.master, bytes(self._out))
                        del self._out[:n]
                    except OSError as e:
                        if e.errno not in (errno.EAGAIN, errno.EIO):
                            raise

    def _emit(self, text: str) -> None:
        self._out += text.encode("latin-1", errors="replace")
        self._wake()

    def _receive(self, data: bytes) -> None:
        self._in += data
        self._process_input(time.monotonic())

    def _process_input(self, now: float) -> None:
        while self._in and self._busy_until <= now:
            if self._pdu_for is not None:
                stop = next((i for i, c in enumerate(self._in) if c in (0x1A, 0x1B)), -1)
                if stop < 0:
                    return
                if self.echo:
                    self._emit(self._in[: stop + 1].decode("latin-1"))
                body = self._in[:stop].decode("latin-1").strip()
                ctrl = self._in[stop]
                del self._in[: stop + 1]
                length, self._pdu_for = self._pdu_for, None
                if ctrl == 0x1B:
                    self._final("OK")  # TS 27.005 §3.5.1: ESC aborts sending
                else:
                    self._submit(body, length, now)
                continue
            cr = self._in.find(b"\r")
            if cr < 0:
                return  # a real modem echoes as it is typed; this one echoes whole lines
            line_b = bytes(self._in[:cr])
            del self._in[: cr + 1]
            if self.echo:
                self._emit(line_b.decode("latin-1") + "\r")
            line = line_b.decode("latin-1").translate(_CONTROLS).strip()
            if not line:
                continue
            self._command(line, now)

    # ---------------------------------------------------------------------------- responses

    def _reply(self, lines: list[str], final: str = "OK") -> None:
        """Information responses (each framed CR LF ... CR LF; a PDU follows its header after a
        single CR LF) then the final code; queued URCs go inside, after the first response, when
        the knob says so."""
        out = list(lines)
        if self.urc_inside_replies and self._urcs:
            pos = 1 if out else 0
            out[pos:pos] = self._urcs
            self._urcs = []
        for ln in out:
            self._emit(f"\r\n{ln}\r\n")
        self._emit(f"\r\n{final}\r\n")

    def _final(self, final: str) -> None:
        self._reply([], final)

    def _cme(self, code: int) -> None:
        self._error("CME", code, _CME_TEXT)

    def _cms(self, code: int) -> None:
        self._error("CMS", code, _CMS_TEXT)

    def _error(self, kind: str, code: int, texts: dict[int, str]) -> None:
        if self.cmee == 1:
            self._final(f"+{kind} ERROR: {code}")
        elif self.cmee == 2:
            self._final(f"+{kind} ERROR: {texts.get(code, 'unknown')}")
        else:
            self._final("ERROR")

    def _unsolicited(self, line: str) -> None:
        if self.urc_inside_replies:
            self._urcs.append(line)
        else:
            self._emit(f"\r\n{line}\r\n")

    def _run_timers(self, now: float) -> None:
        due = [t for t in self._timers if t[0] <= now]
        self._timers = [t for t in self._timers if t[0] > now]
        for _, what, arg in sorted(due, key=lambda t: t[0]):
            if what == "cmgs_ok":
                assert isinstance(arg, int)
                self._reply([f"+CMGS: {arg}"])
            elif what == "cms":
                assert isinstance(arg, int)
                self._cms(arg)

    # ------------------------------------------------------------------------------ commands

    def _command(self, line: str, now: float) -> None:
        self.commands.append(line)
        self._changed.notify_all()
        up = line.upper()
        if not up.startswith("AT"):
            self._final("ERROR")
            return
        body = line[2:]
        ubody = up[2:]
        if ubody == "":
            self._final("OK")
            return
        if re.fullmatch(r"E[01]?", ubody):
            self.echo = ubody == "E1"
            self._final("OK")
            return
        if ubody in ("I", "+GMM", "+CGMM"):
            self._reply(["Quectel", "EC25", "Revision: EC25EFAR06A06M4G"])
            return
        m = re.fullmatch(r"(\+[A-Z]+)(\?|=\?|=(.*))?", ubody)
        if m is None:
            self._final("ERROR")
            return
        name, suffix = m.group(1), m.group(2) or ""
        args_raw = body[len(name) + 1 :] if suffix.startswith("=") and suffix != "=?" else ""
        args = [a.strip().strip('"') for a in args_raw.split(",")] if args_raw else []
        handler = getattr(self, "_at_" + name[1:].lower(), None)
        if handler is None:
            self._final("ERROR")
            return
        handler(suffix, args, now)

    def _int_args(self, args: list[str]) -> list[int] | None:
        try:
            return [int(a) for a in args]
        except ValueError:
            return None

    def _at_cmee(self, suffix: str, args: list[str], now: float) -> None:
        if suffix == "?":
            self._reply([f"+CMEE: {self.cmee}"])
            return
        vals = self._int_args(args)
        if not vals or vals[0] not in (0, 1, 2):
            self._final("ERROR")
            return
        self.cmee = vals[0]
        self._final("OK")

    def _at_cpin(self, suffix: str, args: list[str], now: float) -> None:
        if suffix != "?":
            self._cme(3)
            return
        if self.sim_status == "NOT INSERTED":
            self._cme(10)
        else:
            self._reply([f"+CPIN: {self.sim_status}"])

    def _reg(self, which: str, suffix: str, args: list[str]) -> None:
        n_attr = "creg_n" if which == "CREG" else "cereg_n"
        stat = (
            self.registration if which == "CREG" or self.lte_registration is None else self.lte_registration
        )
        if suffix == "?":
            self._reply([f"+{which}: {getattr(self, n_attr)},{stat}"])
            return
        vals = self._int_args(args)
        if not vals or vals[0] not in (0, 1, 2):
            self._cme(4)
            return
        setattr(self, n_attr, vals[0])
        self._final("OK")

    def _at_creg(self, suffix: str, args: list[str], now: float) -> None:
        self._reg("CREG", suffix, args)

    def _at_cereg(self, suffix: str, args: list[str], now: float) -> None:
        self._reg("CEREG", suffix, args)

    def _at_csq(self, suffix: str, args: list[str], now: float) -> None:
        self._reply([f"+CSQ: {self.csq},99"])

    def _at_cops(self, suffix: str, args: list[str], now: float) -> None:
        if suffix != "?":
            self._final("OK")
            return
        if self.registration in (1, 5):
            self._reply([f'+COPS: 0,0,"{self.operator}",7'])
        else:
            self._reply(["+COPS: 0"])

    def _at_cmgf(self, suffix: str, args: list[str], now: float) -> None:
        if suffix == "?":
            self._reply([f"+CMGF: {self.cmgf}"])
            return
        vals = self._int_args(args)
        if not vals or vals[0] not in (0, 1):
            self._cms(302)
            return
        self.cmgf = vals[0]
        self._final("OK")

    def _at_cscs(self, suffix: str, args: list[str], now: float) -> None:
        if suffix == "?":
            self._reply([f'+CSCS: "{self.cscs}"'])
        elif args and args[0].upper() in ("GSM", "IRA", "UCS2"):
            self.cscs = args[0].upper()
            self._final("OK")
        else:
            self._cme(4)

    def _at_cnmi(self, suffix: str, args: list[str], now: float) -> None:
        if suffix == "?":
            self._reply(["+CNMI: " + ",".join(map(str, self.cnmi))])
            return
        vals = self._int_args(args)
        if vals is None or not vals or len(vals) > 5 or vals[0] > 3 or (len(vals) > 1 and vals[1] > 3):
            self._cms(302)
            return
        self.cnmi = (vals + self.cnmi[len(vals) :])[:5]
        self._final("OK")

    def _used(self) -> int:
        return len(self._store)

    def _at_cpms(self, suffix: str, args: list[str], now: float) -> None:
        if not self._sms_possible():
            return
        u, c = self._used(), self.capacity
        if suffix == "?":
            self._reply([f'+CPMS: "SM",{u},{c},"SM",{u},{c},"SM",{u},{c}'])
        elif args and all(a.upper() == "SM" for a in args):
            self._reply([f"+CPMS: {u},{c},{u},{c},{u},{c}"])
        else:
            self._cms(302)

    def _sms_possible(self) -> bool:
        if self.sim_status == "NOT INSERTED":
            self._cms(310)
            return False
        if self.sim_status != "READY":
            self._cms(311)
            return False
        return True

    def _at_cmgs(self, suffix: str, args: list[str], now: float) -> None:
        self.cmgs_issued.append(now)
        if self.cmgf != 0:
            self._cms(303)  # the simulator speaks PDU mode only
            return
        vals = self._int_args(args)
        if not vals or not 7 <= vals[0] <= 164:
            self._cms(304)
            return
        if not self._sms_possible():
            return
        self._pdu_for = vals[0]
        self._emit("\r\n> ")

    def _submit(self, pdu_hex: str, length: int, now: float) -> None:
        try:
            d = decode_submit(pdu_hex)
        except (ValueError, IndexError, KeyError, UnicodeDecodeError):
            self._cms(304)
            return
        if d.tpdu_length != length:
            self._cms(304)
            return
        self._busy_until = now + self.cmgs_delay_s
        if self._fail_sends:
            self._timers.append((self._busy_until, "cms", self._fail_sends.pop(0)))
            return
        if self.registration not in (1, 5):
            self._timers.append((self._busy_until, "cms", 331))
            return
        self._mr = (self._mr + 1) % 256
        self._timers.append((self._busy_until, "cmgs_ok", self._mr))
        self._record_sent(d, self._busy_until)

    def _record_sent(self, d: SubmitDecoded, at: float) -> None:
        if d.concat is None:
            self.sent.append(SentSms(d.number, d.text, 1, at))
        else:
            ref, total, seq = d.concat
            parts = self._partial.setdefault((d.number, ref, total), {})
            parts[seq] = d.text
            if len(parts) == total:
                del self._partial[(d.number, ref, total)]
                text = "".join(parts[i] for i in sorted(parts))
                self.sent.append(SentSms(d.number, text, total, at))
        self._changed.notify_all()

    def _index_arg(self, args: list[str]) -> int | None:
        vals = self._int_args(args[:1])
        if not vals or not 0 <= vals[0] < self.capacity:
            self._cms(321)
            return None
        return vals[0]

    def _at_cmgr(self, suffix: str, args: list[str], now: float) -> None:
        if not self._sms_possible():
            return
        if self.cmgf != 0:
            self._cms(303)
            return
        i = self._index_arg(args)
        if i is None:
            return
        sms = self._store.get(i)
        if sms is None:
            self._final("OK")  # an empty slot: no information response (Quectel, SIMCom)
            return
        stat = sms.stat
        if sms.stat == 0:
            sms.stat = 1
        self._reply([f"+CMGR: {stat},,{sms.tpdu_length}\r\n{sms.pdu}"])  # TS 27.005 §3.4.3: one response

    def _at_cmgd(self, suffix: str, args: list[str], now: float) -> None:
        if not self._sms_possible():
            return
        if suffix == "=?":
            self._reply([f"+CMGD: (0-{self.capacity - 1}),(0-4)"])
            return
        i = self._index_arg(args)
        if i is None:
            return
        vals = self._int_args(args[1:2]) or [0]
        flag = vals[0]
        if flag == 0:
            self._store.pop(i, None)
        else:  # 1 read, 2 read+sent, 3 read+sent+unsent, 4 all
            stats = {1: {1}, 2: {1, 3}, 3: {1, 2, 3}, 4: {0, 1, 2, 3}}.get(flag, set())
            for k in [k for k, s in self._store.items() if s.stat in stats]:
                del self._store[k]
        self._changed.notify_all()
        self._final("OK")

    def _at_cmgl(self, suffix: str, args: list[str], now: float) -> None:
        if not self._sms_possible():
            return
        if self.cmgf != 0:
            self._cms(303)
            return
        vals = self._int_args(args[:1]) if args else [0]
        if not vals or vals[0] not in (0, 1, 2, 3, 4):
            self._cms(302)
            return
        want = vals[0]
        lines = []
        for i in sorted(self._store):
            sms = self._store[i]
            if want == 4 or sms.stat == want:
                lines.append(f"+CMGL: {i},{sms.stat},,{sms.tpdu_length}\r\n{sms.pdu}")
                if sms.stat == 0:
                    sms.stat = 1
        self._reply(lines)

    # ---------------------------------------------------------------------------- test API

    def _store_message(self, sender: str, text: str, *, indicate: bool, when: datetime | None) -> list[int]:
        self._deliver_ref = (self._deliver_ref + 1) % 256
        parts = encode_deliver(
            sender, text, reference=self._deliver_ref, when=when or datetime.now(timezone(timedelta(hours=8)))
        )
        indices = []
        for part in parts:
            free = next((i for i in range(self.capacity) if i not in self._store), None)
            if free is None:
                self.rejected_deliveries += 1
                continue
            self._store[free] = StoredSms(free, 0, part.pdu, part.tpdu_length, sender, text)
            indices.append(free)
            if indicate and self.cnmi[1] == 1 and self._link is not None:
                self._unsolicited(f'+CMTI: "SM",{free}')
        self._changed.notify_all()
        return indices

    def deliver(self, sender: str, text: str, *, when: datetime | None = None) -> list[int]:
        """A reply arrives: stored (several parts if long) and announced with +CMTI; the indices."""
        with self._lock:
            return self._store_message(sender, text, indicate=True, when=when)

    def store_silently(self, sender: str, text: str, *, when: datetime | None = None) -> list[int]:
        """A reply that arrived while nobody listened: stored, no +CMTI."""
        with self._lock:
            return self._store_message(sender, text, indicate=False, when=when)

    def store_raw(self, pdu_hex: str, *, indicate: bool = True) -> int:
        """Put any PDU (even a malformed one) into storage; its index."""
        with self._lock:
            free = next(i for i in range(self.capacity) if i not in self._store)
            self._store[free] = StoredSms(free, 0, pdu_hex.upper(), max(0, len(pdu_hex) // 2 - 1))
            if indicate and self.cnmi[1] == 1 and self._link is not None:
                self._unsolicited(f'+CMTI: "SM",{free}')
            return free

    def urc(self, line: str) -> None:
        """Emit any unsolicited line (``RING``, ``+CREG: 1``...), inside the next reply if asked."""
        with self._lock:
            self._unsolicited(line)

    def ring(self) -> None:
        self.urc("RING")

    def fail_next_sends(self, n: int, code: int = 500) -> None:
        with self._lock:
            self._fail_sends += [code] * n

    def set_registration(self, stat: int) -> None:
        """Change +CREG stat, with a ``+CREG: <stat>`` URC when AT+CREG=1 asked for it."""
        with self._lock:
            self.registration = stat
            if self.creg_n >= 1 and self._link is not None:
                self._unsolicited(f"+CREG: {stat}")

    @property
    def stored(self) -> list[StoredSms]:
        with self._lock:
            return [self._store[i] for i in sorted(self._store)]

    @property
    def tty(self) -> str | None:
        with self._lock:
            return self._link.name if self._link is not None else None

    def wait_for(self, predicate: object, timeout: float) -> bool:
        """Block until ``predicate()`` is true (checked whenever the simulator's state changes)."""
        assert callable(predicate)
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.05))
            return True

    def wait_sent(self, n: int, timeout: float) -> list[SentSms]:
        """Block until at least ``n`` messages were sent; all sent so far. TimeoutError otherwise."""
        if not self.wait_for(lambda: len(self.sent) >= n, timeout):
            raise TimeoutError(f"{len(self.sent)} of {n} SMS sent within {timeout} s")
        with self._lock:
            return list(self.sent)

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {"sent": list(self.sent), "commands": list(self.commands), "stored": self.stored}


def main(argv: list[str] | None = None) -> int:
    import argparse
    import signal

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--dir", required=True, type=Path)
    ap.add_argument("--cmgs-delay", type=float, default=0.3)
    ns = ap.parse_args(argv)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    with ModemSim(ns.dir, cmgs_delay_s=ns.cmgs_delay) as sim:
        print(sim.path, flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
