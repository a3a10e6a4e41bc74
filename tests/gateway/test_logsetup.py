"""Journald-friendly logging and the rule that health values stay at DEBUG."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from buffer.record import Lane, Record
from drivers.frames import RawFrame
from drivers.measurement import MMHG, Measurement, Value
from gateway.logsetup import (
    HealthGuard,
    JournalFormatter,
    PlainFormatter,
    health_debug,
    journal_connected,
    priority,
    setup_logging,
)

REPO = Path(__file__).resolve().parents[2]

BP = Measurement("blood_pressure", {"systolic": Value(182.0, MMHG), "diastolic": Value(111.0, MMHG)})


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A private logger writing through the guard and the plain formatter into a buffer."""
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(PlainFormatter())
    handler.addFilter(HealthGuard())
    logger = logging.getLogger(f"test.logsetup.{id(buf)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield logger, buf
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def root_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.parametrize(
    ("level", "prio"),
    [
        (logging.CRITICAL, 2),
        (logging.ERROR, 3),
        (logging.WARNING, 4),
        (logging.INFO, 6),
        (logging.DEBUG, 7),
        (5, 7),
    ],
)
def test_priorities(level: int, prio: int) -> None:
    assert priority(level) == prio


def test_health_debug_logs_values_at_debug(captured: tuple[logging.Logger, io.StringIO]) -> None:
    log, buf = captured
    health_debug(log, "%s: systolic %s diastolic %s", "cuff-1", 182, 111)
    assert buf.getvalue().endswith(" DEBUG " + log.name + ": cuff-1: systolic 182 diastolic 111\n")


def test_health_debug_is_silent_and_lazy_above_debug(captured: tuple[logging.Logger, io.StringIO]) -> None:
    log, buf = captured
    log.setLevel(logging.INFO)

    class Exploding:
        def __str__(self) -> str:
            raise AssertionError("formatted although DEBUG is off")

    health_debug(log, "value %s", Exploding())
    assert buf.getvalue() == ""


def test_marked_record_above_debug_is_withheld(captured: tuple[logging.Logger, io.StringIO]) -> None:
    log, buf = captured
    log.info("%s: systolic %s", "cuff-1", 182, extra={"hutgw_health": True})
    out = buf.getvalue()
    assert "182" not in out
    assert "cuff-1" not in out
    assert "<withheld>: systolic <withheld> [health values are logged at DEBUG only]" in out


def test_measurements_frames_and_records_are_withheld_above_debug(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    log, buf = captured
    frame = RawFrame("serial", "/dev/ttyUSB0", b"182,111,67\r\n", datetime(2026, 1, 1, tzinfo=UTC))
    record = Record("id-1", "readings", Lane.CLINICAL, "blood_pressure", b'{"systolic":182}')
    log.warning("reading from %s: %s", "cuff-1", BP)
    log.error("bad frame %s", frame)
    log.info("stored %r", [record])
    log.warning("%(dev)s sent %(m)s", {"dev": "cuff-1", "m": BP})
    log.info(BP)
    out = buf.getvalue()
    for secret in ("182", "111", "ttyUSB0", "systolic"):
        assert secret not in out
    lines = out.splitlines()
    assert lines[0].endswith("reading from cuff-1: <withheld>")
    assert lines[1].endswith("bad frame <withheld>")
    assert lines[2].endswith("stored '<withheld>'")
    assert lines[3].endswith("cuff-1 sent <withheld>")
    assert lines[4].endswith("<withheld> Measurement")


def test_debug_keeps_everything(captured: tuple[logging.Logger, io.StringIO]) -> None:
    log, buf = captured
    log.debug("reading %s", BP)
    assert "182.0" in buf.getvalue()


def test_ordinary_records_pass_untouched(captured: tuple[logging.Logger, io.StringIO]) -> None:
    log, buf = captured
    log.warning("device %s silent for %d s", "scale-2", 300)
    assert buf.getvalue().endswith("WARNING " + log.name + ": device scale-2 silent for 300 s\n")


def test_plain_format_is_utc_iso() -> None:
    record = logging.LogRecord("hutgw.uplink", logging.WARNING, __file__, 1, "broker %s down", ("x",), None)
    record.created = 1_764_400_000.5
    record.msecs = 500.0
    assert PlainFormatter().format(record) == "2025-11-29T07:06:40.500Z WARNING hutgw.uplink: broker x down"


def test_journal_format_prefixes_every_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord(
            "hutgw.daemon", logging.ERROR, __file__, 1, "tick failed", None, sys.exc_info()
        )
    lines = JournalFormatter().format(record).split("\n")
    assert lines[0] == "<3>hutgw.daemon: tick failed"
    assert len(lines) > 2
    assert all(line.startswith("<3>") for line in lines)
    assert lines[-1] == "<3>RuntimeError: boom"


def test_journal_stream_detection(tmp_path: Path) -> None:
    with (tmp_path / "journal").open("w") as f, (tmp_path / "other").open("w") as g:
        st = os.fstat(f.fileno())
        env = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        assert journal_connected(f, env)
        assert not journal_connected(g, env)
        assert not journal_connected(f, {})
        assert not journal_connected(f, {"JOURNAL_STREAM": "garbage"})
    assert not journal_connected(io.StringIO(), env)


def _run_child(env_extra: dict[str, str] | None, journal_pipe: bool) -> str:
    r, w = os.pipe()
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    if journal_pipe:
        st = os.fstat(w)
        env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
    env.update(env_extra or {})
    code = (
        "import logging\n"
        "from gateway import logsetup\n"
        "from drivers.measurement import Value\n"
        "logsetup.setup_logging('INFO')\n"
        "log = logging.getLogger('hutgw.devices')\n"
        "log.info('device %s connected', 'cuff-1')\n"
        "log.warning('weight %s', Value(71.5, 'kg'))\n"
        "logsetup.health_debug(log, 'weight %s', 71.5)\n"
        "logging.getLogger('aiosqlite').info('executing %s', 'INSERT 71.5')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=w, env=env, cwd=REPO)
    os.close(w)
    with os.fdopen(r) as out:
        text = out.read()
    assert proc.wait(timeout=60) == 0
    return text


def test_under_journald_lines_carry_priorities() -> None:
    assert _run_child(None, journal_pipe=True) == (
        "<6>hutgw.devices: device cuff-1 connected\n<4>hutgw.devices: weight <withheld>\n"
    )


def test_outside_journald_lines_carry_time_and_level() -> None:
    lines = _run_child(None, journal_pipe=False).splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("Z INFO hutgw.devices: device cuff-1 connected")
    assert lines[1].endswith("Z WARNING hutgw.devices: weight <withheld>")


def test_setup_twice_replaces_the_handler(root_restored: None) -> None:
    a, b = io.StringIO(), io.StringIO()
    setup_logging("INFO", stream=a, journal=True)
    setup_logging("DEBUG", stream=b, journal=False)
    logging.getLogger("hutgw.t").debug("only once")
    assert a.getvalue() == ""
    assert b.getvalue().endswith("DEBUG hutgw.t: only once\n")
    assert logging.getLogger("aiosqlite").level == logging.WARNING
