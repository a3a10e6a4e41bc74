"""Logging for the daemon: stdlib logging to stdout, in a form journald understands.

Under systemd, stdout is connected to the journal and ``$JOURNAL_STREAM`` names that stream
(``DEVICE:INODE``). Then every line starts with a syslog priority prefix (``<6>`` info, ``<4>``
warning, ...) that journald turns into the entry's level (``journalctl -p warning``), and no
timestamp (journald adds its own). Anywhere else a line carries a UTC timestamp and the level.

The rule for resident health values
-----------------------------------
Readings (blood pressure, weight, heart rate, positions) and the raw bytes they came from are
never logged above DEBUG. Log them only through :func:`health_debug`, which logs at DEBUG and
marks the record. :class:`HealthGuard`, installed on the handler by :func:`setup_logging`,
enforces the rule for mistakes: a marked record above DEBUG, or any record above DEBUG whose arguments are
decoded measurements, raw frames or outbox records, is written with those values withheld.
Above DEBUG, log *that* something happened (device, kind, outcome), never *what* was measured.
DEBUG is for diagnosis on site; turn it back off afterwards.

Repeated lines
--------------
:class:`RateLimit`, also installed by :func:`setup_logging`, writes at most
:data:`RATE_LIMIT_BURST` lines per *kind* (logger, level and message template -- or the first
line of a message without arguments, which is how asyncio reports ``socket.send() raised
exception.`` and failed ``accept()`` calls) per :data:`RATE_LIMIT_S` seconds: a few, so that
two devices failing alike both show. The first line of a kind after a quiet interval says how
many were left out (``[41 more like this in the last 10 s not logged]``). A flood of one
failure (a full disk, a thousand broken connections) costs a few lines, not a hundred
megabytes.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

from buffer.record import Record, Stored
from drivers.frames import RawFrame
from drivers.measurement import Decoded, Measurement, Value

HEALTH = "hutgw_health"
"""Attribute set on records that carry resident health values (``extra={HEALTH: True}``)."""

WITHHELD = "<withheld>"

# Objects that carry health values: never rendered above DEBUG.
HEALTH_TYPES: tuple[type, ...] = (Value, Measurement, Decoded, RawFrame, Record, Stored)

# syslog priorities (sd-daemon(3)): 2 crit, 3 err, 4 warning, 5 notice, 6 info, 7 debug
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))

RATE_LIMIT_S = 10.0
"""The interval of :class:`RateLimit`."""

RATE_LIMIT_BURST = 5
"""Lines of one kind written per interval; the rest are counted."""

MAX_KINDS = 2048
"""Kinds :class:`RateLimit` remembers; beyond this, kinds whose interval ended are forgotten."""

# Libraries whose DEBUG output is noise or carries SQL parameters (readings): kept at WARNING.
QUIET_LOGGERS = ("aiosqlite", "asyncio")


def priority(levelno: int) -> int:
    """The syslog priority for a logging level."""
    for level, prio in _PRIORITIES:
        if levelno >= level:
            return prio
    return 7


def health_debug(logger: logging.Logger | logging.LoggerAdapter[Any], msg: str, *args: object) -> None:
    """Log resident health values: at DEBUG only, lazily, marked for :class:`HealthGuard`.

    ``health_debug(log, "%s: systolic %s diastolic %s", device_id, sys, dia)``
    """
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(msg, *args, extra={HEALTH: True}, stacklevel=2)


def _carries_health(obj: object) -> bool:
    if isinstance(obj, HEALTH_TYPES):
        return True
    if isinstance(obj, (list, tuple, set, frozenset)):
        return any(_carries_health(o) for o in obj)
    if isinstance(obj, Mapping):
        return any(_carries_health(o) for o in obj.values())
    return False


class HealthGuard(logging.Filter):
    """Withholds health values from records above DEBUG (see the module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG:
            return True
        marked = bool(getattr(record, HEALTH, False))
        if _carries_health(record.msg):
            record.msg = f"{WITHHELD} {type(record.msg).__name__}"
            record.args = None
            return True
        args = record.args
        if isinstance(args, Mapping):
            record.args = {k: (WITHHELD if marked or _carries_health(v) else v) for k, v in args.items()}
        elif args:
            record.args = tuple(WITHHELD if marked or _carries_health(a) else a for a in args)
        if marked:
            record.msg = f"{record.msg} [health values are logged at DEBUG only]"
        return True


def _kind(record: logging.LogRecord) -> tuple[str, int, str]:
    template = str(record.msg) if record.args else str(record.msg).split("\n", 1)[0][:200]
    return record.name, record.levelno, template


class RateLimit(logging.Filter):
    """At most ``burst`` lines per kind (logger, level, message template) per ``interval_s``
    seconds; the first line of a kind after that carries the count of lines left out."""

    def __init__(
        self,
        interval_s: float = RATE_LIMIT_S,
        *,
        burst: int = RATE_LIMIT_BURST,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = MAX_KINDS,
    ) -> None:
        super().__init__()
        self._interval = interval_s
        self._burst = burst
        self._clock = clock
        self._max_kinds = max_kinds
        # kind -> [start of its interval, lines written in it, lines left out]
        self._kinds: dict[tuple[str, int, str], list[float]] = {}
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = self._clock()
        kind = _kind(record)
        seen = self._kinds.get(kind)
        if seen is not None and now - seen[0] < self._interval:
            if seen[1] < self._burst:
                seen[1] += 1
                return True
            seen[2] += 1
            self.suppressed += 1
            return False
        if seen is not None and seen[2]:
            record.msg = (
                f"{record.msg} [{int(seen[2])} more like this in the last {now - seen[0]:.0f} s not logged]"
            )
        if seen is None and len(self._kinds) >= self._max_kinds:
            self._forget(now)
        self._kinds[kind] = [now, 1, 0]
        return True

    def _forget(self, now: float) -> None:
        expired = [k for k, (t, _, _) in self._kinds.items() if now - t >= self._interval]
        for k in expired or list(self._kinds)[: self._max_kinds // 2]:
            del self._kinds[k]


class JournalFormatter(logging.Formatter):
    """``<prio>logger: message``; every line of a multi-line entry gets the prefix."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).split("\n"))


class PlainFormatter(logging.Formatter):
    """``2026-11-29T08:41:33.123Z WARNING logger: message`` (UTC)."""

    def converter(self, timestamp: float | None) -> time.struct_time:
        return time.gmtime(timestamp)

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")


def journal_connected(stream: IO[str], environ: Mapping[str, str] | None = None) -> bool:
    """True when ``stream`` is the journal stream named by ``$JOURNAL_STREAM``."""
    env = os.environ if environ is None else environ
    value = env.get("JOURNAL_STREAM", "")
    dev, sep, ino = value.partition(":")
    if not sep or not dev.isdigit() or not ino.isdigit():
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, AttributeError, ValueError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


class _HutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`setup_logging` installs (marked so that a second setup replaces it)."""


def setup_logging(
    level: str | int = "INFO",
    *,
    stream: IO[str] | None = None,
    journal: bool | None = None,
    environ: Mapping[str, str] | None = None,
    quiet: Iterable[str] = QUIET_LOGGERS,
    rate_limit_s: float | None = RATE_LIMIT_S,
) -> logging.Handler:
    """Send all logging to ``stream`` (stdout) at ``level``; returns the handler.

    ``journal=None`` detects journald from ``$JOURNAL_STREAM``. Calling it again replaces the
    earlier handler (a config reload changing the level). ``rate_limit_s``: the interval of
    :class:`RateLimit` (a few lines per kind per interval); None writes every line.
    """
    out = sys.stdout if stream is None else stream
    use_journal = journal_connected(out, environ) if journal is None else journal
    handler = _HutHandler(out)
    handler.setFormatter(JournalFormatter() if use_journal else PlainFormatter())
    if rate_limit_s is not None:
        handler.addFilter(RateLimit(rate_limit_s))
    handler.addFilter(HealthGuard())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _HutHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else logging.getLevelName(level.upper()))
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
