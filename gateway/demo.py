"""``hutgw demo``: the whole path on one machine, with simulated devices and a live view.

A private broker (Mosquitto when installed, else the embedded one), the reference county
receiver, and the real daemon fed by a simulated Tanita on a real pseudo-terminal plus
manual blood-pressure entries through the real local API. A resident is signed in at the
kiosk so the shared scale's readings are attributed.
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
from pathlib import Path
from typing import Any, Literal

import aiohttp
import orjson

from county.receiver import BrokerOptions, Receiver
from county.sqlite import SqliteStore as ReceiverStore
from gateway.config import parse
from gateway.daemon import Daemon
from gateway.registry import DeviceEntry, Registry, ResidentEntry
from gateway.simulate import PtyDevice, ResidentProfile, manual_bp, sleep_or_stop, tanita_line, varied
from uplink.mosquitto import Broker, free_port

log = logging.getLogger("hutgw.demo")

RESIDENTS = (
    ResidentProfile("R0001", weight_kg=58.2, body_fat_pct=31.0, systolic=128, diastolic=82, height_cm=156),
    ResidentProfile("R0002", weight_kg=71.5, body_fat_pct=24.5, systolic=152, diastolic=94, height_cm=168),
    ResidentProfile("R0003", weight_kg=49.0, body_fat_pct=27.0, systolic=114, diastolic=72, height_cm=150),
)
NAMES = {"R0001": "王秀英", "R0002": "李建国", "R0003": "张桂兰"}
HTTP_TIMEOUT_S = 10.0
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class Row:
    id: str
    kind: str
    resident: str | None
    summary: str
    source: str
    state: str = "pending"
    at_county: bool = False


@dataclass
class Board:
    rows: dict[str, Row] = field(default_factory=dict)
    garbage_sent: int = 0

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
        from uplink.minibroker import MiniBroker

        log.warning("Mosquitto is not installed; using the embedded demo broker")
        async with MiniBroker(port=free_port()) as mini:
            yield f"mqtt://127.0.0.1:{mini.port}"
        return
    try:
        yield broker.url
    finally:
        broker.close()


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
    ``elapsed_s`` and the summary's counts; default: English on stdout)."""
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
        state.mkdir(parents=True, exist_ok=True)
        registry = Registry(state / "registry.db")
        for who in RESIDENTS:
            if registry.get_resident(who.resident_id) is None:
                registry.add_resident(
                    ResidentEntry(
                        id=who.resident_id,
                        name=NAMES[who.resident_id],
                        sex="female",
                        birth_year=1950,
                        height_cm=who.height_cm,
                    )
                )
        if registry.get_device("tanita-1") is None:
            registry.add_device(DeviceEntry(id="tanita-1", profile="tanita.serial", address=str(scale.path)))
        registry.close()

        api_port = free_port()
        config = parse(
            {
                "gateway_id": "hut-demo",
                "state_dir": str(state),
                "api": {"listen": f"127.0.0.1:{api_port}"},
                "uplink": {"broker": url, "ack_timeout_s": 5, "backoff_max_s": 5, "heartbeat_s": 10},
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

        async def watch_events() -> None:
            async with gw.events.subscribe() as q:
                while True:
                    ev = await q.get()
                    if ev.type == "reading":
                        d = ev.data
                        board.add(
                            Row(d["id"], d["kind"], d["resident_id"], summarise(d["values"]), d["device"])
                        )

        async def scale_sim() -> None:
            while not await sleep_or_stop(stop, 2.5):
                who = rng.choice(RESIDENTS)
                gw.sessions.sign_in(who.resident_id, "card")  # the resident taps a card at the kiosk
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
                gw.sessions.sign_out()

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
                    rec = await gw.outbox.get(row.id)
                    row.state = rec.state.value if rec is not None else "gone"
                    row.at_county = row.id in delivered
                await asyncio.sleep(0.5)

        running += [
            tasks.create_task(watch_events(), name="demo-events"),
            tasks.create_task(scale_sim(), name="demo-scale"),
            tasks.create_task(doctor_sim(), name="demo-doctor"),
            tasks.create_task(refresh(), name="demo-refresh"),
        ]

        async def counts() -> dict[str, int]:
            return {
                "county_readings": len(await store.reading_ids()),
                "gateway_readings": sum(gw.counters.readings.values()),
                "decode_errors": sum(gw.counters.decode_errors.values()),
                "garbage_sent": board.garbage_sent,
            }

        started = loop.time()
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
        from rich.table import Table

        t = Table(
            title=f"hut-gateway demo — kiosk/API {self.api_url}, broker {self.broker_url} (Ctrl-C stops)"
        )
        for col in ("reading", "kind", "resident", "values", "from", "outbox", "county"):
            t.add_column(col)
        colour = {"pending": "yellow", "inflight": "cyan", "delivered": "green", "rejected": "red"}
        for row in reversed(list(self.board.rows.values())):
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
        return t
