"""Denial-of-service benchmark: the attacks of issue 17 items 7-10 against a real daemon.

Run: ``.venv/bin/python bench/dos.py [--hold 20] [--json]``. One ``hutgw run`` subprocess on
loopback (API and watch listener on 127.0.0.1, one provisioned watch, uplink off), then, in
one run, each phase for ``--hold`` seconds (bounded: at most a few thousand sockets and a few
minutes in all):

* **baseline**: no attack. 2,000 concurrent ``POST /api/v1/readings``; a real watch sends
  ``LK`` once a second; ``GET /api/v1/health`` twice a second.
* **watch-lockout** (item 7): 200 connections to the watch port from one address
  (127.0.0.2), one junk byte each and one more every 2 s, reconnecting whenever the gateway
  closes one; the real watch (from 127.0.0.1) keeps sending ``LK``. **watch-spread**: the
  same from 50 addresses; **watch-same-ip**: the same from the watch's own address (a watch
  behind the attacker's NAT: the worst case, where addresses cannot tell them apart).
* **fd-exhaustion** (item 8): 1,030 connections to the API that never send a request,
  reconnecting whenever closed; health GETs and the watch go on.
* **slow-sse** (item 9): 1,000 ``GET /api/v1/events`` clients that never read, then 2,000
  concurrent POSTs; afterwards the clients leave and RSS is read again.
* **rebinding** (item 10): requests with ``Host: evil.example`` (as a rebound page sends them)
  and 10,300 kiosk sign-in attempts as fast as 100 concurrent clients can send them.

Per phase: connections the gateway holds (ESTABLISHED sockets on its ports, from
``/proc/net/tcp``, the most seen while the attack runs, and at the end), the daemon's RSS
(peak sampled every 0.2 s, and at the end), POST p50/p99 (time from the request being
issued to its reply; 2,000 at once through 500 client connections), the real watch's
``LK`` answers and health GETs that succeeded, and log lines written by the daemon.
Goals: the watch and the API keep answering under every attack; with slow SSE clients
RSS <= 100 MB and POST p99 <= 2 s; rebinding requests are all refused; sign-in attempts
answered are bounded by the rate limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from devtools.mosquitto import free_port  # noqa: E402
from drivers.watch.codec import build_frame  # noqa: E402
from gateway.registry import DeviceEntry, Registry, ResidentEntry  # noqa: E402

_SCRIPT = Path(sys.executable).with_name("hutgw")
DAEMON = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "provisioning.entry"]
WATCH_ID = "8800000001"
POSTS = 2000
POST_CONNECTIONS = 500
JUNK_WATCH_CONNECTIONS = 200
IDLE_API_CONNECTIONS = 1030
SSE_CLIENTS = 1000
SIGN_INS = 10_300
GOAL_RSS_MB = 100.0
GOAL_P99_S = 2.0


# ----------------------------------------------------------------------------- the daemon


def provision(state: Path) -> None:
    state.mkdir(parents=True, exist_ok=True)
    with Registry(state / "registry.db") as reg:
        for i in range(1, 11):
            reg.add_resident(ResidentEntry(id=f"R{i:04d}", name=f"Resident {i}", birth_year=1945))
        reg.add_device(DeviceEntry(id="watch-1", profile="watch.tcp", address=WATCH_ID, resident_id="R0001"))


def write_config(path: Path, state: Path, api_port: int, watch_port: int) -> None:
    path.write_text(
        f'gateway_id = "hut-dos"\nstate_dir = "{state}"\n'
        f'[api]\nlisten = "127.0.0.1:{api_port}"\n'
        f'[watch]\nlisten = "127.0.0.1:{watch_port}"\n'
        f'[logging]\nlevel = "INFO"\n[clock]\nsync_source = "trust"\n'
    )


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def established(port: int) -> int:
    """Server-side ESTABLISHED TCP sockets on ``port`` (IPv4 and IPv6)."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[3] == "01" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    n += 1
    return n


class Sampler:
    """Peak RSS and peak connections held, every 0.2 s, on a thread (the event loop is busy)."""

    def __init__(self, pid: int, ports: tuple[int, ...]) -> None:
        self.pid, self.ports = pid, ports
        self.peak_rss_kb = 0
        self.peak_conns = dict.fromkeys(ports, 0)
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            with contextlib.suppress(OSError):
                self.peak_rss_kb = max(self.peak_rss_kb, status_kb(self.pid, "VmRSS"))
            for p in self.ports:
                self.peak_conns[p] = max(self.peak_conns[p], established(p))

    def stop(self) -> None:
        self._stop.set()
        self._t.join()


# ----------------------------------------------------------------------------- clients


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 3)


async def post_burst(api: str, n: int = POSTS) -> dict[str, Any]:
    """``n`` POSTs issued at once through ``POST_CONNECTIONS`` client connections."""
    body = {
        "kind": "blood_pressure",
        "resident_id": "R0002",
        "device_id": "relay",
        "values": {"systolic": 128, "diastolic": 82, "pulse_rate": 70},
    }
    data = json.dumps(body).encode()
    latencies: list[float] = []
    codes: dict[str, int] = {}
    conn = aiohttp.TCPConnector(limit=POST_CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as http:
        loop = asyncio.get_running_loop()

        async def one() -> None:
            t0 = loop.time()
            try:
                async with http.post(
                    api + "/api/v1/readings", data=data, headers={"Content-Type": "application/json"}
                ) as r:
                    await r.read()
                    key = str(r.status)
            except (aiohttp.ClientError, TimeoutError) as e:
                key = type(e).__name__
            codes[key] = codes.get(key, 0) + 1
            if key == "201":
                latencies.append(loop.time() - t0)

        t0 = loop.time()
        await asyncio.gather(*(one() for _ in range(n)))
        wall = loop.time() - t0
    return {
        "posts": n,
        "codes": codes,
        "p50_s": pct(latencies, 0.50),
        "p99_s": pct(latencies, 0.99),
        "wall_s": round(wall, 2),
    }


@dataclass
class Probe:
    ok: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {"ok": self.ok, "failed": self.failed, "p99_s": pct(self.latencies, 0.99)}


async def watch_probe(port: int, stop: asyncio.Event, probe: Probe) -> None:
    """The real watch: a new connection and an ``LK`` once a second; answered within 5 s?"""
    frame = build_frame("3G", WATCH_ID, None, "LK")
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t0 = loop.time()
        try:
            async with asyncio.timeout(5):
                r, w = await asyncio.open_connection("127.0.0.1", port)
                try:
                    w.write(frame)
                    await r.readexactly(len(frame))
                finally:
                    w.close()
            probe.ok += 1
            probe.latencies.append(loop.time() - t0)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            probe.failed += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, 1.0 - (loop.time() - t0)))


async def health_probe(api: str, stop: asyncio.Event, probe: Probe) -> None:
    loop = asyncio.get_running_loop()
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(
        timeout=timeout, connector=aiohttp.TCPConnector(force_close=True)
    ) as http:
        while not stop.is_set():
            t0 = loop.time()
            try:
                async with http.get(api + "/api/v1/health") as r:
                    await r.read()
                    ok = r.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                probe.ok += 1
                probe.latencies.append(loop.time() - t0)
            else:
                probe.failed += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)


async def holder(
    port: int,
    stop: asyncio.Event,
    first: bytes,
    every: bytes | None,
    count: list[int],
    source: str = "127.0.0.1",
) -> None:
    """One attacking connection from ``source``, reopened whenever the gateway closes it;
    ``count[0]`` counts (re)connections."""
    while not stop.is_set():
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        except OSError:
            await asyncio.sleep(0.2)
            continue
        count[0] += 1
        try:
            w.write(first)
            while not stop.is_set():
                try:
                    async with asyncio.timeout(2.0):
                        if not await r.read(4096):
                            break  # closed by the gateway: reconnect
                except TimeoutError:
                    if every is not None:
                        w.write(every)
        except OSError:
            pass
        finally:
            w.close()
        await asyncio.sleep(0.05)


# ----------------------------------------------------------------------------- phases


@dataclass
class Rig:
    proc: subprocess.Popen[bytes]
    api_port: int
    watch_port: int
    log: Path

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def log_lines(self) -> int:
        with self.log.open("rb") as f:
            return sum(1 for _ in f)


async def phase(
    rig: Rig,
    name: str,
    hold: float,
    attack: Callable[[asyncio.Event, dict[str, Any]], Awaitable[None]] | None,
) -> dict[str, Any]:
    lines0 = rig.log_lines()
    bytes0 = rig.log.stat().st_size
    sampler = Sampler(rig.proc.pid, (rig.api_port, rig.watch_port))
    stop = asyncio.Event()
    watch, health = Probe(), Probe()
    out: dict[str, Any] = {"phase": name}
    probes = [
        asyncio.create_task(watch_probe(rig.watch_port, stop, watch)),
        asyncio.create_task(health_probe(rig.api, stop, health)),
    ]
    attacking = asyncio.create_task(attack(stop, out)) if attack is not None else None
    await asyncio.sleep(hold / 2)
    out["held_mid"] = {"api": established(rig.api_port), "watch": established(rig.watch_port)}
    if attack is None or name == "slow-sse":  # the baselines and item 9's goal
        out["post"] = await post_burst(rig.api)
    await asyncio.sleep(max(0.0, hold / 2 - 1))
    out["held_end"] = {"api": established(rig.api_port), "watch": established(rig.watch_port)}
    out["rss_mb_end_attack"] = round(status_kb(rig.proc.pid, "VmRSS") / 1024, 1)
    stop.set()
    await asyncio.gather(*probes)
    if attacking is not None:
        await attacking
    await asyncio.sleep(2.0)
    sampler.stop()
    out["held_peak"] = {"api": sampler.peak_conns[rig.api_port], "watch": sampler.peak_conns[rig.watch_port]}
    out["rss_mb_peak"] = round(sampler.peak_rss_kb / 1024, 1)
    out["rss_mb_after"] = round(status_kb(rig.proc.pid, "VmRSS") / 1024, 1)
    out["watch_lk"] = watch.view()
    out["health"] = health.view()
    out["log_lines"] = rig.log_lines() - lines0
    out["log_bytes"] = rig.log.stat().st_size - bytes0
    return out


def watch_lockout(rig: Rig, sources: list[str]) -> Callable[[asyncio.Event, dict[str, Any]], Awaitable[None]]:
    async def attack(stop: asyncio.Event, out: dict[str, Any]) -> None:
        count = [0]
        await asyncio.gather(
            *(
                holder(rig.watch_port, stop, b"x", b"x", count, sources[i % len(sources)])
                for i in range(JUNK_WATCH_CONNECTIONS)
            )
        )
        out["attacker_connections_opened"] = count[0]
        out["attacker_addresses"] = len(sources)

    return attack


def fd_exhaustion(rig: Rig) -> Callable[[asyncio.Event, dict[str, Any]], Awaitable[None]]:
    async def attack(stop: asyncio.Event, out: dict[str, Any]) -> None:
        count = [0]
        await asyncio.gather(
            *(holder(rig.api_port, stop, b"", None, count) for _ in range(IDLE_API_CONNECTIONS))
        )
        out["attacker_connections_opened"] = count[0]

    return attack


def slow_sse(rig: Rig) -> Callable[[asyncio.Event, dict[str, Any]], Awaitable[None]]:
    request = f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{rig.api_port}\r\n\r\n".encode()

    async def attack(stop: asyncio.Event, out: dict[str, Any]) -> None:
        socks: list[socket.socket] = []
        for _ in range(SSE_CLIENTS):  # blocking sockets never read: the kernel buffers fill
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            try:
                s.connect(("127.0.0.1", rig.api_port))
                s.sendall(request)
            except OSError:
                s.close()
                continue
            socks.append(s)
        out["sse_clients_opened"] = len(socks)
        await stop.wait()
        for s in socks:
            s.close()

    return attack


def rebinding(rig: Rig) -> Callable[[asyncio.Event, dict[str, Any]], Awaitable[None]]:
    async def attack(stop: asyncio.Event, out: dict[str, Any]) -> None:
        evil = {"Host": f"evil.example:{rig.api_port}", "Origin": f"http://evil.example:{rig.api_port}"}
        codes: dict[str, int] = {}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as http:
            for method, path, body in (
                ("GET", "/api/v1/session", None),
                ("GET", "/api/v1/history", None),
                ("POST", "/api/v1/session", {"method": "id", "value": "R0001"}),
                (
                    "POST",
                    "/api/v1/readings",
                    {"kind": "weight", "resident_id": "R0001", "values": {"weight": 60}},
                ),
            ):
                for _ in range(25):
                    async with http.request(method, rig.api + path, json=body, headers=evil) as r:
                        codes[str(r.status)] = codes.get(str(r.status), 0) + 1
            out["rebound_requests"] = codes
            sign_codes: dict[str, int] = {}
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            queue = iter(range(SIGN_INS))

            async def worker() -> None:
                for i in queue:
                    body = {"method": "id", "value": f"R{i % 20000:04d}"}
                    async with http.post(rig.api + "/api/v1/session", json=body) as r:
                        await r.read()
                        sign_codes[str(r.status)] = sign_codes.get(str(r.status), 0) + 1

            await asyncio.gather(*(worker() for _ in range(100)))
            out["sign_in_attempts"] = {
                "sent": SIGN_INS,
                "seconds": round(loop.time() - t0, 2),
                "codes": sign_codes,
                "answered_not_429": sum(v for k, v in sign_codes.items() if k != "429"),
            }
        await stop.wait()

    return attack


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="hutgw-dos-") as tmp:
        root = Path(tmp)
        state = root / "state"
        provision(state)
        api_port, watch_port = free_port(), free_port()
        config = root / "hutgw.toml"
        write_config(config, state, api_port, watch_port)
        log = root / "daemon.log"
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM"):
            env.pop(k, None)
        proc = subprocess.Popen(  # noqa: ASYNC220 -- started once, before any measurement
            [*DAEMON, "run", "--config", str(config)],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            env=env,
        )
        rig = Rig(proc, api_port, watch_port, log)
        try:
            async with asyncio.timeout(60):
                while "ready" not in log.read_text():
                    if proc.poll() is not None:
                        raise RuntimeError(f"daemon exited:\n{log.read_text()}")
                    await asyncio.sleep(0.2)
            results = [await phase(rig, "baseline", args.hold, None)]
            attacks = (
                # the real watch connects from 127.0.0.1
                ("watch-lockout", watch_lockout(rig, ["127.0.0.2"])),
                ("watch-spread", watch_lockout(rig, [f"127.0.1.{i}" for i in range(1, 51)])),
                ("watch-same-ip", watch_lockout(rig, ["127.0.0.1"])),
                ("fd-exhaustion", fd_exhaustion(rig)),
                ("slow-sse", slow_sse(rig)),
                ("rebinding", rebinding(rig)),
            )
            for name, attack in attacks:
                if not args.phases or name in args.phases:
                    results.append(await phase(rig, name, args.hold, attack))
            # the unattacked figures again, with the outbox as full as after the attacks
            results.append(await phase(rig, "baseline-end", args.hold, None))
            if args.keep_log:
                Path(args.keep_log).write_bytes(log.read_bytes())  # noqa: ASYNC240 -- after measuring
            return results
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def print_table(results: list[dict[str, Any]]) -> None:
    head = (
        f"{'phase':<14} {'held api/watch (peak)':>22} {'RSS peak/after MB':>18} {'POST p50/p99 s':>15} "
        f"{'watch LK ok/fail':>17} {'health ok/fail':>15} {'log lines':>10}"
    )
    print(head)
    for r in results:
        post = r.get("post") or {}
        p = f"{post.get('p50_s', '-')}/{post.get('p99_s', '-')}" if post else "-"
        print(
            f"{r['phase']:<14} {r['held_peak']['api']:>14}/{r['held_peak']['watch']:<7} "
            f"{r['rss_mb_peak']:>10}/{r['rss_mb_after']:<7} {p:>15} "
            f"{r['watch_lk']['ok']:>10}/{r['watch_lk']['failed']:<6} "
            f"{r['health']['ok']:>9}/{r['health']['failed']:<5} "
            f"{r['log_lines']:>10}"
        )
    for r in results:
        extra = {
            k: v
            for k, v in r.items()
            if k
            in (
                "post",
                "attacker_connections_opened",
                "attacker_addresses",
                "sse_clients_opened",
                "rebound_requests",
                "sign_in_attempts",
            )
        }
        if extra:
            print(f"{r['phase']}: {json.dumps(extra)}")
    sse = next((r for r in results if r["phase"] == "slow-sse"), None)
    if sse is None:
        return
    p99 = (sse.get("post") or {}).get("p99_s")
    print(
        f"goal (slow-sse): RSS <= {GOAL_RSS_MB:.0f} MB: {sse['rss_mb_peak']} MB "
        f"{'ok' if sse['rss_mb_peak'] <= GOAL_RSS_MB else 'MISSED'}; "
        f"POST p99 <= {GOAL_P99_S} s: {p99} s {'ok' if p99 is not None and p99 <= GOAL_P99_S else 'MISSED'}"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--hold", type=float, default=20.0, help="seconds per phase (default 20)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--keep-log", metavar="FILE", help="copy the daemon's log here")
    p.add_argument("--phases", nargs="*", metavar="NAME", help="only these attacks (default: all)")
    args = p.parse_args()
    results = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
