"""``hutgw demo``: the whole path on one machine, with simulated devices and a live view.

A private broker (Mosquitto when installed, else the embedded one), the reference county
receiver, and the real daemon fed by a simulated Tanita on a real pseudo-terminal plus
manual blood-pressure entries through the real local API. A resident is signed in at the
kiosk so the shared scale's readings are attributed.

An SOS reaching (simulated) phones: 王秀英 (R0001) wears a 4G watch, simulated over TCP; about
``SOS_AFTER_S`` in she presses SOS. The hut's 4G modem is simulated on a pty
(:class:`devtools.modemsim.ModemSim`), so the SMS to her son, her daughter and the township clinic
are the real daemon's, sent through the real AT/PDU driver; ``REPLY_AFTER_S`` after that round her
daughter replies "1", which stops the rounds, and the others get the "已由…确认" notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import aiohttp
import orjson

from county.receiver import BrokerOptions, Receiver
from county.sqlite import SqliteStore as ReceiverStore
from devtools.modemsim import ModemSim
from devtools.mosquitto import Broker, free_port
from devtools.simulate import PtyDevice, ResidentProfile, manual_bp, sleep_or_stop, tanita_line, varied
from gateway.config import parse
from gateway.daemon import Daemon
from gateway.notify.policy import mask_phone
from gateway.registry import DeviceEntry, Registry, ResidentEntry

log = logging.getLogger("hutgw.demo")

RESIDENTS = (
    ResidentProfile("R0001", weight_kg=58.2, body_fat_pct=31.0, systolic=128, diastolic=82, height_cm=156),
    ResidentProfile("R0002", weight_kg=71.5, body_fat_pct=24.5, systolic=152, diastolic=94, height_cm=168),
    ResidentProfile("R0003", weight_kg=49.0, body_fat_pct=27.0, systolic=114, diastolic=72, height_cm=150),
)
NAMES = {"R0001": "王秀英", "R0002": "李建国", "R0003": "张桂兰"}
HTTP_TIMEOUT_S = 10.0
JSON_HEADERS = {"Content-Type": "application/json"}

#: The SOS part: 王秀英's watch, her two children, the township clinic's duty phone (乡镇卫生院值班
#: 电话, every urgent alert) and the village doctor (村医, from the second round on).
SOS_RESIDENT = "R0001"
WATCH_ID = "8800000015"
SON, DAUGHTER = "+8613900000001", "+8613900000002"
CLINIC, VILLAGE_DOCTOR = "+8613800000001", "+8613700000001"
#: who each number is: a key the caller translates (``WHO_ZH`` in the live view)
PHONES = {SON: "son", DAUGHTER: "daughter", CLINIC: "clinic", VILLAGE_DOCTOR: "doctor"}
WHO_ZH = {"son": "儿子", "daughter": "女儿", "clinic": "卫生院", "doctor": "村医", "other": "其他"}
SOS_AFTER_S = 8.0  # the watch presses SOS this long after the start
REPLY_AFTER_S = 6.0  # the daughter replies "1" this long after the first round went out
HEARTBEAT_EVERY_S = 5.0  # the watch's LK
SMS_SHOWN = 8  # SMS lines under the live table


@dataclass
class Row:
    id: str
    kind: str
    resident: str | None
    summary: str
    source: str
    state: str = "pending"
    at_county: bool = False


@dataclass(frozen=True)
class Sms:
    """One SMS as the demo shows it: sent by the hut (``out``) or a phone's reply (``in``)."""

    elapsed_s: float
    direction: Literal["out", "in"]
    number: str  # masked: 139****0001
    who: str  # a key of WHO_ZH
    text: str


@dataclass
class Board:
    rows: dict[str, Row] = field(default_factory=dict)
    garbage_sent: int = 0
    sms: list[Sms] = field(default_factory=list)
    sos_at: float | None = None  # seconds into the demo the watch pressed SOS
    acknowledged_by: str | None = None  # masked number, once the SOS was acknowledged
    acknowledged_who: str | None = None

    def add(self, row: Row) -> None:
        self.rows[row.id] = row
        while len(self.rows) > 14:
            self.rows.pop(next(iter(self.rows)))


@contextlib.asynccontextmanager
async def private_broker(workdir: Path) -> AsyncIterator[str]:
    broker = Broker(workdir=workdir / "broker")
    try:
        broker.start()
    except FileNotFoundError:
        from devtools.minibroker import MiniBroker

        log.warning("Mosquitto is not installed; using the embedded demo broker")
        async with MiniBroker(port=free_port()) as mini:
            yield f"mqtt://127.0.0.1:{mini.port}"
        return
    try:
        yield broker.url
    finally:
        broker.close()


def watch_frame(watch_id: str, content: str) -> bytes:
    """A 4G watch frame as the watch sends it: ``[3G*<id>*<length, 4 hex digits>*<content>]``."""
    body = content.encode()
    return b"[3G*%s*%04X*%s]" % (watch_id.encode(), len(body), body)


def sos_frame(watch_id: str, when: datetime) -> bytes:
    """An ``AL`` (alarm) frame: a GPS fix near the village, battery 90 %, status bit 16 = SOS."""
    return watch_frame(
        watch_id,
        f"AL,{when:%d%m%y},{when:%H%M%S},A,30.274120,N,120.155130,E,0.00,0.0,0.0,8,100,90,0,0,00010000,"
        "2,255,460,0,22562,4263,150",
    )


def phone_of(number: str) -> tuple[str, str]:
    """The masked number and who it is (a key of ``WHO_ZH``)."""
    return mask_phone(number), PHONES.get(number, "other")


def summarise(values: dict[str, Any]) -> str:
    def v(name: str) -> str:
        x = values.get(name, {}).get("value")
        return "?" if x is None else f"{x:g}"

    if "systolic" in values:
        return f"{v('systolic')}/{v('diastolic')} mmHg, pulse {v('pulse_rate')}"
    if "body_fat_pct" in values:
        return f"{v('weight')} kg, fat {v('body_fat_pct')} %"
    if "weight" in values:
        return f"{v('weight')} kg"
    return ", ".join(f"{k} {v(k)}" for k in list(values)[:3])


#: How the run is shown: a live table (a terminal), a progress line every few seconds (a pipe,
#: a log file, `make demo | tee`), or nothing until the summary (``--quiet``).
Mode = Literal["live", "lines", "quiet"]
PROGRESS_EVERY_S = 5.0


async def run_demo(
    state_dir: Path | None,
    duration: float | None,
    quiet: bool,
    *,
    mode: Mode | None = None,
    say: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, int]:
    """Run until ``duration`` or the first Ctrl-C (SIGINT), then stop in order — the gateway
    (flushing to the broker), the receiver, the broker — and return the summary; a second Ctrl-C
    stops at once. ``mode`` defaults to a live table on a terminal, progress lines otherwise;
    ``say(event, data)`` prints a progress line ("started": ``api_url``, ``broker``; "progress":
    ``elapsed_s`` and the summary's counts; "sos": ``elapsed_s``, ``resident``, ``name``,
    ``watch``; "sms": ``elapsed_s``, ``direction`` (``out`` sent by the hut, ``in`` a reply),
    ``number`` (masked), ``who`` (son, daughter, clinic, doctor, other), ``text``;
    "acknowledged": ``elapsed_s``, ``number``, ``who``; default: English on stdout)."""
    if mode is None:
        mode = "quiet" if quiet else "live" if sys.stdout.isatty() else "lines"
    with contextlib.ExitStack() as stack:
        root = state_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hutgw-demo-")))
        root.mkdir(parents=True, exist_ok=True)
        return await _run(root, duration, mode, say or _print)


def _print(event: str, data: dict[str, Any]) -> None:
    if event == "started":
        print(
            f"hut-gateway demo: kiosk/API {data['api_url']}, broker {data['broker']} (Ctrl-C stops)",
            flush=True,
        )
    elif event in ("sos", "sms", "acknowledged"):
        print(event_line(event, data), flush=True)
    else:
        print(progress_line(data["elapsed_s"], data), flush=True)


async def _run(
    root: Path, duration: float | None, mode: Mode, say: Callable[[str, dict[str, Any]], None]
) -> dict[str, int]:
    rng = random.Random(7)
    board = Board()
    stop = asyncio.Event()
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_sigint() -> None:  # the first Ctrl-C stops in order; the next one interrupts
        interrupted.set()
        loop.remove_signal_handler(signal.SIGINT)

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    state = root / "state"
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(private_broker(root))
        store = await stack.enter_async_context(ReceiverStore(root / "county.db"))
        receiver = Receiver(store, BrokerOptions(url=url, client_id="hutgw-demo-county"))
        tasks = await stack.enter_async_context(asyncio.TaskGroup())
        stack.callback(stop.set)
        running = [tasks.create_task(receiver.run(), name="receiver")]

        scale = stack.enter_context(PtyDevice(root / "dev" / "tanita"))
        # the hut's 4G modem; entered before the daemon, so it is closed after the daemon stopped
        sim = stack.enter_context(ModemSim(root / "dev" / "modem", cmgs_delay_s=0.3))
        state.mkdir(parents=True, exist_ok=True)
        registry = Registry(state / "registry.db")
        guardians = {SOS_RESIDENT: (SON, DAUGHTER)}
        for who in RESIDENTS:
            known = registry.get_resident(who.resident_id)
            if known is None:
                registry.add_resident(
                    ResidentEntry(
                        id=who.resident_id,
                        name=NAMES[who.resident_id],
                        sex="female",
                        birth_year=1950,
                        height_cm=who.height_cm,
                        guardians=guardians.get(who.resident_id, ()),
                    )
                )
            elif who.resident_id in guardians and not known.guardians:  # a --state-dir of an older demo
                registry.update_resident(who.resident_id, guardians=guardians[who.resident_id])
        if registry.get_device("tanita-1") is None:
            registry.add_device(DeviceEntry(id="tanita-1", profile="tanita.serial", address=str(scale.path)))
        if registry.get_device("watch-r0001") is None:  # a watch is known by its id (digits)
            registry.add_device(
                DeviceEntry(id="watch-r0001", profile="watch.tcp", address=WATCH_ID, resident_id=SOS_RESIDENT)
            )
        registry.close()

        api_port = free_port()
        watch_port = free_port()
        config = parse(
            {
                "gateway_id": "hut-demo",
                "state_dir": str(state),
                "api": {"listen": f"127.0.0.1:{api_port}"},
                "uplink": {"broker": url, "ack_timeout_s": 5, "backoff_max_s": 5, "heartbeat_s": 10},
                "watch": {"listen": f"127.0.0.1:{watch_port}"},
                "notify": {
                    "modem": str(sim.path),
                    "clinic": [CLINIC],  # 乡镇卫生院值班电话
                    "escalation": [VILLAGE_DOCTOR],  # 村医
                    "escalate_after_s": 10,
                    "max_rounds": 2,
                },
            },
            source="demo",
        )
        daemon = await stack.enter_async_context(Daemon(config))
        gw = daemon.gateway
        http = await stack.enter_async_context(
            aiohttp.ClientSession(
                base_url=daemon.api_url, timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
            )
        )

        started = loop.time()

        def elapsed() -> float:
            return loop.time() - started

        def show(event: str, data: dict[str, Any]) -> None:
            if mode == "lines":
                say(event, {"elapsed_s": elapsed(), **data})

        async def watch_events() -> None:
            async with gw.events.subscribe() as q:
                while True:
                    ev = await q.get()
                    if ev.type == "reading":
                        d = ev.data
                        board.add(
                            Row(d["id"], d["kind"], d["resident_id"], summarise(d["values"]), d["device"])
                        )
                    elif (
                        ev.type == "alert_status"
                        and ev.data.get("kind") == "sos"
                        and ev.data.get("state") == "acknowledged"
                        and board.sos_at is not None
                        and board.acknowledged_by is None
                    ):
                        by = str(ev.data.get("acknowledged_by") or "")
                        board.acknowledged_by, board.acknowledged_who = phone_of(by)
                        show("acknowledged", {"number": board.acknowledged_by, "who": board.acknowledged_who})

        async def watch_sim() -> None:
            """王秀英's 4G watch: a heartbeat (``LK``) every few seconds; SOS once, ``SOS_AFTER_S`` in.
            The server answers each frame (``[3G*<id>*0002*LK]``, ``...*AL]``); read and dropped."""
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", watch_port)
            except OSError as e:
                log.warning("simulated watch: no connection to the watch listener: %s", e)
                return

            async def drain() -> None:
                with contextlib.suppress(OSError):
                    while await reader.read(4096):
                        pass

            draining = tasks.create_task(drain(), name="demo-watch-replies")
            next_heartbeat = 0.0
            try:
                while True:
                    if elapsed() >= next_heartbeat:
                        writer.write(watch_frame(WATCH_ID, "LK,0,0,90"))
                        next_heartbeat += HEARTBEAT_EVERY_S
                    if board.sos_at is None and elapsed() >= SOS_AFTER_S:
                        writer.write(sos_frame(WATCH_ID, datetime.now(UTC)))
                        board.sos_at = elapsed()
                        show(
                            "sos", {"resident": SOS_RESIDENT, "name": NAMES[SOS_RESIDENT], "watch": WATCH_ID}
                        )
                    await writer.drain()
                    if await sleep_or_stop(stop, 0.25):
                        break
            except OSError as e:
                log.warning("simulated watch: connection lost: %s", e)
            finally:
                draining.cancel()
                writer.close()

        async def phones() -> None:
            """The phones: every SMS the modem accepted, shown as it goes out; the daughter
            replies "1" ``REPLY_AFTER_S`` after the first round reached her, her brother and the clinic."""
            seen = 0
            first_round_at: float | None = None
            replied = False
            while not await sleep_or_stop(stop, 0.2):
                new = sim.sent[seen:]
                seen += len(new)
                for m in new:
                    number, who = phone_of(m.number)
                    board.sms.append(Sms(elapsed(), "out", number, who, m.text))
                    show("sms", {"direction": "out", "number": number, "who": who, "text": m.text})
                reached = {m.number for m in sim.sent[:seen]}
                if first_round_at is None and board.sos_at is not None and {SON, DAUGHTER, CLINIC} <= reached:
                    first_round_at = elapsed()
                if not replied and first_round_at is not None and elapsed() >= first_round_at + REPLY_AFTER_S:
                    replied = True
                    sim.deliver(DAUGHTER, "1")  # as her phone sends it: from the international number
                    number, who = phone_of(DAUGHTER)
                    board.sms.append(Sms(elapsed(), "in", number, who, "1"))
                    show("sms", {"direction": "in", "number": number, "who": who, "text": "1"})

        async def scale_sim() -> None:
            while not await sleep_or_stop(stop, 2.5):
                who = rng.choice(RESIDENTS)
                daemon.sessions.sign_in(who.resident_id, "card")  # the resident taps a card at the kiosk
                await asyncio.sleep(0.3)
                if rng.random() < 0.15:
                    scale.write(b"\x00\xffnoise" + bytes(rng.randrange(256) for _ in range(8)) + b"\r\n")
                    board.garbage_sent += 1
                scale.write(
                    tanita_line(
                        weight_kg=varied(rng, who.weight_kg, 0.8),
                        body_fat_pct=varied(rng, who.body_fat_pct, 1.0),
                        height_cm=who.height_cm,
                    )
                )
                await asyncio.sleep(1.0)
                daemon.sessions.sign_out()

        async def doctor_sim() -> None:
            while not await sleep_or_stop(stop, 1.7):
                body = manual_bp(rng, rng.choice(RESIDENTS))
                try:
                    async with http.post(
                        "/api/v1/readings", data=orjson.dumps(body), headers=JSON_HEADERS
                    ) as resp:
                        if resp.status != 201:  # the answer names the values: DEBUG only
                            log.warning("manual entry refused: HTTP %d", resp.status)
                            log.debug("manual entry refused: %s", await resp.text())
                except (aiohttp.ClientError, TimeoutError) as e:
                    log.warning("manual entry not sent: %s", e)

        async def refresh() -> None:
            while True:
                delivered = await store.reading_ids()
                for row in list(board.rows.values()):
                    rec = await daemon.outbox.get(row.id)
                    row.state = rec.state.value if rec is not None else "gone"
                    row.at_county = row.id in delivered
                await asyncio.sleep(0.5)

        running += [
            tasks.create_task(watch_events(), name="demo-events"),
            tasks.create_task(scale_sim(), name="demo-scale"),
            tasks.create_task(doctor_sim(), name="demo-doctor"),
            tasks.create_task(refresh(), name="demo-refresh"),
            tasks.create_task(watch_sim(), name="demo-watch"),
            tasks.create_task(phones(), name="demo-phones"),
        ]

        async def counts() -> dict[str, int]:
            return {
                "county_readings": len(await store.reading_ids()),
                "gateway_readings": sum(gw.counters.readings.values()),
                "decode_errors": sum(gw.counters.decode_errors.values()),
                "garbage_sent": board.garbage_sent,
                "sms_sent": len(sim.sent),
                "sos_acknowledged": int(board.acknowledged_by is not None),
            }

        next_line = started + PROGRESS_EVERY_S

        async def progress() -> None:
            nonlocal next_line
            if loop.time() >= next_line:
                next_line += PROGRESS_EVERY_S
                say("progress", {"elapsed_s": loop.time() - started, **await counts()})

        if mode == "lines":
            say("started", {"api_url": daemon.api_url, "broker": url})
        view = LiveView(board, daemon.api_url, url) if mode == "live" else None
        try:
            if view is None:
                await _wait(duration, interrupted, tick=progress if mode == "lines" else None)
            else:
                with view.live():
                    await _wait(duration, interrupted, tick=view.update)
        finally:
            stop.set()
            for t in running:
                t.cancel()
        return await counts()
    raise AssertionError("unreachable")  # pragma: no cover


def progress_line(elapsed_s: float, c: dict[str, Any]) -> str:
    return (
        f"{elapsed_s:4.0f} s: {c['gateway_readings']} readings made, {c['county_readings']} stored by "
        f"the county, {c['decode_errors']} garbage lines rejected"
    )


WHO_EN = {
    "son": "son",
    "daughter": "daughter",
    "clinic": "township clinic",
    "doctor": "village doctor",
    "other": "other",
}


def event_line(event: str, d: dict[str, Any]) -> str:
    """An SOS step as one line (English; ``hutgw demo`` prints them in the user's language)."""
    head = f"{d['elapsed_s']:4.0f} s: "
    if event == "sos":
        return head + f"SOS pressed on the watch of {d['name']} ({d['resident']}, watch {d['watch']})"
    if event == "acknowledged":
        return head + f"SOS acknowledged by {d['number']} ({WHO_EN.get(d['who'], d['who'])})"
    way = "SMS to" if d["direction"] == "out" else "SMS reply from"
    return head + f"{way} {d['number']} ({WHO_EN.get(d['who'], d['who'])}): {d['text']}"


async def _wait(duration: float | None, interrupted: asyncio.Event, tick: Any = None) -> None:
    loop = asyncio.get_running_loop()
    end = None if duration is None else loop.time() + duration
    while (end is None or loop.time() < end) and not interrupted.is_set():
        if tick is not None:
            result = tick()
            if asyncio.iscoroutine(result):
                await result
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(interrupted.wait(), 0.25)


class LiveView:
    def __init__(self, board: Board, api_url: str, broker_url: str, console: Any = None) -> None:
        from rich.console import Console

        self.board = board
        self.api_url = api_url
        self.broker_url = broker_url
        self.console = console if console is not None else Console()
        self._live: Any = None

    @contextlib.contextmanager
    def live(self) -> Iterator[Any]:
        """The live table; log lines (a rejected garbage line) are printed above it through the
        live display instead of between two copies of it."""
        from rich.live import Live

        self._live = Live(self.render(), console=self.console, refresh_per_second=4)
        with self._live:
            handlers = [
                h
                for h in logging.getLogger().handlers
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
            ]
            old = [h.setStream(sys.stderr) for h in handlers]  # sys.stderr: the live display's proxy
            try:
                yield self._live
            finally:
                for h, stream in zip(handlers, old, strict=True):
                    if stream is not None:
                        h.setStream(stream)

    def update(self) -> None:
        if self._live is not None:
            self._live.update(self.render())

    def render(self) -> Any:
        """The table, and the SMS panel under it. A live display taller than the terminal is cut at
        the bottom, so the panel takes at most half the terminal (fewer SMS when they wrap) and the
        table shows the newest readings that fit above it."""
        from rich.console import Group

        height = self.console.size.height - 1  # the live display keeps the cursor's line
        shown = SMS_SHOWN
        panel = self._sms_panel(shown)
        while shown > 2 and self._height(panel) > height // 2:
            shown -= 1
            panel = self._sms_panel(shown)
        room = height - self._height(panel)
        rows = list(reversed(self.board.rows.values()))
        table = self._table(rows, len(rows))
        if self._height(table) > room:  # the most rows that fit (at least one)
            lo, hi = 1, len(rows) - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self._height(self._table(rows, mid)) <= room:
                    lo = mid
                else:
                    hi = mid - 1
            table = self._table(rows, lo)
        return Group(table, panel)

    def _height(self, renderable: Any) -> int:
        return len(self.console.render_lines(renderable, self.console.options, pad=False))

    def _sms_panel(self, shown: int = SMS_SHOWN) -> Any:
        """The last ``shown`` SMS: to whom (masked, who it is), the full text; replies too."""
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        b = self.board
        grid = Table.grid(padding=(0, 1))
        for style in ("dim", "bold", "cyan", ""):
            grid.add_column(style=style or None, overflow="fold")
        for m in b.sms[-shown:]:
            arrow = "→" if m.direction == "out" else "←"
            grid.add_row(
                f"{m.elapsed_s:4.0f} s", f"{arrow} {m.number}", WHO_ZH.get(m.who, m.who), Text(m.text)
            )
        if not b.sms:
            grid.add_row(
                "", "", "", Text(f"{NAMES[SOS_RESIDENT]} presses SOS on her watch {SOS_AFTER_S:g} s in")
            )
        if b.acknowledged_by is not None:
            who = WHO_ZH.get(b.acknowledged_who or "", "")
            state = f"[green]SOS acknowledged by {b.acknowledged_by} {who}[/]"
        elif b.sos_at is not None:
            state = f'[red]SOS from {NAMES[SOS_RESIDENT]} at {b.sos_at:.0f} s: waiting for a reply "1"[/]'
        else:
            state = ""
        return Panel(
            grid,
            title="短信 / SMS",
            title_align="left",
            subtitle=state or None,
            subtitle_align="left",
            expand=False,
        )

    def _table(self, rows: list[Row], limit: int) -> Any:
        """The newest ``limit`` of ``rows`` (newest first)."""
        from rich.table import Table

        t = Table(
            title=f"hut-gateway demo — kiosk/API {self.api_url}, broker {self.broker_url} (Ctrl-C stops)"
        )
        for col in ("reading", "kind", "resident", "values", "from", "outbox", "county"):
            t.add_column(col)
        colour = {"pending": "yellow", "inflight": "cyan", "delivered": "green", "rejected": "red"}
        for row in rows[:limit]:
            t.add_row(
                row.id[-12:],
                row.kind,
                row.resident or "(unattributed)",
                row.summary,
                row.source,
                f"[{colour.get(row.state, 'white')}]{row.state}[/]",
                "[green]stored[/]" if row.at_county else "…",
            )
        t.caption = (
            f"garbage lines sent by the simulated scale: {self.board.garbage_sent} (counted, kept, ignored)"
        )
        if len(rows) > limit:
            t.caption += f"; {len(rows) - limit} older readings not shown (a taller terminal shows them)"
        return t
