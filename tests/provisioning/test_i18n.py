"""Messages in English and Simplified Chinese: language choice, catalog completeness, framing."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from gateway.registry import UnknownEntryError
from hutgw_errors import HutError
from provisioning import i18n
from provisioning.errors import EXIT_NOT_FOUND
from provisioning.i18n import CATALOG, detect, frame_error, localize_error, t, using
from tests.provisioning.clihelp import Cli, hutgw

PACKAGE = Path(__file__).resolve().parents[2] / "provisioning"


@pytest.mark.parametrize(
    ("flag", "env", "lang"),
    [
        (None, {}, "en"),
        (None, {"LANG": "zh_CN.UTF-8"}, "zh"),
        (None, {"LANG": "zh_TW.UTF-8"}, "zh"),
        (None, {"LANG": "en_US.UTF-8"}, "en"),
        (None, {"LANG": "C.UTF-8"}, "en"),
        (None, {"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "zh"),
        (None, {"LC_ALL": "en_GB.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8", "LANG": "zh_CN"}, "en"),
        (None, {"LC_ALL": "", "LANG": "zh_CN"}, "zh"),  # an empty variable does not count
        ("en", {"LC_ALL": "zh_CN.UTF-8"}, "en"),
        ("zh", {"LANG": "en_US.UTF-8"}, "zh"),
    ],
)
def test_language_choice(flag: str | None, env: dict[str, str], lang: str) -> None:
    assert detect(flag, env) == lang


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_entry_has_both_languages_with_the_same_placeholders() -> None:
    for key, entry in CATALOG.items():
        assert set(entry) == {"en", "zh"}, key
        assert entry["en"].strip() and entry["zh"].strip(), key
        assert _placeholders(entry["en"]) == _placeholders(entry["zh"]), key


def _keys_used_in_code() -> tuple[set[str], set[str]]:
    """Literal keys of t("...") calls, and the prefixes of t(f"prefix.{...}") calls."""
    literal: set[str] = set()
    prefixes: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t"):
                continue
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                literal.add(arg.value)
            elif isinstance(arg, ast.JoinedStr) and isinstance(arg.values[0], ast.Constant):
                prefixes.add(str(arg.values[0].value))
    return literal, prefixes


def test_every_key_used_in_the_code_is_in_the_catalog() -> None:
    literal, prefixes = _keys_used_in_code()
    assert len(literal) > 100  # the scan finds the commands' messages
    assert sorted(literal - set(CATALOG)) == []
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in CATALOG), prefix
    for kind in ("not_yet_valid", "expired"):
        assert f"enroll.{kind}" in CATALOG
    for link in ("ble", "serial", "watch"):
        assert f"devices.transport.{link}" in CATALOG


def test_translate_with_parameters() -> None:
    with using("en"):
        assert t("devices.removed", id="cuff-1") == "removed device cuff-1"
    with using("zh"):
        assert t("devices.removed", id="cuff-1") == "已移除设备 cuff-1"
    assert i18n.current() == "en"
    with pytest.raises(KeyError):
        t("no.such.key")


def test_error_framing() -> None:
    with using("en"):
        assert frame_error("bad thing", "do this") == "error: bad thing (do this)"
        assert frame_error("bad thing", None) == "error: bad thing"
    with using("zh"):
        assert frame_error("坏事", "这样做") == "错误：坏事（这样做）"


def test_other_layers_messages_are_translated_by_pattern() -> None:
    """Each English message pattern matches its own English template, so every translation
    stays reachable when the English text changes."""
    for pattern, key in i18n._MESSAGE_PATTERNS:
        params = {name: f"X{n}" for n, name in enumerate(sorted(_placeholders(CATALOG[key]["en"])))}
        params = {k: ("7" if k == "n" else v) for k, v in params.items()}
        english = CATALOG[key]["en"].format(**params)
        assert pattern.match(english), (key, english)
        with using("zh"):
            assert i18n.localize_message(english) == CATALOG[key]["zh"].format(**params)
    for hint, key in i18n._HINTS.items():
        assert CATALOG[key]["en"] == hint
    err = UnknownEntryError("no resident 'R9' in the registry", hint="see `hutgw residents list`")
    with using("zh"):
        assert localize_error(err) == ("登记册中没有居民 'R9'", "请查看 `hutgw residents list`")
    with using("en"):
        assert localize_error(err) == ("no resident 'R9' in the registry", "see `hutgw residents list`")
    with using("zh"):  # an unknown message stays as it is, inside the Chinese frame
        assert localize_error(HutError("disk on fire")) == ("disk on fire", None)


def test_lang_option_in_process(cli: Cli) -> None:
    code, _, err = cli("devices", "remove", "cuff-9", "--lang", "zh")
    assert code == EXIT_NOT_FOUND and err.startswith("错误：") and "没有登记册" in err
    cli("residents", "add", "R1", "--name", "李四")
    code, _, err = cli("devices", "remove", "cuff-9", "--lang", "zh")
    assert code == EXIT_NOT_FOUND
    assert err.strip() == "错误：登记册中没有设备 'cuff-9'（请查看 `hutgw devices list`）"


def test_lang_from_the_environment_in_a_subprocess(cli: Cli, config: Path) -> None:
    assert cli("residents", "add", "R1", "--name", "李四")[0] == 0
    done = hutgw("residents", "remove", "R404", "--config", str(config), env={"LANG": "zh_CN.UTF-8"})
    assert done.returncode == EXIT_NOT_FOUND
    assert done.stderr.strip() == "错误：登记册中没有居民 'R404'（请查看 `hutgw residents list`）"
    done = hutgw(
        "residents", "remove", "R404", "--config", str(config), "--lang", "en", env={"LC_ALL": "zh_CN.UTF-8"}
    )
    assert done.returncode == EXIT_NOT_FOUND
    assert done.stderr.startswith("error: no resident 'R404' in the registry")
