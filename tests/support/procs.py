"""Real processes for end-to-end tests: the gateway daemon and the reference receiver."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.mosquitto import free_port

HUTGW = [sys.executable, "-m", "provisioning.cli"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("NOTIFY_SOCKET", None)
    return env


@dataclass
class GatewayProc:
    state_dir: Path
    broker_url: str | None
    gateway_id: str = "hut-test"
    api_port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    config: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, timeout: float = 20.0) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.state_dir.parent / f"{self.state_dir.name}-gateway.log"
        args = [
            *HUTGW,
            "run",
            "--state-dir",
            str(self.state_dir),
            "--gateway-id",
            self.gateway_id,
            "--api",
            f"127.0.0.1:{self.api_port}",
            *self.extra_args,
        ]
        if self.config is not None:
            args += ["--config", str(self.config)]
        if self.broker_url:
            args += ["--broker", self.broker_url]
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=_env())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited {self.proc.returncode}:\n{self.log()}")
            try:
                self.health()
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"gateway did not come up:\n{self.log()}")

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/api/v1/health", timeout=5) as r:
            data: dict[str, Any] = json.loads(r.read())
            return data

    def post(self, body: dict[str, Any], timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
        req = urllib.request.Request(
            self.url + "/api/v1/readings",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""


@dataclass
class ReceiverProc:
    db: Path
    broker_url: str
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.db.with_suffix(".log"), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*HUTGW, "receiver", "--broker", self.broker_url, "--db", str(self.db)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_env(),
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def readings(self) -> dict[str, dict[str, Any]]:
        if not self.db.exists():
            return {}
        con = sqlite3.connect(self.db, timeout=10)
        try:
            rows = con.execute("SELECT id, payload FROM readings").fetchall()
        except sqlite3.OperationalError:
            return {}
        finally:
            con.close()
        return {r[0]: json.loads(r[1]) for r in rows}

    def wait_for(self, ids: set[str], timeout: float = 60.0) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        got: dict[str, dict[str, Any]] = {}
        while time.monotonic() < deadline:
            got = self.readings()
            if ids <= set(got):
                return got
            time.sleep(0.25)
        return got


REPO = Path(__file__).resolve().parents[2]


class Proc:
    """A child process we can SIGKILL and start again with the same command line."""

    def __init__(self, name: str, argv: list[str], logdir: Path) -> None:
        self.name, self.argv, self.logdir = name, argv, logdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.logdir / f"{self.name}.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(self.argv, cwd=REPO, stdout=log, stderr=log)
        log.close()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(15)
        self.proc = None
