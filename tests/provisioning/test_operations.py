"""Everyday operations of a hut (issue 19): one daemon per state folder, a port somebody else
holds, where the running daemon listens (``runtime.json``, ``hutgw status``), files rewritten
with their owner, group and mode — each as a technician meets it, with one sentence and a
documented exit code instead of a traceback."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioning import configfile
from provisioning.atomicfile import write_atomic
from provisioning.errors import EXIT_CONFLICT, EXIT_OK
from tests.provisioning.clihelp import REPO, Cli, RunningDaemon, write_config
from tests.support.broker import free_port

DAEMON = (sys.executable, "-m", "provisioning.entry", "run")


def run_daemon(config: Path, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``hutgw run`` that is expected to refuse to start (returns when it exits)."""
    return subprocess.run(
        [*DAEMON, "--config", str(config), *extra],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=timeout,
        check=False,
    )


def one_sentence(err: str) -> str:
    assert "Traceback" not in err and "ExceptionGroup" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and lines[0].endswith(")"), err
    return lines[0]


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port another program listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.fixture
def running(tmp_path: Path, state_dir: Path) -> Iterator[tuple[RunningDaemon, Path]]:
    port = free_port()
    config = write_config(tmp_path / "first", state_dir, api_port=str(port))
    d = RunningDaemon(config, port, tmp_path / "first.log")
    try:
        d.wait_ready()
        yield d, config
    finally:
        d.stop()


def test_a_second_daemon_on_the_same_state_folder_refuses(
    tmp_path: Path, state_dir: Path, running: tuple[RunningDaemon, Path]
) -> None:
    first, _ = running
    second = write_config(tmp_path / "second", state_dir)  # another API port, same folder
    done = run_daemon(second)
    assert done.returncode == EXIT_CONFLICT, done.stderr
    line = one_sentence(done.stderr)
    assert f"hutgw is already running on {state_dir}, pid {first.proc.pid}" in line
    assert first.proc.poll() is None and first.health()["gateway_id"] == "hut-test"


def test_the_lock_goes_with_the_daemon(tmp_path: Path, state_dir: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, state_dir, api_port=str(port))
    for n in range(2):  # stopped, the next one starts on the same folder
        d = RunningDaemon(config, port, tmp_path / f"run{n}.log")
        try:
            d.wait_ready()
        finally:
            d.stop()
        assert d.proc.returncode == 0


def test_api_port_in_use_is_one_sentence(tmp_path: Path, state_dir: Path, held_port: int) -> None:
    config = write_config(tmp_path, state_dir, api_port=str(held_port))
    done = run_daemon(config)
    assert done.returncode == EXIT_CONFLICT, done.stderr
    line = one_sentence(done.stderr)
    assert f"the API address 127.0.0.1:{held_port} is already in use" in line and "--api" in line


def test_watch_port_in_use_is_one_sentence(tmp_path: Path, state_dir: Path, held_port: int) -> None:
    config = write_config(tmp_path, state_dir)
    config.write_text(config.read_text() + f'[watch]\nlisten = "127.0.0.1:{held_port}"\n')
    done = run_daemon(config)
    assert done.returncode == EXIT_CONFLICT, done.stderr
    line = one_sentence(done.stderr)
    assert f"the watch address 127.0.0.1:{held_port} is already in use" in line
    assert "[watch] listen" in line
    assert not (state_dir / "runtime.json").exists()


def test_status_finds_a_daemon_started_with_other_addresses(
    tmp_path: Path, state_dir: Path, capsys: pytest.CaptureFixture[str], broker: object
) -> None:
    """``hutgw run --api ... --broker ...`` overrides the file; ``status`` still finds it."""
    from tests.support.broker import Broker

    assert isinstance(broker, Broker)
    config = write_config(tmp_path, state_dir)  # names another API port than the daemon uses
    port = free_port()
    url = f"mqtt://127.0.0.1:{broker.port}"
    d = RunningDaemon.__new__(RunningDaemon)
    d.url, d.log_path = f"http://127.0.0.1:{port}", tmp_path / "run.log"
    d._log = d.log_path.open("wb")
    d.proc = proc = subprocess.Popen(
        [*DAEMON, "--config", str(config), "--api", f"127.0.0.1:{port}", "--broker", url],
        stdout=d._log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    try:
        d.wait_ready()
        d.until(lambda h: bool((h.get("uplink") or {}).get("connected")))
        runtime = json.loads((state_dir / "runtime.json").read_text())
        assert runtime["pid"] == proc.pid and runtime["api"] == f"127.0.0.1:{port}"
        assert runtime["broker"] == url and runtime["watch"] is None
        cli = Cli(capsys, config)
        code, out, err = cli("status", "--json")
        assert code == EXIT_OK, err
        s = json.loads(out)
        assert s["source"] == "daemon" and s["api"] == f"http://127.0.0.1:{port}"
        assert s["uplink"]["enabled"] is True and s["uplink"]["broker"] == url
        assert s["uplink"]["connected"] is True
    finally:
        d.stop()
    assert not (state_dir / "runtime.json").exists()  # gone with the daemon


def test_status_takes_api(running: tuple[RunningDaemon, Path], capsys: pytest.CaptureFixture[str]) -> None:
    d, config = running
    (Path(json.loads(config.read_text().split("state_dir = ")[1].split("\n")[0])) / "runtime.json").unlink()
    other = config.with_name("other.toml")
    other.write_text(config.read_text().replace(d.url.rpartition(":")[2], str(free_port())))
    cli = Cli(capsys, other)
    code, out, _ = cli("status", "--json")
    assert json.loads(out)["source"] == "state_files"  # the file names a port nobody answers on
    code, out, err = cli("status", "--json", "--api", d.url.removeprefix("http://"))
    assert code == EXIT_OK, err
    assert json.loads(out)["source"] == "daemon"


# --------------------------------------------------------------------------- files keep owner and mode


def test_a_rewritten_file_keeps_owner_group_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "hutgw.toml"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    group = 65534 if os.geteuid() == 0 else os.getegid()  # root:nogroup, as root:hutgw
    os.chown(path, 0 if os.geteuid() == 0 else os.geteuid(), group)
    write_atomic(path, b"new", 0o600)
    st = path.stat()
    assert path.read_bytes() == b"new"
    assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o640, group)
    assert [p.name for p in tmp_path.iterdir()] == ["hutgw.toml"]  # no temporary file left
    fresh = tmp_path / "new.key"
    write_atomic(fresh, b"k", 0o600)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_config_rewrite_keeps_the_service_group(tmp_path: Path, state_dir: Path) -> None:
    """``hutgw enroll`` as root rewrites the config; the service (group hutgw) can still read it."""
    config = write_config(tmp_path, state_dir)
    os.chown(config, 0, 65534)
    os.chmod(config, 0o640)
    data = configfile.read_raw(config)
    data["uplink"] = {"tls": {"ca_file": str(tmp_path / "ca.pem")}}
    configfile.write(config, data)
    st = config.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 65534, 0o640)
    assert "ca_file" in config.read_text()


def test_streamed_outputs_keep_owner_group_and_mode(tmp_path: Path) -> None:
    """An export or a support bundle written over an existing file (``--force``) keeps what the
    old file had."""
    from provisioning.atomicfile import replace_keeping

    target = tmp_path / "export.jsonl.gz"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    group = 65534 if os.geteuid() == 0 else os.getegid()
    os.chown(target, os.geteuid(), group)
    tmp = tmp_path / "export.jsonl.gz.part"
    tmp.write_bytes(b"new")
    os.chmod(tmp, 0o600)
    replace_keeping(tmp, target)
    st = target.stat()
    assert (target.read_bytes(), stat.S_IMODE(st.st_mode), st.st_gid) == (b"new", 0o640, group)
