from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.provisioning.clihelp import Cli, Pty, RunningDaemon, write_config
from tests.support.broker import free_port


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[Pty]:
    p = Pty(tmp_path / "usb-Tanita_SC-240-if00")
    yield p
    p.close()


@pytest.fixture
def config(tmp_path: Path, state_dir: Path) -> Path:
    """A config file naming ``state_dir`` and a free loopback API port."""
    return write_config(tmp_path, state_dir)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], config: Path) -> Cli:
    return Cli(capsys, config)


@pytest.fixture
def daemon(tmp_path: Path, state_dir: Path) -> Iterator[tuple[RunningDaemon, Path]]:
    """A running ``hutgw run`` and its config file."""
    port = free_port()
    config = write_config(tmp_path / "daemon", state_dir, api_port=str(port))
    d = RunningDaemon(config, port, tmp_path / "daemon.log")
    try:
        d.wait_ready()
        yield d, config
    finally:
        d.stop()
