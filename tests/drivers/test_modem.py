"""The modem SMS channel (drivers.modem) against the simulator on a real pty, and the AT layer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.modem.at import AtChannel, Urc
from drivers.modem.errors import AtError, ModemUnavailable, SmsSendError
from drivers.modem.modem import IncomingSms, Modem, ModemState
from tests.support.modemsim import ModemSim, encode_deliver

CLINIC = "+8613800000001"
GUARDIAN = "+8613912345678"
LONG_ZH = (
    "紧急：张秀英（3号床）在村卫生室按下了求救按钮，位置：东头晒谷场附近。请尽快前往查看，回复1表示收到。"
) * 3
assert len(LONG_ZH) == 153  # 3 UCS-2 parts of at most 67


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[ModemSim]:
    with ModemSim(tmp_path / "by-id", cmgs_delay_s=0.05) as s:
        yield s


class Inbox:
    def __init__(self) -> None:
        self.got: list[IncomingSms] = []
        self.hook: Callable[[IncomingSms], Awaitable[None]] | None = None

    async def __call__(self, sms: IncomingSms) -> None:
        if self.hook is not None:
            await self.hook(sms)
        self.got.append(sms)


async def until(pred: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(sim: ModemSim, inbox: Inbox | None = None, **kw: float) -> AsyncIterator[Modem]:
    opts: dict[str, float] = {
        "command_timeout_s": 1.0,
        "send_timeout_s": 3.0,
        "status_interval_s": 0.2,
        "concat_hold_s": 600.0,
    }
    opts.update(kw)
    modem = Modem(
        str(sim.path),
        on_sms=inbox if inbox is not None else Inbox(),
        command_timeout_s=opts["command_timeout_s"],
        send_timeout_s=opts["send_timeout_s"],
        status_interval_s=opts["status_interval_s"],
        concat_hold_s=opts["concat_hold_s"],
        reopen_backoff_s=(0.05, 0.2),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(modem.run(stop))
    try:
        yield modem
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def ready(modem: Modem) -> ModemState:
    await until(lambda: modem.state.connected and modem.state.sim != "unknown")
    return modem.state


# ------------------------------------------------------------------------------ start-up, status


async def test_initialises_a_modem_with_echo_on_and_reports_its_state(sim: ModemSim) -> None:
    assert sim.echo
    sim.csq = 23
    async with running(sim) as modem:
        state = await ready(modem)
        await until(lambda: "AT+CMGL=4" in sim.commands)
    assert state == ModemState(
        port=str(sim.path),
        connected=True,
        sim="READY",
        registered=True,
        registration="home",
        operator="CHINA MOBILE",
        signal_csq=23,
        signal_dbm=-67,
        last_error=None,
        sent=0,
        failed=0,
    )
    assert sim.commands[:3] == ["ATE0", "AT+CMEE=1", "AT+CMGF=0"]
    assert not sim.echo and sim.cmee == 1 and sim.cmgf == 0
    assert sim.cnmi == [2, 1, 0, 0, 0]
    assert {"AT+CPIN?", "AT+CREG?", "AT+CEREG?", "AT+CSQ", "AT+COPS?"} <= set(sim.commands)


async def test_roaming_lte_only_and_unknown_signal(sim: ModemSim) -> None:
    sim.registration, sim.lte_registration, sim.csq = 0, 5, 99
    async with running(sim) as modem:
        state = await ready(modem)
    assert (state.registered, state.registration, state.signal_csq, state.signal_dbm) == (
        True,
        "roaming",
        None,
        None,
    )


@pytest.mark.parametrize(
    ("sim_status", "registration", "expect_sim", "expect_reg", "error_word"),
    [
        ("SIM PIN", 1, "SIM PIN", "home", "locked"),
        ("NOT INSERTED", 1, "NOT INSERTED", "home", "not inserted"),
        ("READY", 2, "READY", "searching", "searching"),
        ("READY", 3, "READY", "denied", "denied"),
    ],
)
async def test_no_sim_or_no_network_is_unavailable_and_said_in_state(
    sim: ModemSim, sim_status: str, registration: int, expect_sim: str, expect_reg: str, error_word: str
) -> None:
    sim.sim_status, sim.registration = sim_status, registration
    async with running(sim) as modem:
        state = await ready(modem)
        assert (state.sim, state.registration) == (expect_sim, expect_reg)
        assert state.connected and not (state.sim == "READY" and state.registered)
        assert state.last_error is not None and error_word in state.last_error
        with pytest.raises(ModemUnavailable):
            await modem.send(CLINIC, "测试")
        assert sim.cmgs_issued == []
        sim.sim_status, sim.registration = "READY", 1  # the technician fixes it
        await until(lambda: modem.state.registered and modem.state.sim == "READY")
        await until(lambda: modem.state.last_error is None)
        assert await modem.send(CLINIC, "测试") == [1]
    assert [s.text for s in sim.sent] == ["测试"]


async def test_sim_ready_urc_brings_a_status_pass_at_once(sim: ModemSim) -> None:
    sim.sim_status = "SIM BUSY"
    async with running(sim, status_interval_s=30.0) as modem:
        assert (await ready(modem)).sim == "SIM BUSY"
        sim.sim_status = "READY"
        sim.urc("+CPIN: READY")
        await until(lambda: modem.state.sim == "READY" and sim.cnmi == [2, 1, 0, 0, 0], timeout=3)
        assert modem.state.last_error is None


# ---------------------------------------------------------------------------------------- send


async def test_sends_a_long_chinese_message_in_reassembled_parts(sim: ModemSim) -> None:
    async with running(sim) as modem:
        await ready(modem)
        refs = await modem.send(CLINIC, LONG_ZH)
        assert modem.state.sent == 3
    assert refs == [1, 2, 3]
    [sent] = sim.sent
    assert (sent.number, sent.text, sent.parts) == (CLINIC, LONG_ZH, 3)
    assert len(sim.cmgs_issued) == 3


async def test_sends_one_message_at_a_time(sim: ModemSim) -> None:
    async with running(sim) as modem:
        await ready(modem)
        texts = [f"第{i}条 {'x' * 200}" for i in range(4)]  # UCS-2, 4 parts each
        results = await asyncio.gather(*(modem.send(GUARDIAN, t) for t in texts))
    assert sorted(r for refs in results for r in refs) == list(range(1, 17))
    assert sorted(s.text for s in sim.sent) == sorted(texts)  # parts of two messages never interleave


async def test_cms_error_is_a_temporary_send_error_then_it_works_again(sim: ModemSim) -> None:
    async with running(sim) as modem:
        await ready(modem)
        sim.fail_next_sends(1, code=500)
        with pytest.raises(SmsSendError) as e:
            await modem.send(CLINIC, "SOS")
        assert e.value.temporary and e.value.code == 500
        assert modem.state.failed == 1 and modem.state.last_error is not None
        sim.fail_next_sends(1, code=1)  # RP-cause 1: unassigned number
        with pytest.raises(SmsSendError) as e:
            await modem.send("+8610", "SOS")
        assert not e.value.temporary
        assert await modem.send(CLINIC, "SOS") == [1]
        assert (modem.state.sent, modem.state.failed) == (1, 2)
    assert [s.text for s in sim.sent] == ["SOS"]


async def test_a_number_that_cannot_be_encoded_is_a_permanent_error(sim: ModemSim) -> None:
    async with running(sim) as modem:
        await ready(modem)
        with pytest.raises(SmsSendError) as e:
            await modem.send("call me", "SOS")
    assert not e.value.temporary and sim.cmgs_issued == []


async def test_slow_cmgs_is_waited_for(sim: ModemSim) -> None:
    sim.cmgs_delay_s = 1.2
    async with running(sim) as modem:
        await ready(modem)
        t0 = time.monotonic()
        assert await modem.send(CLINIC, "慢") == [1]
        assert time.monotonic() - t0 >= 1.2


async def test_cmgs_timeout_cancels_and_a_late_answer_is_not_taken_for_the_next(sim: ModemSim) -> None:
    sim.cmgs_delay_s = 1.0
    async with running(sim, status_interval_s=30.0) as modem:  # no status command soaks it up
        await ready(modem)
        await until(lambda: "AT+CMGL=4" in sim.commands)
        with pytest.raises(SmsSendError) as e:
            await modem.send(CLINIC, "one", timeout_s=0.3)
        assert e.value.temporary
        sim.cmgs_delay_s = 0.05
        # the sim still answers "+CMGS: 1" / OK for the first one; the next send must get its own 2
        assert await modem.send(CLINIC, "two") == [2]
        await asyncio.sleep(0.3)
        assert modem.state.connected


# ------------------------------------------------------------------------------------- receive


async def test_reply_reaches_on_sms_and_is_deleted_only_after(sim: ModemSim) -> None:
    inbox = Inbox()
    release = asyncio.Event()
    stored_during: list[int] = []

    async def hold(sms: IncomingSms) -> None:
        stored_during.append(len(sim.stored))
        await release.wait()

    inbox.hook = hold
    async with running(sim, inbox, status_interval_s=30.0) as modem:
        await ready(modem)
        await until(lambda: "AT+CMGL=4" in sim.commands)
        [idx] = sim.deliver(GUARDIAN, "1")
        await until(lambda: stored_during)
        assert stored_during == [1] and len(sim.stored) == 1  # on_sms is running: still stored
        assert not any(c.startswith("AT+CMGD") for c in sim.commands)
        release.set()
        await until(lambda: not sim.stored)
    assert [(s.sender, s.text) for s in inbox.got] == [(GUARDIAN, "1")]
    assert inbox.got[0].received_at is not None and inbox.got[0].received_at.utcoffset() is not None
    assert f"AT+CMGR={idx}" in sim.commands and f"AT+CMGD={idx}" in sim.commands


async def test_on_sms_failure_keeps_the_message_for_the_next_pass(sim: ModemSim) -> None:
    inbox = Inbox()
    calls = 0

    async def flaky(sms: IncomingSms) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database is locked")

    inbox.hook = flaky
    async with running(sim, inbox) as modem:
        await ready(modem)
        sim.deliver(GUARDIAN, "收到")
        await until(lambda: inbox.got and not sim.stored)
    assert calls == 2 and [s.text for s in inbox.got] == ["收到"]


async def test_cmgl_at_start_picks_up_stored_replies_long_ones_reassembled(sim: ModemSim) -> None:
    long_reply = "好的，我已经在路上了，十分钟后到。请让奶奶别动，保持电话畅通。" * 3
    sim.store_silently(GUARDIAN, "1")
    sim.store_silently(CLINIC, long_reply)
    assert len(sim.stored) == 3  # the long one in two parts
    inbox = Inbox()
    async with running(sim, inbox, status_interval_s=30.0):
        await until(lambda: len(inbox.got) == 2 and not sim.stored)
    assert sorted((s.sender, s.text) for s in inbox.got) == sorted([(GUARDIAN, "1"), (CLINIC, long_reply)])
    assert not any(c.startswith("AT+CMGR") for c in sim.commands)


async def test_cmti_inside_other_replies_is_routed_not_taken_for_the_answer(sim: ModemSim) -> None:
    inbox = Inbox()
    async with running(sim, inbox, status_interval_s=30.0) as modem:
        await ready(modem)
        await until(lambda: "AT+CMGL=4" in sim.commands)
        sim.urc_inside_replies = True
        sim.deliver(GUARDIAN, "1")  # its +CMTI waits for the next reply...
        sim.ring()
        sim.urc("+CREG: 1")
        refs = await modem.send(CLINIC, "SOS")  # ...and lands between "+CMGS: 1" and OK
        assert refs == [1]

        async def more(sms: IncomingSms) -> None:
            if sms.text == "1":  # while handling the first reply, a second arrives: its +CMTI
                sim.deliver(CLINIC, "ok")  # lands inside the AT+CMGD reply

        inbox.hook = more
        await until(lambda: len(inbox.got) == 2 and not sim.stored)
        assert modem.state.connected
    assert [(s.sender, s.text) for s in inbox.got] == [(GUARDIAN, "1"), (CLINIC, "ok")]
    assert [c for c in sim.commands if c.startswith("AT+CMGR")] == ["AT+CMGR=0", "AT+CMGR=1"]


async def test_an_undecodable_stored_message_is_logged_with_its_hex_and_deleted(
    sim: ModemSim, caplog: pytest.LogCaptureFixture
) -> None:
    bad = "0004" + "0B91" + "FFFF"  # truncated in the middle of the originating address
    sim.store_raw(bad, indicate=False)
    sim.store_silently(GUARDIAN, "1")
    inbox = Inbox()
    with caplog.at_level(logging.WARNING, logger="hutgw.modem"):
        async with running(sim, inbox):
            await until(lambda: inbox.got and not sim.stored)
    assert [s.text for s in inbox.got] == ["1"]
    assert any(bad.upper() in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


# ----------------------------------------------------------------------------------- the port


async def test_port_vanishes_and_reappears_with_echo_on_on_another_tty(sim: ModemSim) -> None:
    async with running(sim) as modem:
        await ready(modem)
        assert await modem.send(CLINIC, "before") == [1]
        first_tty = sim.tty
        sim.vanish()
        await until(lambda: not modem.state.connected)
        assert modem.state.last_error is not None
        with pytest.raises(ModemUnavailable):
            await modem.send(CLINIC, "while gone")
        await asyncio.sleep(0.3)  # a few failed reopen attempts: the symlink is gone
        sim.reappear()
        assert sim.echo and sim.tty != first_tty
        await until(lambda: modem.state.connected and not sim.echo)
        await until(lambda: modem.state.registered and modem.state.sim == "READY")
        assert await modem.send(CLINIC, "after") == [2]
        assert sim.cnmi == [2, 1, 0, 0, 0]  # set again after the reset
    assert [s.text for s in sim.sent] == ["before", "after"]
    assert sim.commands.count("ATE0") == 2


async def test_a_modem_reset_on_the_same_tty_is_initialised_again(sim: ModemSim) -> None:
    inbox = Inbox()
    async with running(sim, inbox) as modem:
        await ready(modem)
        await until(lambda: sim.cnmi == [2, 1, 0, 0, 0])
        sim.reset()
        assert sim.echo and sim.cnmi == [0, 0, 0, 0, 0]
        await until(lambda: sim.commands.count("ATE0") == 2 and sim.cnmi == [2, 1, 0, 0, 0])
        assert not sim.echo and sim.cmee == 1
        sim.deliver(GUARDIAN, "1")
        await until(lambda: inbox.got)
        assert await modem.send(GUARDIAN, "已由 张医生 确认") == [1]


async def test_incomplete_concatenated_reply_is_delivered_after_the_hold(sim: ModemSim) -> None:
    part1, _part2 = encode_deliver(GUARDIAN, "收到" * 40, reference=5, when=datetime.now(UTC))
    sim.store_raw(part1.pdu, indicate=False)
    inbox = Inbox()
    async with running(sim, inbox, status_interval_s=0.1, concat_hold_s=0.5):
        await until(lambda: "AT+CMGL=4" in sim.commands)
        await asyncio.sleep(0.2)
        assert inbox.got == [] and len(sim.stored) == 1  # held, still stored
        await until(lambda: inbox.got and not sim.stored)
    assert [s.text for s in inbox.got] == ["收到" * 33 + "收"]  # the 67 characters of part 1


async def test_a_modem_left_waiting_for_a_pdu_by_a_killed_daemon_is_taken_back(sim: ModemSim) -> None:
    t = Term(sim)
    assert t.talk(b"AT+CMGS=23\r", b"> ") == b"AT+CMGS=23\r\r\n> "
    t.talk(b"0011000B91", b"")  # the daemon dies here
    t.port.close()
    async with running(sim) as modem:
        await ready(modem)
        assert await modem.send(CLINIC, "SOS") == [1]
    assert [s.text for s in sim.sent] == ["SOS"]


async def test_a_port_that_never_existed_is_retried_quietly(tmp_path: Path) -> None:
    modem = Modem(
        str(tmp_path / "usb-none"), on_sms=Inbox(), command_timeout_s=0.5, reopen_backoff_s=(0.01, 0.05)
    )
    stop = asyncio.Event()
    task = asyncio.create_task(modem.run(stop))
    await until(lambda: modem.state.last_error is not None)
    assert not modem.state.connected and "Cannot open" in (modem.state.last_error or "")
    with pytest.raises(ModemUnavailable):
        await modem.send(CLINIC, "x")
    stop.set()
    await asyncio.wait_for(task, 2)


# --------------------------------------------------------------------------- the AT layer alone


class Wire:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.urcs: list[Urc] = []
        self.channel = AtChannel(self.written.append, self.urcs.append)


async def test_at_urcs_between_information_lines_are_routed() -> None:
    w = Wire()
    task = asyncio.create_task(w.channel.command("AT+CMGR=3", timeout_s=1))
    await asyncio.sleep(0)
    assert w.written == [b"AT+CMGR=3\r"]
    w.channel.feed(b'AT+CMGR=3\r\r\n+CMGR: 0,,23\r\n\r\n+CMTI: "SM",4\r\n')
    w.channel.feed(b'\r\n0011AB\r\n\r\nRING\r\n\r\n+CREG: 1,"1A2B","0C3D4E",7\r\n\r\nOK\r\n')
    assert await task == ["+CMGR: 0,,23", "0011AB"]
    assert w.urcs == [Urc('+CMTI: "SM",4'), Urc("RING"), Urc('+CREG: 1,"1A2B","0C3D4E",7')]


async def test_at_registration_answer_versus_urc() -> None:
    w = Wire()
    task = asyncio.create_task(w.channel.command("AT+CREG?", timeout_s=1))
    await asyncio.sleep(0)
    w.channel.feed(b"\r\n+CREG: 5\r\n\r\n+CREG: 0,1\r\n\r\nOK\r\n")
    assert await task == ["+CREG: 0,1"]
    assert w.urcs == [Urc("+CREG: 5")]


async def test_at_error_codes_and_idle_lines() -> None:
    w = Wire()
    w.channel.feed(b"\r\nRDY\r\n\r\n+CMT: ,23\r\n0791AB\r\n\r\nOK\r\n")  # idle: URCs, a stray OK dropped
    assert w.urcs == [Urc("RDY"), Urc("+CMT: ,23", "0791AB")]
    for reply, kind, code in [
        (b"\r\n+CMS ERROR: 321\r\n", "CMS", 321),
        (b"\r\n+CME ERROR: SIM not inserted\r\n", "CME", None),
        (b"\r\nERROR\r\n", "ERROR", None),
    ]:
        task = asyncio.create_task(w.channel.command("AT+CMGD=9", timeout_s=1))
        await asyncio.sleep(0)
        w.channel.feed(reply)
        with pytest.raises(AtError) as e:
            await task
        assert (e.value.kind, e.value.code) == (kind, code)


async def test_at_pdu_prompt_with_echo_and_error_instead_of_prompt() -> None:
    w = Wire()
    task = asyncio.create_task(w.channel.send_pdu("AT+CMGS=5", "0011AABBCC", prompt_timeout_s=1, timeout_s=1))
    await asyncio.sleep(0)
    w.channel.feed(b"AT+CMGS=5\r\r\n> ")
    await asyncio.sleep(0.01)
    assert w.written == [b"AT+CMGS=5\r", b"0011AABBCC\x1a"]
    w.channel.feed(b"0011AABBCC\x1a\r\n+CMGS: 7\r\n\r\nOK\r\n")
    assert await task == ["+CMGS: 7"]
    task = asyncio.create_task(w.channel.send_pdu("AT+CMGS=5", "00", prompt_timeout_s=1, timeout_s=1))
    await asyncio.sleep(0)
    w.channel.feed(b"\r\n+CMS ERROR: 304\r\n")
    with pytest.raises(AtError):
        await task
    assert w.written[-1] == b"AT+CMGS=5\r"  # the PDU was never written


# --------------------------------------------------------------- the simulator, by its own words


class Term:
    """A bare terminal on the simulator's pty: what a technician would type in minicom."""

    def __init__(self, sim: ModemSim) -> None:
        import serial

        self.port = serial.Serial(str(sim.path), 115200, timeout=0.05)

    def talk(self, data: bytes, until: bytes = b"\r\n", timeout: float = 2.0) -> bytes:
        self.port.write(data)
        out = b""
        deadline = time.monotonic() + timeout
        while not out.endswith(until) and time.monotonic() < deadline:
            out += self.port.read(256)
        return out


def test_sim_echo_cmee_modes_and_sim_errors(sim: ModemSim) -> None:
    t = Term(sim)
    assert t.talk(b"AT+CSQ\r", b"OK\r\n") == b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
    assert t.talk(b"ATE0\r", b"OK\r\n") == b"ATE0\r\r\nOK\r\n"
    sim.sim_status = "NOT INSERTED"
    assert t.talk(b"AT+CPIN?\r", b"ERROR\r\n") == b"\r\nERROR\r\n"
    t.talk(b"AT+CMEE=1\r", b"OK\r\n")
    assert t.talk(b"AT+CPIN?\r", b"10\r\n") == b"\r\n+CME ERROR: 10\r\n"
    t.talk(b"AT+CMEE=2\r", b"OK\r\n")
    assert t.talk(b"AT+CPIN?\r", b"inserted\r\n") == b"\r\n+CME ERROR: SIM not inserted\r\n"
    assert t.talk(b"AT+FOO\r", b"ERROR\r\n") == b"\r\nERROR\r\n"


def test_sim_checks_the_cmgs_length_and_esc_cancels(sim: ModemSim) -> None:
    t = Term(sim)
    t.talk(b"ATE0\r", b"OK\r\n")
    t.talk(b"AT+CMEE=1\r", b"OK\r\n")
    assert t.talk(b"AT+CMGS=22\r", b"> ") == b"\r\n> "
    vector = b"0011000B916407281553F80000AA0AE8329BFD4697D9EC37"  # 23 TPDU octets, not 22
    assert t.talk(vector + b"\x1a", b"304\r\n") == b"\r\n+CMS ERROR: 304\r\n"
    t.talk(b"AT+CMGS=23\r", b"> ")
    assert t.talk(vector[:10] + b"\x1b", b"OK\r\n") == b"\r\nOK\r\n"
    assert sim.sent == []
    t.talk(b"AT+CMGS=23\r", b"> ")
    assert t.talk(vector + b"\x1a", b"OK\r\n", timeout=3) == b"\r\n+CMGS: 1\r\n\r\nOK\r\n"
    [sent] = sim.wait_sent(1, 1)
    assert (sent.number, sent.text, sent.parts) == ("+46708251358", "hellohello", 1)
    assert len(sim.cmgs_issued) == 3


def test_sim_storage_list_read_delete(sim: ModemSim) -> None:
    t = Term(sim)
    t.talk(b"ATE0\r", b"OK\r\n")
    t.talk(b"AT+CMEE=1\r", b"OK\r\n")
    [a] = sim.store_silently(GUARDIAN, "1")
    [b] = sim.store_silently(CLINIC, "ok")
    pdu_a = sim.stored[0].pdu.encode()
    assert t.talk(f"AT+CMGR={a}\r".encode(), b"OK\r\n") == b"\r\n+CMGR: 0,,%d\r\n%s\r\n\r\nOK\r\n" % (
        sim.stored[0].tpdu_length,
        pdu_a,
    )
    listed = t.talk(b"AT+CMGL=0\r", b"OK\r\n")  # unread only: b
    assert listed.startswith(b"\r\n+CMGL: %d,0,," % b) and b"+CMGL: %d," % a not in listed
    assert b"+CMGL: %d,1,," % a in t.talk(b"AT+CMGL=4\r", b"OK\r\n")
    assert t.talk(b"AT+CMGD=99\r", b"\r\n") == b"\r\n+CMS ERROR: 321\r\n"
    assert t.talk(f"AT+CMGD={a}\r".encode(), b"OK\r\n") == b"\r\nOK\r\n"
    assert [s.index for s in sim.stored] == [b]
    t.talk(b"AT+CNMI=2,1,0,0,0\r", b"OK\r\n")
    [c] = sim.deliver(GUARDIAN, "好")
    assert t.talk(b"", b"\r\n", timeout=1) == b'\r\n+CMTI: "SM",%d\r\n' % c


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=1, max_size=40), st.booleans())
def test_at_stream_split_anywhere_gives_the_same_lines_and_urcs(cuts: list[int], echo: bool) -> None:
    async def scenario() -> tuple[list[str], list[Urc]]:
        w = Wire()
        task = asyncio.create_task(w.channel.command("AT+CMGL=4", timeout_s=1))
        await asyncio.sleep(0)
        stream = (
            (b"AT+CMGL=4\r" if echo else b"")
            + b'\r\n+CMGL: 0,1,,21\r\n0891AA\r\n\r\n+CMTI: "SM",2\r\n\r\n+CMGL: 1,0,,30\r\n0891BB\r\n'
            + b"\r\n^RSSI: 12\r\n\r\nOK\r\n\r\nRING\r\n"
        )
        i = 0
        for n in cuts * (len(stream) // max(1, sum(cuts)) + 1):
            if i >= len(stream):
                break
            w.channel.feed(stream[i : i + n])
            i += n
        return await task, w.urcs

    lines, urcs = asyncio.run(scenario())
    assert lines == ["+CMGL: 0,1,,21", "0891AA", "+CMGL: 1,0,,30", "0891BB"]
    assert urcs == [Urc('+CMTI: "SM",2'), Urc("^RSSI: 12"), Urc("RING")]
