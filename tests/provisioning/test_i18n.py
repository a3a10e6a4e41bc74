"""Messages in English and Simplified Chinese: language choice, catalog completeness, framing."""

from __future__ import annotations

import ast
import re
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


# --------------------------------------------------------------------------- Chinese all the way (issue 19)


def test_every_help_text_is_in_chinese() -> None:
    from provisioning import argv
    from provisioning.cli import build_parser

    with i18n.using("zh"):
        assert argv.untranslated(build_parser()) == []


def test_help_and_usage_errors_in_chinese(config: Path) -> None:
    done = hutgw("residents", "add", "--help", env={"LANG": "zh_CN.UTF-8"})
    assert done.returncode == 0
    assert done.stdout.startswith("用法：hutgw residents add")
    assert "县居民健康档案编号（不能用身份证号）" in done.stdout and "显示此帮助信息并退出" in done.stdout
    assert "show this help" not in done.stdout and "options:" not in done.stdout
    assert "\n选项：\n" in done.stdout and "\n登记一位居民\n" in done.stdout  # heading, what it does
    done = hutgw("--lang", "zh", "residents", "add", "--config", str(config))
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "hutgw residents add：错误：缺少必需的参数：ID, --name"


def test_config_field_errors_in_chinese(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "hutgw.toml"
    bad.write_text('[ble]\nenable = true\n[api]\nlisten = "x:99999"\n[uplink]\nbroker = "mqtt://h"\n')
    bad.write_text(bad.read_text() + '[uplink.tls]\nca_file = "/x.pem"\n')
    cli = Cli(capsys, bad)
    code, _, err = cli("config", "validate")
    assert code == 2
    assert "ble.enable: unknown field (did you mean `enabled`?)" in err
    assert "Extra inputs are not permitted" not in err
    code, _, err = cli("config", "validate", "--lang", "zh")
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"错误：{bad}：3 个字段无效")
    assert "  ble.enable：未知的配置项（您是不是要写 `enabled`？）" in lines
    assert "  api.listen：端口 '99999' 不是 1 到 65535 之间的数字" in lines
    assert any(line.startswith("  uplink：MQTT 服务器地址是 mqtt://（明文）") for line in lines), lines


def test_csv_rows_and_gbk_in_chinese(cli: Cli, tmp_path: Path) -> None:
    header = "resident_id,name,sex,birth_year,height_cm\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        header + "R002,张三,男,1948,165\nR003,,女,1950,150\nR004,李四,x,1700,999\n", encoding="utf-8"
    )
    code, _, err = cli("residents", "import", str(bad), "--lang", "zh")
    assert code == 3
    lines = err.strip().splitlines()
    assert lines[0] == "第 3 行（R003）：姓名：为空"
    assert (
        lines[1].startswith("第 4 行（R004）：性别：'x' 不是有效的性别") and "出生年份：1700 不在" in lines[1]
    )
    assert lines[2].startswith(f"错误：{bad}：2 行有错误，未导入任何数据（")
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes((header + "R005,王五,男,1950,160\n").encode("gbk"))
    code, _, err = cli("residents", "import", str(gbk))
    assert code == 3 and "looks like GBK" in err and "CSV UTF-8" in err and "iconv -f GBK" in err
    code, _, err = cli("residents", "import", str(gbk), "--lang", "zh")
    assert code == 3 and "看起来是 GBK 编码" in err and "另存为" in err


def display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def test_residents_list_in_chinese_lines_up(cli: Cli) -> None:
    for rid, name, sex in (("R001", "王秀英", "女"), ("R002", "欧阳建国", "男"), ("R003", "Li", "unknown")):
        code, out, err = cli("residents", "add", rid, "--name", name, "--sex", sex, "--lang", "zh")
        assert code == 0, err
        assert out.strip() == f"已登记居民 {rid}（{name}）"
    code, out, _ = cli("residents", "list", "--lang", "zh")
    header, *rows = out.splitlines()
    assert header.split() == ["编号", "姓名", "性别", "出生年份", "身高", "卡号", "监护人"]
    assert [r.split()[2] for r in rows] == ["女", "男", "未知"]
    # the third and fourth columns start at the same display column on every line
    for columns in (2, 3):
        pattern = re.compile(r"^(?:\S+\s+){" + str(columns) + "}")
        starts = {display_width(m.group(0)) for m in map(pattern.match, [header, *rows]) if m}
        assert len(starts) == 1, out
    code, out, _ = cli("residents", "remove", "R003", "--lang", "zh")
    assert out.strip() == "已移除居民 R003"
    code, out, _ = cli("residents", "list")
    assert out.splitlines()[0].split()[:3] == ["ID", "NAME", "SEX"] and "female" in out


def test_geofence_list_in_chinese(cli: Cli, tmp_path: Path) -> None:
    cli("residents", "add", "R001", "--name", "王秀英")
    fence = tmp_path / "home.geojson"
    fence.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "家", '
        '"kind": "safe", "radius_m": 300}, "geometry": {"type": "Point", "coordinates": [116.39, 39.9]}}]}',
        encoding="utf-8",
    )
    code, out, err = cli("geofence", "import", "R001", str(fence), "--lang", "zh")
    assert code == 0, err
    assert out.strip() == "已为 R001 导入 1 个区域：家"
    code, out, _ = cli("geofence", "list", "--lang", "zh")
    assert out.strip() == "R001\t家\t安全区\t圆形 半径 300 米\t全天\t（坐标系 wgs84）"
    code, out, _ = cli("geofence", "remove", "R001", "--lang", "zh")
    assert out.strip() == "已移除 R001 的 1 个区域"
    code, _, err = cli("geofence", "remove", "R001", "--lang", "zh")
    assert code == 5 and err.startswith("错误：居民 'R001' 没有任何区域")


def test_no_broker_is_a_proxy_and_no_profile_is_a_config_file() -> None:
    for key, entry in i18n.CATALOG.items():
        assert "代理服务器" not in entry["zh"], key
        if "profile" in key or "profile" in entry["en"].lower():
            assert "配置文件" not in entry["zh"], key
