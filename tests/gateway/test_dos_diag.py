"""Watch ids stay out of the support bundle (issue 17 item 12): a watch is identified only by
its id, so the bundle shows them masked -- in the journal, the status and the quarantine tail."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from gateway.registry import DeviceEntry, Registry
from provisioning.commands.diag import mask_ids
from provisioning.errors import EXIT_OK
from tests.provisioning.clihelp import hutgw
from tests.provisioning.test_diag import read_bundle, write_config

WATCH_ID = "8800000015"


def test_mask_ids_masks_every_occurrence_longest_first() -> None:
    data = b"watch 8800000015 and 88000000151 and 8800000015"
    assert mask_ids(data, ["8800000015", "88000000151"]) == (
        b"watch ******0015 and *******0151 and ******0015"
    )


def test_the_support_bundle_masks_watch_ids(tmp_path: Path, state_dir: Path) -> None:
    config = write_config(tmp_path, state_dir)
    with Registry(state_dir / "registry.db") as reg:
        reg.add_device(DeviceEntry(id="watch-grandma", profile="watch.tcp", address=WATCH_ID))
    (state_dir / "quarantine.jsonl").write_text(
        json.dumps(
            {
                "at": "2026-11-29T08:00:00+00:00",
                "device": WATCH_ID,
                "profile": "watch.tcp",
                "error": "malformed: bad length",
                "hex": "5b5d",
            }
        )
        + "\n"
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "journalctl"
    exe.write_text(
        f"#!{sys.executable}\n"
        f"print('2026-11-29T08:00:00+0800 hut hutgw[1]: INFO hutgw.core: [{WATCH_ID}] link connected')\n"
    )
    exe.chmod(0o755)
    out = tmp_path / "support.tar.gz"
    done = hutgw(
        "diag",
        "bundle",
        "--out",
        str(out),
        "--config",
        str(config),
        "--json",
        env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
    )
    assert done.returncode == EXIT_OK, done.stderr
    files = read_bundle(out)
    everything = b"\n".join(files.values())
    assert WATCH_ID.encode() not in everything
    assert b"******0015" in files["hutgw-diag/logs/journal.txt"]
    assert b"******0015" in files["hutgw-diag/quarantine.jsonl"]
    assert b"******0015" in files["hutgw-diag/status.json"]
