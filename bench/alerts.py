"""SOS to the first SMS, and a reply to the rounds stopping, through the real daemon.

Run: ``.venv/bin/python bench/alerts.py [--n 100] [--cmgs-delay 0.3]``. It starts the daemon
(``hutgw run``) with a watch listener and the 4G modem simulated on a real pseudo-terminal
(devtools/modemsim.py, answering ``+CMGS`` after ``--cmgs-delay`` seconds), provisions one
resident with one guardian, and then, ``--n`` times:

1. the watch sends its SOS frame (``AL``) over TCP; measured until the simulator sees the first
   ``AT+CMGS`` command line of the alert's first round (*SOS → first AT+CMGS*);
2. once the round is out, the guardian replies "1"; measured from the moment the reply's ``+CMTI``
   is raised until the alert's state in ``notify.db`` is ``acknowledged`` (*reply → rounds stopped*).

The raw baseline, measured in the same run on the same kind of pty: a bare client writing
``AT+CMGS=<n>`` to the simulator and the simulator seeing it (what any sender pays at least).
Figures: median and p99 in milliseconds, and the ratio of each median to the baseline's.
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.modemsim import ModemSim  # noqa: E402
from devtools.mosquitto import free_port  # noqa: E402
from tests.support.procs import HUTGW, GatewayProc, _env  # noqa: E402

GUARDIAN, CLINIC = "+8613900000001", "+8613800000001"
WATCH = "8800000015"
AL = (
    "AL,061226,082100,A,30.274120,N,120.155130,E,0.00,0.0,0.0,8,100,90,0,0,00010000,"
    "2,255,460,0,22562,4263,150"
)


def frame(content: str) -> bytes:
    body = content.encode()
    return b"[3G*%s*%04X*%s]" % (WATCH.encode(), len(body), body)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def raw_baseline(sim: ModemSim, n: int) -> list[float]:
    """A bare write of AT+CMGS to the pty until the simulator has seen it (ESC cancels it)."""
    fd = os.open(sim.path, os.O_RDWR | os.O_NOCTTY)
    import tty

    tty.setraw(fd)
    out = []
    try:
        os.write(fd, b"ATE0\r")
        time.sleep(0.2)
        for _ in range(n):
            before = len(sim.cmgs_issued)
            t = time.monotonic()
            os.write(fd, b"AT+CMGS=20\r")
            while len(sim.cmgs_issued) == before:
                time.sleep(0.0002)
            out.append(sim.cmgs_issued[-1] - t)
            os.write(fd, b"\x1b")
            time.sleep(0.02)
            os.read(fd, 4096)
    finally:
        os.close(fd)
    return out


def state_of(db: Path, alert_count: int) -> str | None:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = con.execute("SELECT state FROM alerts ORDER BY raised_at").fetchall()
    finally:
        con.close()
    return rows[alert_count - 1][0] if len(rows) >= alert_count else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--cmgs-delay", type=float, default=0.3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hutgw-bench-alerts-"))
    sim = ModemSim(tmp / "by-id", cmgs_delay_s=args.cmgs_delay)
    sim.start()
    state, config = tmp / "state", tmp / "hutgw.toml"
    state.mkdir()
    watch_port = free_port()
    config.write_text(
        'gateway_id = "hut-bench"\n'
        "[clinical]\nsos_max_suppress_s = 0\n"
        f'[watch]\nlisten = "127.0.0.1:{watch_port}"\n'
        f'[notify]\nmodem = "{sim.path}"\nclinic = ["{CLINIC}"]\nescalate_after_s = 600\n'
        "notify_others_on_ack = false\nmax_per_phone_per_hour = 100000\n",
        encoding="utf-8",
    )

    def cli(*a: str) -> None:
        subprocess.run(
            [*HUTGW, *a, "--state-dir", str(state), "--config", str(config)],
            check=True,
            env=_env(),
            capture_output=True,
        )

    cli("residents", "add", "R1", "--name", "张桂英", "--guardian", GUARDIAN)
    cli("devices", "add", "--watch", WATCH, "--profile", "watch.tcp", "--resident", "R1", "--id", "band")
    baseline = raw_baseline(sim, min(args.n, 100))
    gw = GatewayProc(state, None, gateway_id="hut-bench", config=config)
    gw.start()
    to_cmgs: list[float] = []
    to_stop: list[float] = []
    try:
        sim.wait_for(lambda: any("CNMI" in c for c in sim.commands), 15)
        time.sleep(1.0)  # the modem initialised
        w = socket.create_connection(("127.0.0.1", watch_port), timeout=5)
        w.sendall(frame("LK,0,0,90"))
        time.sleep(0.3)
        db = state / "notify.db"
        for i in range(1, args.n + 1):
            before_cmgs, before_sent = len(sim.cmgs_issued), len(sim.sent)
            t = time.monotonic()
            w.sendall(frame(AL))
            if not sim.wait_for(lambda b=before_cmgs: len(sim.cmgs_issued) > b, 10):
                raise SystemExit(f"SOS {i}: no AT+CMGS within 10 s\n{gw.log()[-3000:]}")
            to_cmgs.append(sim.cmgs_issued[before_cmgs] - t)
            sim.wait_sent(before_sent + 2, timeout=10)
            time.sleep(args.cmgs_delay + 0.1)  # the round is out: the modem answered its last +CMGS
            t = time.monotonic()
            sim.deliver(GUARDIAN, "1")
            while state_of(db, i) != "acknowledged":
                if time.monotonic() - t > 10:
                    raise SystemExit(f"reply {i}: not acknowledged within 10 s\n{gw.log()[-3000:]}")
                time.sleep(0.002)
            to_stop.append(time.monotonic() - t)
            sim.wait_for(lambda: not sim.stored, 5)
        w.close()
    finally:
        gw.stop()
        sim.close()
    base = statistics.median(baseline)
    print(f"bench/alerts.py: {args.n} SOS, simulator answers +CMGS after {args.cmgs_delay:.2f} s")
    print(
        f"raw baseline   AT+CMGS write -> seen by the modem: median {base * 1000:7.2f} ms  "
        f"p99 {pct(baseline, 99) * 1000:7.2f} ms"
    )
    for name, xs, goal in (
        ("SOS frame -> first AT+CMGS", to_cmgs, 1.0),
        ("reply '1' -> rounds stopped", to_stop, 1.0),
    ):
        med, p99 = statistics.median(xs), pct(xs, 99)
        print(
            f"{name:28s} median {med * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms  "
            f"({med / base:.0f}x raw; goal p99 <= {goal:.0f} s: {'met' if p99 <= goal else 'NOT met'})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
