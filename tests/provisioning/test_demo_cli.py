"""``hutgw demo`` as ``make demo`` runs it: output to a pipe, stopped with Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from provisioning.errors import EXIT_OK
from tests.provisioning.clihelp import REPO


def test_demo_into_a_pipe_shows_progress_and_stops_in_order_on_ctrl_c() -> None:
    """Not a terminal: progress lines, then on Ctrl-C (to the whole process group, as a terminal
    sends it) the summary; the broker outlives the gateway, so the uplink does not complain."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "provisioning.cli", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        start_new_session=True,  # its own process group: the Ctrl-C below reaches all of it
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("hut-gateway demo: kiosk/API http://127.0.0.1:"), first
        progress = proc.stdout.readline()  # within PROGRESS_EVERY_S
        assert " readings made, " in progress and "stored by the county" in progress, progress
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == EXIT_OK, err
    assert out.splitlines()[-1].startswith("readings made: "), out
    uplink = [line for line in err.splitlines() if "hutgw.uplink" in line and "not authenticated" not in line]
    assert uplink == [], err
    assert "Traceback" not in err


def test_quiet_demo_prints_only_the_summary() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "provisioning.cli", "demo", "--duration", "3", "--quiet", "--lang", "zh"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.stderr == ""
    assert done.stdout.startswith("产生的测量数据：") and "县里已保存" in done.stdout
    assert len(done.stdout.splitlines()) == 1


def test_log_lines_go_above_the_live_table_not_between_copies_of_it() -> None:
    """A rejected garbage line is logged while the table is live: through the live display
    (printed above the table, which is then redrawn once), not straight to the terminal (which
    leaves a stale copy of the table and its header behind)."""
    import io
    import logging

    from rich.console import Console

    from devtools.demo import Board, LiveView

    terminal = io.StringIO()
    elsewhere = io.StringIO()
    handler = logging.StreamHandler(elsewhere)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        view = LiveView(
            Board(), "http://127.0.0.1:1", "mqtt://127.0.0.1:2", Console(file=terminal, force_terminal=True)
        )
        with view.live():
            logging.getLogger("hutgw.core").warning("tanita.serial frame rejected")
        assert "frame rejected" in terminal.getvalue()
        assert elsewhere.getvalue() == ""
        assert handler.stream is elsewhere  # given back afterwards
    finally:
        root.removeHandler(handler)


def test_progress_lines_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    from provisioning import i18n
    from provisioning.commands.demo import _say

    counts = {"gateway_readings": 7, "county_readings": 6, "decode_errors": 1, "garbage_sent": 1}
    with i18n.using("zh"):
        _say("started", {"api_url": "http://127.0.0.1:8080", "broker": "mqtt://127.0.0.1:1883"})
        _say("progress", {"elapsed_s": 10.0, **counts})
    assert capsys.readouterr().out.splitlines() == [
        "hut-gateway 演示：自助终端/API http://127.0.0.1:8080，"
        "MQTT 服务器 mqtt://127.0.0.1:1883（按 Ctrl-C 停止）",
        "  10 秒：产生 7 条测量数据，县里已保存 6 条，拒收乱码 1 行",
    ]
