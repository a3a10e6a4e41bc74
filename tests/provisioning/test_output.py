"""The one output helper: JSON for scripts, tables for people, progress only on a terminal."""

from __future__ import annotations

import io
import json

from provisioning.output import Output


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_mode_prints_one_document_and_no_lines() -> None:
    out, err = io.StringIO(), io.StringIO()
    o = Output(json_mode=True, stdout=out, stderr=err)
    o.line("not for scripts")
    o.result({"a": [1, "二"]}, lambda _: (_ for _ in ()).throw(AssertionError("human output in --json")))
    assert json.loads(out.getvalue()) == {"a": [1, "二"]}
    assert out.getvalue().count("\n") == 1 and err.getvalue() == ""


def test_tables_print_data_as_it_is() -> None:
    out = io.StringIO()
    o = Output(json_mode=False, stdout=out, stderr=io.StringIO())
    o.result(None, lambda o: o.table(["ID", "NAME"], [("R001", "[red]王秀英[/red]"), ("R002", None)]))
    text = out.getvalue()
    assert "[red]王秀英[/red]" in text  # markup is never interpreted: names are shown verbatim
    assert "\x1b[" not in text  # no colour codes into a pipe
    assert text.splitlines()[2].split() == ["R002", "-"]


def test_progress_only_on_a_terminal() -> None:
    err = Terminal()
    o = Output(json_mode=False, stdout=io.StringIO(), stderr=err)
    with o.progress("waiting", total=2) as ticker:
        ticker.advance(1)
        ticker.advance(1)
    assert "waiting" in err.getvalue()
    piped = io.StringIO()
    o = Output(json_mode=False, stdout=io.StringIO(), stderr=piped)
    with o.progress("waiting", total=2) as ticker:
        ticker.advance(2)
    assert piped.getvalue() == ""
    err = Terminal()
    o = Output(json_mode=True, stdout=io.StringIO(), stderr=err)
    with o.progress("waiting") as ticker:
        ticker.advance()
    assert err.getvalue() == ""


def test_the_technician_commands_load_heavy_libraries_only_when_run() -> None:
    """Building the CLI (every `hutgw` call) must not pay for Bluetooth, HTTP, PKI or the outbox."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import provisioning.cli\n"
        "from provisioning.commands import devices, diag, enroll, init, status\n"
        "heavy = ('aiohttp', 'bleak', 'cryptography', 'buffer.outbox')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
