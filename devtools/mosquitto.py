"""Start a private Mosquitto: own port, own config, own data folder (demo, tests, benchmarks).

The configuration avoids the traps measured on Mosquitto 2.0: ``max_queued_messages 0`` (the
default of 1000 silently drops QoS 1 messages for a slow subscriber), ``allow_anonymous true``
on loopback, a data folder the ``mosquitto`` user can write to, and ``set_tcp_nodelay``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError("mosquitto is not installed: apt-get install mosquitto")


@dataclass
class Broker:
    """A running Mosquitto; ``restart()`` keeps port and persistence."""

    workdir: Path
    port: int = field(default_factory=free_port)
    tls: dict[str, str] | None = None
    extra: str = ""
    proc: subprocess.Popen[bytes] | None = None
    data_dir: Path | None = None

    def _data(self) -> Path:
        """Where Mosquitto writes its log and persistence once it has dropped from root to its own
        user: a folder of its own under the system temp folder (``workdir`` may sit inside a
        root-only folder such as pytest's ``tmp_path``). Kept across restarts; removed by close()."""
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="hutgw-mosquitto-"))
            os.chmod(self.data_dir, 0o777)
        return self.data_dir

    @property
    def url(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        return f"{scheme}://127.0.0.1:{self.port}"

    def config_text(self) -> str:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self._data()}/",
            "autosave_interval 1",
            # Never drop QoS 1 messages for a slow subscriber (the default caps at 1000).
            "max_queued_messages 0",
            "max_inflight_messages 0",
            "set_tcp_nodelay true",
            f"log_dest file {self._data()}/mosquitto.log",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
        ]
        if self.tls:
            lines += [
                f"cafile {self.tls['cafile']}",
                f"certfile {self.tls['certfile']}",
                f"keyfile {self.tls['keyfile']}",
            ]
            if self.tls.get("require_certificate", "true") == "true":
                lines += ["require_certificate true", "use_identity_as_username true"]
        if self.extra:
            lines.append(self.extra)
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 10.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config_text())
        self.proc = subprocess.Popen(
            [mosquitto_binary(), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.workdir / "stderr.log", "ab"),  # noqa: SIM115
            start_new_session=True,  # Ctrl-C at the terminal is for its owner, who stops it last
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {(self.workdir / 'stderr.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening in time")

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and remove the data folder."""
        self.stop()
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def log(self) -> str:
        path = self._data() / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def running_broker(workdir: Path, **kwargs: object) -> Iterator[Broker]:
    broker = Broker(workdir=workdir, **kwargs)  # type: ignore[arg-type]
    broker.start()
    try:
        yield broker
    finally:
        broker.close()
