"""Footprint benchmark: the daemon's memory, CPU and start-up time, idle and under a hut's load.

Run: ``.venv/bin/python bench/footprint.py [--seconds 60] [--watches 200]``. In one run it measures

* **baseline**: a bare ``python -c 'import asyncio; asyncio.run(asyncio.sleep(60))'`` process,
  running during the idle phase (the floor any asyncio daemon on this Python pays);
* **idle**: ``hutgw run`` as a subprocess, connected to a private Mosquitto with the reference
  receiver (``hutgw receiver``) acking, every device provisioned but none sending;
* **load**: the same with 200 wristbands sending heart rate every 10 s, one blood-pressure cuff
  and one scale measuring every minute.

How the devices are fed: there is no Bluetooth adapter here, so 200 BLE wristbands cannot be
simulated honestly. The wristbands are 4G watches instead, through the real watch listener
(``[watch] listen``, profile ``watch.tcp``): 200 TCP connections from this process, each
logging in with ``LK`` and sending ``PULSE`` frames (one heart-rate reading each) every 10 s,
staggered. The scale is a Tanita on a pseudo-terminal (the real serial transport); the cuff
is a relay posting to ``POST /api/v1/readings``. Each wristband belongs to its own resident.

Per phase it reports: time from ``exec`` to ``READY=1`` (read from a ``$NOTIFY_SOCKET`` this
script binds), peak RSS (``VmHWM`` from ``/proc/PID/status``), RSS at the end, mean CPU of
one core (``utime+stime`` from ``/proc/PID/stat`` over the wall time of the phase, from READY
to the end), and what arrived. Targets (issue 11): RSS <= 60 MB under load, idle CPU < 1 % of
one core, READY within 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from devtools.mosquitto import Broker, free_port  # noqa: E402
from devtools.simulate import PtyDevice, tanita_line  # noqa: E402
from drivers.watch.codec import build_frame  # noqa: E402
from gateway.registry import DeviceEntry, Registry, ResidentEntry  # noqa: E402
from uplink.commands import public_key_b64  # noqa: E402

HUTGW = [sys.executable, "-m", "provisioning.cli"]
# The daemon is started as systemd starts it: the installed ``hutgw`` console script.
_SCRIPT = Path(sys.executable).with_name("hutgw")
DAEMON = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "provisioning.entry"]
TICKS = os.sysconf("SC_CLK_TCK")
TARGET_RSS_MB = 60.0
TARGET_IDLE_CPU_PCT = 1.0
TARGET_READY_S = 2.0


# -- /proc ------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


@dataclass
class Figures:
    name: str
    ready_s: float | None = None
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_kb: int = 0
    end_rss_kb: int = 0
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def cpu_pct(self) -> float:
        return 100.0 * self.cpu_s / self.wall_s if self.wall_s else 0.0


class Watched:
    """A process measured over a window: CPU from the start of the window, peak RSS at the end,
    and RSS and thread count every ``every_s`` (to see a trend, not only a peak)."""

    def __init__(self, pid: int, every_s: float = 10.0) -> None:
        self.pid = pid
        self.t0 = time.monotonic()
        self.cpu0 = cpu_seconds(pid)
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(every_s,), daemon=True)
        self._thread.start()

    def _sample(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            try:
                rss = status_kb(self.pid, "VmRSS")
                threads = len(os.listdir(f"/proc/{self.pid}/task"))
            except (OSError, KeyError):
                return
            self.samples.append((round(rss / 1024, 1), threads))

    def finish(self, fig: Figures) -> Figures:
        self._stop.set()
        self._thread.join()
        fig.notes["rss_mb_threads_every_10s"] = self.samples
        fig.wall_s = time.monotonic() - self.t0
        fig.cpu_s = cpu_seconds(self.pid) - self.cpu0
        fig.peak_rss_kb = status_kb(self.pid, "VmHWM")
        fig.end_rss_kb = status_kb(self.pid, "VmRSS")
        return fig


# -- set-up ------------------------------------------------------------------------------------


def watch_id(i: int) -> str:
    return f"88{i:08d}"


def provision(state: Path, watches: int, scale_port: Path) -> None:
    state.mkdir(parents=True, exist_ok=True)
    with Registry(state / "registry.db") as reg:
        for i in range(watches):
            rid = f"W{i:04d}"
            reg.add_resident(ResidentEntry(id=rid, name=f"Resident {i}", birth_year=1940 + i % 30))
            reg.add_device(
                DeviceEntry(id=f"band-{i:03d}", profile="watch.tcp", address=watch_id(i), resident_id=rid)
            )
        reg.add_resident(ResidentEntry(id="R0001", name="Wang", birth_year=1950, height_cm=156.0))
        reg.add_device(DeviceEntry(id="scale-1", profile="tanita.serial", address=str(scale_port)))


def write_config(
    path: Path,
    state: Path,
    api_port: int,
    watch_port: int,
    broker_url: str,
    watches: int,
    clock: str = "kernel",
) -> None:
    # A county command key, as a production hut has: the daemon checks command signatures.
    county_key = public_key_b64(Ed25519PrivateKey.generate())
    path.write_text(
        f'gateway_id = "hut-bench"\n'
        f'state_dir = "{state}"\n'
        f'[api]\nlisten = "127.0.0.1:{api_port}"\n'
        f'[uplink]\nbroker = "{broker_url}"\ncommand_public_key = "{county_key}"\n'
        f'[watch]\nlisten = "127.0.0.1:{watch_port}"\nmax_connections = {watches + 20}\n'
        f'[logging]\nlevel = "INFO"\n'
        f'[clock]\nsync_source = "{clock}"\n'
    )


class NotifySocket:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))

    def wait_for(self, line: str, timeout: float) -> float:
        """Blocks until a notification holds ``line``; returns the monotonic time it arrived."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                break
            if line in data.decode().split("\n"):
                return time.monotonic()
        raise RuntimeError(f"no {line} within {timeout} s")

    def close(self) -> None:
        self.sock.close()


def start_daemon(config: Path, notify: NotifySocket, log: Path) -> tuple[subprocess.Popen[bytes], float]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", NOTIFY_SOCKET=str(notify.path))
    env.pop("WATCHDOG_USEC", None)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [*DAEMON, "run", "--config", str(config)], stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env
    )
    try:
        ready_at = notify.wait_for("READY=1", timeout=60)
    except RuntimeError:
        proc.kill()
        raise RuntimeError(f"daemon did not get ready:\n{log.read_text()}") from None
    return proc, ready_at - t0


def stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> tuple[int, float]:
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    return rc, time.monotonic() - t0


def metrics(api: str) -> dict[str, float]:
    """Series -> value, and each family's sum under its bare name (enough for a sanity line)."""
    with urllib.request.urlopen(api + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        series, _, value = line.rpartition(" ")
        name = series.split("{", 1)[0]
        out[series] = float(value)
        if name != series:
            out[name] = out.get(name, 0.0) + float(value)
    return out


def county_readings(db: Path) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(db, timeout=10)
    try:
        return int(con.execute("SELECT count(*) FROM readings").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


# -- simulated devices -----------------------------------------------------------------------


async def wristband(i: int, port: int, until: float, sent: list[int], rng: random.Random) -> None:
    """One 4G wristband: log in with LK, then a heart-rate frame every 10 s."""
    wid = watch_id(i)
    await asyncio.sleep(rng.uniform(0, 10))  # bands are not in step
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def drain_replies() -> None:
        while await reader.read(4096):
            pass

    replies = asyncio.create_task(drain_replies())
    try:
        writer.write(build_frame("3G", wid, None, f"LK,{rng.randint(0, 9000)},0,{rng.randint(20, 100)}"))
        await writer.drain()
        loop = asyncio.get_running_loop()
        while loop.time() < until:
            writer.write(build_frame("3G", wid, None, f"PULSE,{rng.randint(58, 96)}"))
            await writer.drain()
            sent[0] += 1
            await asyncio.sleep(min(10.0, max(0.0, until - loop.time())))
    finally:
        writer.close()
        replies.cancel()


def _post(req: urllib.request.Request) -> int:
    with urllib.request.urlopen(req, timeout=10) as r:
        return int(r.status)


async def cuff(api: str, until: float, sent: list[int], rng: random.Random) -> None:
    """A blood-pressure cuff relayed by the hut's tablet: one reading a minute."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(2.0)
    while loop.time() < until:
        body = {
            "kind": "blood_pressure",
            "resident_id": "R0001",
            "device_id": "cuff-1",
            "values": {"systolic": rng.randint(110, 150), "diastolic": rng.randint(65, 95), "pulse_rate": 70},
        }
        req = urllib.request.Request(
            api + "/api/v1/readings",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        status = await asyncio.to_thread(_post, req)
        if status == 201:
            sent[0] += 1
        await asyncio.sleep(min(60.0, max(0.0, until - loop.time())))


async def scale(device: PtyDevice, until: float, sent: list[int], rng: random.Random) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(4.0)  # the serial transport has opened the port by then
    while loop.time() < until:
        device.write(tanita_line(weight_kg=round(rng.uniform(50, 80), 1), body_fat_pct=28.0, height_cm=156.0))
        sent[0] += 1
        await asyncio.sleep(min(60.0, max(0.0, until - loop.time())))


async def drive(api: str, watch_port: int, pty: PtyDevice, seconds: float, watches: int) -> dict[str, int]:
    rng = random.Random(11)
    until = asyncio.get_running_loop().time() + seconds
    bands, cuffs, scales = [0], [0], [0]
    async with asyncio.TaskGroup() as tg:
        for i in range(watches):
            tg.create_task(wristband(i, watch_port, until, bands, random.Random(rng.random())))
        tg.create_task(cuff(api, until, cuffs, rng))
        tg.create_task(scale(pty, until, scales, rng))
    return {"heart_rate": bands[0], "blood_pressure": cuffs[0], "body_composition": scales[0]}


# -- phases ----------------------------------------------------------------------------------


def phase(
    name: str,
    work: Path,
    broker: Broker,
    seconds: float,
    watches: int,
    load: bool,
    baseline: Figures | None,
    clock: str = "kernel",
) -> Figures:
    base = work / name
    base.mkdir()
    state = base / "state"
    api_port, watch_port = free_port(), free_port()
    rx = subprocess.Popen(
        [*HUTGW, "receiver", "--broker", broker.url, "--db", str(base / "county.db")],
        stdout=(base / "receiver.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    notify = NotifySocket(base / "notify.sock")
    fig = Figures(name)
    try:
        with PtyDevice(base / "tanita") as pty:
            provision(state, watches, pty.path)
            config = base / "hutgw.toml"
            write_config(config, state, api_port, watch_port, broker.url, watches, clock)
            proc, fig.ready_s = start_daemon(config, notify, base / "daemon.log")
            api = f"http://127.0.0.1:{api_port}"
            try:
                watched = Watched(proc.pid)
                bare = None
                if baseline is not None:
                    bare = subprocess.Popen(
                        [sys.executable, "-c", f"import asyncio; asyncio.run(asyncio.sleep({seconds + 60}))"]
                    )
                    time.sleep(0.5)  # let it start: the window covers its steady state
                    bare_watch = Watched(bare.pid)
                if load:
                    fig.notes["sent"] = asyncio.run(drive(api, watch_port, pty, seconds, watches))
                    time.sleep(1.0)  # the last frames are stored
                else:
                    time.sleep(seconds)
                watched.finish(fig)
                if bare is not None and baseline is not None:
                    bare_watch.finish(baseline)
                    bare.kill()
                    bare.wait()
                m = metrics(api)
                fig.notes["stored"] = int(m.get("hutgw_readings_total", 0))
                fig.notes["decode_errors"] = int(m.get("hutgw_decode_errors_total", 0))
                fig.notes["county_acked"] = int(m.get('hutgw_uplink_records_total{outcome="acked"}', 0))
                fig.notes["devices_seen"] = sum(
                    1 for k in m if k.startswith("hutgw_device_last_seen_timestamp_seconds{")
                )
                time.sleep(2.0)
            finally:
                rc, stop_s = stop(proc)
                fig.notes["exit"] = rc
                fig.notes["stop_s"] = round(stop_s, 2)
    finally:
        notify.close()
        fig.notes["county"] = county_readings(base / "county.db")
        rx.terminate()
        rx.wait(10)
    return fig


def row(f: Figures) -> str:
    ready = f"{f.ready_s:6.2f}" if f.ready_s is not None else "     -"
    return (
        f"{f.name:<9} {ready} {f.peak_rss_kb / 1024:9.1f} {f.end_rss_kb / 1024:9.1f} "
        f"{f.cpu_s:7.2f} {f.wall_s:6.1f} {f.cpu_pct:7.2f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    ap.add_argument("--watches", type=int, default=200, help="simulated wristbands")
    ap.add_argument(
        "--clock",
        choices=["kernel", "trust"],
        default="kernel",
        help="[clock] sync_source: kernel (the default: readings stored while the kernel says the clock "
        "is unsynchronised are remembered for re-timing) or trust (as on a hut synchronised by NTP)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the work folder (logs, databases)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hutgw-footprint-"))
    baseline = Figures("baseline")
    with_broker = Broker(workdir=work / "mosquitto")
    with_broker.start()
    try:
        idle = phase("idle", work, with_broker, args.seconds, args.watches, False, baseline, args.clock)
        loaded = phase("load", work, with_broker, args.seconds, args.watches, True, None, args.clock)
    finally:
        with_broker.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"footprint: {args.watches} wristbands (4G watch protocol over TCP, heart rate every 10 s),")
    print("one cuff (API relay) and one scale (Tanita on a pseudo-terminal) every minute,")
    print(f"uplink to a private Mosquitto with the reference receiver acking; {args.seconds:.0f} s per phase")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; "
        f"clock sync_source {args.clock}; work folder {work}{'' if args.keep else ' (removed)'}"
    )
    print()
    print("phase     ready_s  peak_MB    end_MB   cpu_s  wall_s  cpu_%1core")
    for f in (baseline, idle, loaded):
        print(row(f))
    print()
    for f in (idle, loaded):
        print(f"{f.name}: {json.dumps(f.notes)}")
    print()
    checks = [
        ("peak RSS under load", loaded.peak_rss_kb / 1024, TARGET_RSS_MB, "MB"),
        ("idle CPU of one core", idle.cpu_pct, TARGET_IDLE_CPU_PCT, "%"),
        ("READY (idle start)", idle.ready_s or 0.0, TARGET_READY_S, "s"),
        ("READY (load start)", loaded.ready_s or 0.0, TARGET_READY_S, "s"),
    ]
    for what, value, target, unit in checks:
        verdict = "ok" if value <= target else "MISSED"
        print(f"{what:<22} {value:8.2f} {unit:<2} target <= {target:g} {unit}: {verdict}")
    print(
        f"daemon over bare asyncio: peak RSS x{loaded.peak_rss_kb / max(baseline.peak_rss_kb, 1):.1f} "
        f"(load), x{idle.peak_rss_kb / max(baseline.peak_rss_kb, 1):.1f} (idle)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
