"""Shared helpers of the CLI tests: a config on a free API port, pseudo-terminal serial ports,
calling ``hutgw`` in-process (``main([...])`` with capsys) or as a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import tty
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from provisioning.cli import main
from provisioning.errors import EXIT_OK
from tests.support.broker import free_port

REPO = Path(__file__).resolve().parents[2]


def write_config(folder: Path, state_dir: Path, **extra: str) -> Path:
    """A config file with its own state folder and a free loopback API port."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hutgw.toml"
    lines = [
        f'gateway_id = "{extra.pop("gateway_id", "hut-test")}"',
        f'state_dir = "{state_dir}"',
        "[api]",
        f'listen = "127.0.0.1:{extra.pop("api_port", free_port())}"',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Cli:
    """``hutgw`` called in-process with ``--config``; returns (exit code, stdout, stderr)."""

    def __init__(self, capsys: pytest.CaptureFixture[str], config: Path) -> None:
        self.capsys = capsys
        self.config = config

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*argv, "--config", str(self.config)])
        out, err = self.capsys.readouterr()
        return code, out, err


def hutgw(
    *argv: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m provisioning.cli ...`` as a user would run it."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "provisioning.cli", *argv],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )


def add_resident(cli: Cli, rid: str = "R001") -> None:
    code, _, err = cli("residents", "add", rid, "--name", "王秀英", "--birth-year", "1950")
    assert code == EXIT_OK, err


def add_cuff(cli: Cli, address: str, resident: str = "R001") -> None:
    """A blood-pressure cuff ``cuff-1`` of ``resident``."""
    code, _, err = cli(
        "devices",
        "add",
        "--ble",
        address,
        "--profile",
        "gatt.blood_pressure_measurement",
        "--resident",
        resident,
        "--id",
        "cuff-1",
    )
    assert code == EXIT_OK, err


def add_scale(cli: Cli, pty: Pty, resident: str | None = None) -> None:
    """A Tanita scale ``scale-1`` on ``pty``: the hut's (shared) unless ``resident`` owns it."""
    owner = ("--resident", resident) if resident else ("--shared",)
    code, _, err = cli(
        "devices", "add", "--serial", str(pty.link), "--profile", "tanita.serial", *owner, "--id", "scale-1"
    )
    assert code == EXIT_OK, err


class Pty:
    """A pseudo-terminal reached through a symlink, as /dev/serial/by-id/... would be.

    ``feed(data)`` writes to the device side again and again from a thread until ``stop()``,
    like a device that repeats its output (or, with a function, one that keeps measuring).
    """

    def __init__(self, link: Path) -> None:
        self.link = link
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)  # a full buffer drops writes instead of blocking the feeder
        self.master = master
        self._slave = slave  # kept open so that writes are buffered until the port is opened
        link.symlink_to(os.ttyname(slave))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def feed(self, data: bytes | Callable[[int], bytes]) -> None:
        """Write ``data`` (or ``data(n)`` for the n-th write) every 0.1 s until ``stop()``."""

        def loop() -> None:
            n = 0
            while not self._stop.is_set():
                with contextlib.suppress(OSError):
                    os.write(self.master, data(n) if callable(data) else data)
                n += 1
                self._stop.wait(0.1)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def close(self) -> None:
        self.stop()
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class RunningDaemon:
    """``hutgw run --config FILE`` in a subprocess, ready once its local API answers."""

    def __init__(self, config: Path, api_port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{api_port}"
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "provisioning.cli", "run", "--config", str(config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            cwd=REPO,
        )
        self.log_path = log

    def wait_ready(self, within_s: float = 30.0) -> None:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("hutgw run exited:\n" + self.log_path.read_text(errors="replace"))
            try:
                self.health()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("hutgw run did not answer:\n" + self.log_path.read_text(errors="replace"))

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=2) as resp:
            data: dict[str, Any] = json.loads(resp.read())
            return data

    def until(self, condition: Callable[[dict[str, Any]], bool], within_s: float = 30.0) -> dict[str, Any]:
        """Poll the health view until ``condition`` holds (a deadline, not a speed assertion)."""
        deadline = time.monotonic() + within_s
        health = self.health()
        while not condition(health):
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met; last health view: {health}")
            time.sleep(0.2)
            health = self.health()
        return health

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
