"""systemd/99-hutgw-serial.rules: every known adapter is named and owned by dialout.

udevadm on the build machine has no offline verifier, so the rules are checked here: every
line parses as udev key/operator/value triples with known keys, labels and GOTOs match, and
the four adapter families are covered.
"""

from __future__ import annotations

import re
from pathlib import Path

RULES = Path(__file__).resolve().parents[2] / "systemd" / "99-hutgw-serial.rules"
TRIPLE = re.compile(r'\s*([A-Z_]+(?:\{[A-Za-z0-9_]+\})?)\s*(==|!=|\+=|:=|=)\s*"([^"]*)"\s*(?:,|$)')
MATCH_KEYS = {"ACTION", "SUBSYSTEM", "SUBSYSTEMS", "ENV", "ATTRS", "KERNEL"}
ASSIGN_KEYS = {"ENV", "GROUP", "MODE", "SYMLINK", "IMPORT", "GOTO", "LABEL"}


def rules() -> list[list[tuple[str, str, str]]]:
    out = []
    for raw in RULES.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        triples: list[tuple[str, str, str]] = []
        pos = 0
        while pos < len(line):
            m = TRIPLE.match(line, pos)
            assert m, f"cannot parse {line[pos:]!r} in {line!r}"
            triples.append(m.groups())
            pos = m.end()
        out.append(triples)
    return out


def test_every_rule_uses_known_keys_and_operators() -> None:
    for rule in rules():
        for key, op, _ in rule:
            base = key.split("{")[0]
            if op in ("==", "!="):
                assert base in MATCH_KEYS, key
            else:
                assert base in ASSIGN_KEYS, key


def test_gotos_reach_the_label() -> None:
    all_triples = [t for r in rules() for t in r]
    labels = {v for k, _, v in all_triples if k == "LABEL"}
    gotos = {v for k, _, v in all_triples if k == "GOTO"}
    assert gotos and gotos <= labels


def test_the_four_adapter_families_are_named() -> None:
    chips = {}
    for rule in rules():
        d = {k: v for k, _, v in rule}
        if "ENV{HUTGW_CHIP}" in d and "ENV{ID_VENDOR_ID}" in d:
            chips[d["ENV{HUTGW_CHIP}"]] = (d["ENV{ID_VENDOR_ID}"], d["ENV{ID_MODEL_ID}"].split("|"))
    assert chips["ftdi"] == ("0403", ["6001", "6010", "6011", "6014", "6015"])
    assert chips["pl2303"][0] == "067b" and "2303" in chips["pl2303"][1]
    assert chips["ch340"][0] == "1a86" and "7523" in chips["ch340"][1]
    assert chips["cp210x"][0] == "10c4" and "ea60" in chips["cp210x"][1]


def test_named_devices_go_to_dialout_with_hutgw_symlinks() -> None:
    assignments = [(k, v) for r in rules() for k, op, v in r if op in ("=", "+=")]
    assert ("GROUP", "dialout") in assignments
    links = [v for k, v in assignments if k == "SYMLINK"]
    assert links and all(v.startswith("hutgw-$env{HUTGW_CHIP}-") for v in links)
