"""Messages of the technician CLI in English and Simplified Chinese.

The language is chosen once per command by :func:`detect`: ``--lang en|zh`` first, then the
POSIX locale variables (``LC_ALL``, ``LC_MESSAGES``, ``LANG``, in that order): a value
starting with ``zh`` selects Chinese, anything else English. ``hutgw`` sets it for the
duration of a command (:func:`using`); command modules then call ``t("key", **params)``.

Every message lives in :data:`CATALOG` (``key -> {"en": ..., "zh": ...}``, ``str.format``
placeholders). Errors raised by other layers carry English text; :func:`localize_error`
translates the common ones (by their message pattern) and :func:`frame_error` puts the
``error:`` / ``错误：`` frame around them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Literal

from hutgw_errors import HutError

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")

_CURRENT: ContextVar[Lang] = ContextVar("hutgw_lang", default="en")


def detect(flag: str | None, environ: Mapping[str, str]) -> Lang:
    """``--lang`` wins; otherwise the first set of LC_ALL, LC_MESSAGES, LANG decides."""
    if flag in LANGS:
        return "zh" if flag == "zh" else "en"
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def current() -> Lang:
    return _CURRENT.get()


@contextlib.contextmanager
def using(lang: Lang) -> Iterator[Lang]:
    token = _CURRENT.set(lang)
    try:
        yield lang
    finally:
        _CURRENT.reset(token)


def t(key: str, /, **params: Any) -> str:
    """The message ``key`` in the current language, with ``params`` filled in.

    An unknown key is a programming error (``KeyError``): tests check that every key used in
    the code exists in both languages.
    """
    entry = CATALOG[key]
    text = entry.get(current()) or entry["en"]
    return text.format(**params) if params else text


# --------------------------------------------------------------------------- error framing


def frame_error(message: str, hint: str | None) -> str:
    """``error: message (hint)`` / ``错误：message（hint）``."""
    if hint:
        return t("error.frame_hint", message=message, hint=hint)
    return t("error.frame", message=message)


#: English messages of other layers' errors -> catalog key (named groups become params).
_MESSAGE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), k)
    for p, k in (
        (r"^no resident '(?P<id>.+)' in the registry$", "err.no_resident"),
        (r"^no device '(?P<id>.+)' in the registry$", "err.no_device"),
        (r"^resident (?P<id>\S+) is already registered$", "err.resident_exists"),
        (r"^device (?P<id>\S+) is already registered$", "err.device_exists"),
        (r"^address (?P<address>\S+) already belongs to device (?P<device>\S+)$", "err.address_taken"),
        (r"^card number already used by resident (?P<id>\S+)$", "err.card_taken"),
        (r"^resident (?P<id>\S+) still has device\(s\) (?P<devices>.+)$", "err.resident_in_use"),
        (r"^config file (?P<path>.+) does not exist$", "err.config_missing"),
        (r"^(?P<source>.+): (?P<n>\d+) invalid field\(s\)$", "err.config_invalid"),
        (r"^(?P<path>.+) is not valid TOML: (?P<reason>.+)$", "err.config_not_toml"),
        (r"^cannot read (?P<path>.+?): (?P<reason>.+)$", "err.cannot_read"),
        (r"^(?P<path>.+): (?P<n>\d+) bad row\(s\), nothing imported$", "err.csv_bad_rows"),
        (r"^the CSV file is empty$", "err.csv_empty"),
        (r"^line 1: missing column\(s\) (?P<columns>.+)$", "err.csv_missing_columns"),
        (r"^unknown profile '(?P<name>.+)'$", "err.unknown_profile"),
        (r"^no registry at (?P<path>.+)$", "err.no_registry"),
        (r"^no outbox at (?P<path>.+)$", "err.no_outbox"),
        (r"^(?P<path>.+): not UTF-8 \(byte (?P<byte>\S+)\)$", "err.not_utf8"),
    )
)

_HINTS: Mapping[str, str] = {
    "see `hutgw residents list`": "hint.see_residents",
    "see `hutgw devices list`": "hint.see_devices",
    "check the card number": "hint.check_card",
    "create it or run `hutgw init`": "hint.create_config",
    "fix the listed fields and run `hutgw config validate FILE`": "hint.fix_config",
    "fix that line: text in quotes, [section] on a line of its own, one key = value a line": "hint.fix_toml",
    "correct the named field(s) and try again": "hint.correct_fields",
    "add the resident(s) first": "hint.add_residents_first",
    "fix the listed rows, or use --skip-bad to import the good ones": "hint.fix_rows",
    "unbind or remove those devices first": "hint.unbind_devices",
    "check the file name": "hint.check_file_name",
    "save it as 'CSV UTF-8' (Excel and WPS save GBK by default)": "hint.save_utf8",
    "check --state-dir (the daemon creates the outbox)": "hint.outbox_state_dir",
    "check --state-dir; `hutgw residents add` or `hutgw residents import` creates it": (
        "hint.registry_state_dir"
    ),
}


def localize_message(message: str) -> str:
    if current() == "en":
        return message
    refused = re.match(r"^resident (?P<id>\S+) refused: (?P<fields>.+)$", message)
    if refused:
        parts = [p.partition(": ") for p in refused.group("fields").split("; ")]
        fields = "；".join(localize_field(k, v) for k, _, v in parts)
        return t("err.resident_refused", id=refused.group("id"), fields=fields)
    for pattern, key in _MESSAGE_PATTERNS:
        m = pattern.match(message)
        if m:
            return t(key, **m.groupdict())
    return message


def localize_hint(hint: str | None) -> str | None:
    if hint is None or current() == "en":
        return hint
    if hint in _HINTS:
        return t(_HINTS[hint])
    if hint.startswith("known profiles: "):
        return t("hint.known_profiles", names=hint.removeprefix("known profiles: "))
    return hint


#: pydantic's English (after "Input should be ...") and the validators' own -> Chinese.
_FIELD_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), z)
    for p, z in (
        (r"^Input should be greater than or equal to (?P<n>\S+)$", "应不小于 {n}"),
        (r"^Input should be greater than (?P<n>\S+)$", "应大于 {n}"),
        (r"^Input should be less than or equal to (?P<n>\S+)$", "应不大于 {n}"),
        (r"^Input should be less than (?P<n>\S+)$", "应小于 {n}"),
        (r"^Input should be a valid integer.*$", "应为整数"),
        (r"^Input should be a valid number.*$", "应为数字"),
        (r"^Input should be a valid boolean.*$", "应为 true 或 false"),
        (r"^Input should be a valid string.*$", "应为文本（放在引号里）"),
        (r"^Input should be a valid (dictionary|list|array|tuple).*$", "格式不对（应为表格或列表）"),
        (r"^Input should be (?P<choices>'.+')$", "只能是 {choices}"),
        (r"^Field required$", "缺少此项"),
        (r"^String should match pattern '(?P<pattern>.+)'$", "格式不对（应符合 {pattern}）"),
        (
            r"^port '(?P<port>.*)' is not a number between 1 and 65535$",
            "端口 '{port}' 不是 1 到 65535 之间的数字",
        ),
        (r"^expected HOST:PORT$", "格式应为 主机:端口"),
        (
            r"^broker must start with mqtt:// or mqtts://$",
            "MQTT 服务器地址必须以 mqtt:// 或 mqtts:// 开头",
        ),
        (r"^broker URL has no host$", "MQTT 服务器地址缺少主机名"),
        (
            r"^broker is mqtt:// \(plain text\) but \[uplink.tls\] files are set.*$",
            "MQTT 服务器地址是 mqtt://（明文），但配置了 [uplink.tls] 证书文件：请改用 mqtts://主机:8883，"
            "或删除 [uplink.tls]",
        ),
        (
            r"^required when api.listen \((?P<listen>.+)\) is reachable from other machines$",
            ("api.listen（{listen}）可被其他机器访问时必须设置"),
        ),
        (r"^(?P<file>.+) does not exist$", "文件 {file} 不存在"),
        (r"^unknown time zone (?P<tz>.+) \(e.g. Asia/Shanghai\)$", "未知的时区 {tz}（如 Asia/Shanghai）"),
    )
)


def localize_problem(problem: Any) -> str:
    """One invalid config field (``gateway.config.FieldProblem``) in the current language."""
    if current() == "en":
        return str(problem)
    if problem.kind == "extra_forbidden":
        if problem.suggestion:
            return t("config.unknown_field_meant", path=problem.path, meant=problem.suggestion)
        return t("config.unknown_field", path=problem.path)
    for pattern, text in _FIELD_MESSAGES:
        m = pattern.match(problem.message)
        if m:
            return f"{problem.path}：{text.format(**m.groupdict())}"
    return f"{problem.path}：{problem.message}"


def localize_details(error: HutError) -> list[str]:
    """The lines below an error (``ConfigError.errors``, one per invalid field) in the current
    language."""
    problems = getattr(error, "problems", None)
    if isinstance(problems, list):
        return [localize_problem(p) for p in problems]
    details = getattr(error, "errors", None)
    return [str(x) for x in details] if isinstance(details, list | tuple) else []


_FIELD_NAMES: Mapping[str, str] = {
    "resident_id": "居民编号",
    "name": "姓名",
    "sex": "性别",
    "birth_year": "出生年份",
    "height_cm": "身高",
    "guardians": "监护人",
    "guardian_phone": "监护人电话",
    "card_number": "卡号",
    "consent": "同意上传",
}

#: the registry's English problems with a field -> Chinese (named groups become parameters).
_ROW_PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), z)
    for p, z in (
        (r"^.+ is empty$", "为空"),
        (r"^looks like a national ID number.*$", "看起来是身份证号：请用县居民健康档案编号，不能用身份证号"),
        (
            r"^.+ (?P<v>'.*') may only hold letters, digits.*$",
            "{v} 只能包含字母、数字、'.'、'_' 和 '-'（最多 64 个）",
        ),
        (r"^name must be at most 100 printable characters$", "姓名最多 100 个字符"),
        (r"^(?P<v>'.*') is not one of male, female, other, unknown.*$", "{v} 不是有效的性别（填 男 或 女）"),
        (r"^(?P<v>'.*') is not a year$", "{v} 不是年份"),
        (r"^(?P<v>\S+) is not between (?P<a>\S+) and (?P<b>\S+)$", "{v} 不在 {a} 到 {b} 之间"),
        (r"^(?P<v>\S+) cm is not between (?P<a>\S+) and (?P<b>\S+)$", "{v} 厘米不在 {a} 到 {b} 厘米之间"),
        (r"^(?P<v>'.*') is not a number$", "{v} 不是数字"),
        (r"^(?P<v>'.*') is neither a phone number nor a resident id$", "{v} 既不是电话号码也不是居民编号"),
        (r"^card number must be at most 64 printable characters$", "卡号最多 64 个字符"),
        (r"^(?P<v>'.*') is not yes/no$", "{v} 不是 是/否"),
        (r"^duplicate: also on line (?P<n>\d+)$", "重复：第 {n} 行也是它"),
        (r"^already registered \(use --update.*\)$", "已经登记（如需覆盖已登记的居民请加 --update）"),
        (r"^already used by resident (?P<id>\S+)$", "已被居民 {id} 使用"),
    )
)


def localize_field(field: str, problem: str) -> str:
    """``field: problem`` of a resident or CSV row in the current language."""
    if current() == "en":
        return f"{field}: {problem}"
    name = _FIELD_NAMES.get(field, field)
    for pattern, text in _ROW_PROBLEMS:
        m = pattern.match(problem)
        if m:
            return f"{name}：{text.format(**m.groupdict())}"
    return f"{name}：{problem}"


def localize_bad_row(line: int, resident_id: str | None, errors: Mapping[str, str]) -> str:
    """``line N (ID): field: problem; ...`` (``第 N 行（ID）：字段：问题；...``)."""
    sep = "; " if current() == "en" else "；"
    fields = sep.join(localize_field(k, v) for k, v in errors.items())
    if resident_id:
        return t("csv.row_of", line=line, id=resident_id, fields=fields)
    return t("csv.row", line=line, fields=fields)


def localize_error(error: HutError) -> tuple[str, str | None]:
    """The error's message and hint in the current language (English text stays as it is when
    no translation is known)."""
    return localize_message(error.message), localize_hint(error.hint)


# --------------------------------------------------------------------------- the catalog

CATALOG: Mapping[str, Mapping[Lang, str]] = {
    # framing and common errors
    "error.frame": {"en": "error: {message}", "zh": "错误：{message}"},
    "error.frame_hint": {"en": "error: {message} ({hint})", "zh": "错误：{message}（{hint}）"},
    "warning.frame": {"en": "warning: {message}", "zh": "警告：{message}"},
    "error.interrupted": {"en": "interrupted", "zh": "已中断"},
    "error.permission": {
        "en": "{path}: permission denied for user {user}",
        "zh": "{path}：用户 {user} 没有权限",
    },
    "error.permission_hint": {
        "en": "run it with sudo, or as a member of the hutgw group (sudo usermod -aG hutgw {user}, then log "
        "in again); or give --config and --state-dir you may use",
        "zh": "请用 sudo 运行，或加入 hutgw 组（sudo usermod -aG hutgw {user}，然后重新登录）；"
        "或用 --config 和 --state-dir 指定有权限的文件和目录",
    },
    "error.read_only": {"en": "{path}: the file system is read-only", "zh": "{path}：文件系统是只读的"},
    "error.read_only_hint": {
        "en": "give a --state-dir on a writable disk (or remount it read-write)",
        "zh": "请用 --state-dir 指定可写磁盘上的目录（或把该磁盘重新挂载为可写）",
    },
    "error.os": {"en": "{path}: {reason}", "zh": "{path}：{reason}"},
    "error.os_hint": {
        "en": "check the file and the disk (df -h), then retry",
        "zh": "请检查该文件和磁盘空间（df -h），然后重试",
    },
    # argparse (usage errors and help headings)
    "argparse.usage": {"en": "usage: ", "zh": "用法："},
    "argparse.positionals": {"en": "positional arguments", "zh": "位置参数"},
    "argparse.options": {"en": "options", "zh": "选项"},
    "argparse.global_options": {
        "en": "options of every command (before or after it)",
        "zh": "所有命令通用的选项（放在命令前后均可）",
    },
    "argparse.help": {"en": "show this help message and exit", "zh": "显示此帮助信息并退出"},
    "argparse.error": {"en": "{prog}: error: {message}", "zh": "{prog}：错误：{message}"},
    "argparse.did_you_mean": {"en": " (did you mean {meant}?)", "zh": "（您是不是要输入 {meant}？）"},
    "argparse.required": {
        "en": "the following arguments are required: {args}",
        "zh": "缺少必需的参数：{args}",
    },
    "argparse.unrecognized": {"en": "unrecognized arguments: {args}", "zh": "无法识别的参数：{args}"},
    "argparse.one_of": {
        "en": "one of the arguments {args} is required",
        "zh": "必须给出以下参数之一：{args}",
    },
    "argparse.not_allowed": {
        "en": "argument {arg}: not allowed with argument {other}",
        "zh": "参数 {arg} 不能与参数 {other} 同时使用",
    },
    "argparse.invalid_choice": {
        "en": "argument {arg}: invalid choice: {value} (choose from {choices})",
        "zh": "参数 {arg}：无效的选择 {value}（可选：{choices}）",
    },
    "argparse.expected_one": {
        "en": "argument {arg}: expected one argument",
        "zh": "参数 {arg} 后面需要一个值",
    },
    "argparse.expected_some": {
        "en": "argument {arg}: expected at least one argument",
        "zh": "参数 {arg} 后面至少需要一个值",
    },
    "argparse.invalid_value": {
        "en": "argument {arg}: invalid {type} value: {value}",
        "zh": "参数 {arg}：{value} 不是有效的 {type} 值",
    },
    "argparse.ambiguous": {
        "en": "ambiguous option: {option} could match {matches}",
        "zh": "选项 {option} 有歧义，可能是 {matches}",
    },
    "argparse.ignored": {
        "en": "argument {arg}: ignored explicit argument {value}",
        "zh": "参数 {arg}：不接受值 {value}",
    },
    "err.no_resident": {"en": "no resident '{id}' in the registry", "zh": "登记册中没有居民 '{id}'"},
    "err.no_device": {"en": "no device '{id}' in the registry", "zh": "登记册中没有设备 '{id}'"},
    "err.resident_exists": {"en": "resident {id} is already registered", "zh": "居民 {id} 已经登记"},
    "err.device_exists": {"en": "device {id} is already registered", "zh": "设备 {id} 已经登记"},
    "err.address_taken": {
        "en": "address {address} already belongs to device {device}",
        "zh": "地址 {address} 已属于设备 {device}",
    },
    "err.card_taken": {"en": "card number already used by resident {id}", "zh": "卡号已被居民 {id} 使用"},
    "err.resident_in_use": {
        "en": "resident {id} still has device(s) {devices}",
        "zh": "居民 {id} 仍绑定设备 {devices}",
    },
    "err.config_missing": {"en": "config file {path} does not exist", "zh": "配置文件 {path} 不存在"},
    "err.config_invalid": {"en": "{source}: {n} invalid field(s)", "zh": "{source}：{n} 个字段无效"},
    "err.config_not_toml": {
        "en": "{path} is not valid TOML: {reason}",
        "zh": "{path} 不是有效的 TOML：{reason}",
    },
    "config.unknown_field": {"en": "{path}: unknown field", "zh": "{path}：未知的配置项"},
    "config.unknown_field_meant": {
        "en": "{path}: unknown field (did you mean `{meant}`?)",
        "zh": "{path}：未知的配置项（您是不是要写 `{meant}`？）",
    },
    "config.valid": {"en": "{path}: the config is valid", "zh": "{path}：配置有效"},
    "config.valid_defaults": {
        "en": "no config file at {path}: the built-in defaults are valid "
        "(give a FILE or --config to check one)",
        "zh": "{path} 不存在：内置默认配置有效（检查其他文件请给出 文件 或 --config）",
    },
    "hint.fix_toml": {
        "en": "fix that line: text in quotes, [section] on a line of its own, one key = value a line",
        "zh": "请修正该行：文本要加引号，[节名] 单独一行，每行一个 键 = 值",
    },
    "err.cannot_read": {"en": "cannot read {path}: {reason}", "zh": "无法读取 {path}：{reason}"},
    "err.csv_bad_rows": {
        "en": "{path}: {n} bad row(s), nothing imported",
        "zh": "{path}：{n} 行有错误，未导入任何数据",
    },
    "err.csv_empty": {"en": "the CSV file is empty", "zh": "CSV 文件是空的"},
    "err.csv_missing_columns": {
        "en": "line 1: missing column(s) {columns}",
        "zh": "第 1 行：缺少列 {columns}",
    },
    "err.unknown_profile": {"en": "unknown profile '{name}'", "zh": "未知的设备型号（profile）'{name}'"},
    "err.no_registry": {"en": "no registry at {path}", "zh": "{path} 没有登记册"},
    "err.no_outbox": {"en": "no outbox at {path}", "zh": "{path} 没有发件箱数据库"},
    "err.not_utf8": {
        "en": "{path}: not UTF-8 (byte {byte})",
        "zh": "{path}：不是 UTF-8 编码（第 {byte} 字节）",
    },
    "err.resident_refused": {"en": "resident {id} refused: {fields}", "zh": "居民 {id} 未登记：{fields}"},
    "csv.row": {"en": "line {line}: {fields}", "zh": "第 {line} 行：{fields}"},
    "csv.row_of": {"en": "line {line} ({id}): {fields}", "zh": "第 {line} 行（{id}）：{fields}"},
    # residents
    "residents.added": {"en": "added resident {id} ({name})", "zh": "已登记居民 {id}（{name}）"},
    "residents.updated": {"en": "updated resident {id}", "zh": "已更新居民 {id}"},
    "residents.removed": {"en": "removed resident {id}", "zh": "已移除居民 {id}"},
    "residents.none": {"en": "no residents registered", "zh": "尚未登记任何居民"},
    "residents.imported": {"en": "imported {n} resident(s)", "zh": "已导入 {n} 位居民"},
    "residents.imported_updated": {"en": ", updated {n}", "zh": "，更新 {n} 位"},
    "residents.imported_skipped": {"en": ", skipped {n} bad row(s)", "zh": "，跳过 {n} 行错误数据"},
    "residents.ignored_columns": {"en": " (ignored columns: {columns})", "zh": "（已忽略的列：{columns}）"},
    "residents.skipped_row": {"en": "skipped {row}", "zh": "已跳过 {row}"},
    "residents.no_consent": {"en": "(no consent)", "zh": "（未同意上传）"},
    "residents.col.id": {"en": "ID", "zh": "编号"},
    "residents.col.name": {"en": "NAME", "zh": "姓名"},
    "residents.col.sex": {"en": "SEX", "zh": "性别"},
    "residents.col.born": {"en": "BORN", "zh": "出生年份"},
    "residents.col.height": {"en": "HEIGHT", "zh": "身高"},
    "residents.col.card": {"en": "CARD", "zh": "卡号"},
    "residents.col.guardians": {"en": "GUARDIANS", "zh": "监护人"},
    "residents.sex.male": {"en": "male", "zh": "男"},
    "residents.sex.female": {"en": "female", "zh": "女"},
    "residents.sex.other": {"en": "other", "zh": "其他"},
    "residents.sex.unknown": {"en": "unknown", "zh": "未知"},
    "residents.csv_gbk": {
        "en": "{path} looks like GBK (what Excel and WPS save as CSV by default), not UTF-8 (byte {byte})",
        "zh": "{path} 看起来是 GBK 编码（Excel 和 WPS 默认保存的 CSV），不是 UTF-8（第 {byte} 字节）",
    },
    "residents.csv_gbk_hint": {
        "en": "in Excel: File > Save As > 'CSV UTF-8 (Comma delimited)'; in WPS: Save As > 'CSV UTF-8'; "
        "or convert it: iconv -f GBK -t UTF-8 {path} > people-utf8.csv",
        "zh": "Excel：文件 > 另存为 > “CSV UTF-8（逗号分隔）”；WPS：另存为 > “CSV UTF-8”；"
        "或转换：iconv -f GBK -t UTF-8 {path} > people-utf8.csv",
    },
    # demo
    "demo.summary": {
        "en": "readings made: {made}, stored by the county: {stored}, garbage lines rejected: {garbage}; "
        "SMS sent: {sms}, SOS acknowledged: {acked}",
        "zh": "产生的测量数据：{made} 条，县里已保存：{stored} 条，拒收的乱码行：{garbage} 行；"
        "发出短信：{sms} 条，SOS 已确认：{acked}",
    },
    "demo.yes": {"en": "yes", "zh": "是"},
    "demo.no": {"en": "no", "zh": "否"},
    "demo.sos": {
        "en": "{s} s: SOS pressed on the watch of {name} ({resident}, watch {watch})",
        "zh": "{s} 秒：{name}（{resident}）按下手表 {watch} 的 SOS",
    },
    "demo.sms_out": {
        "en": "{s} s: SMS to {number} ({who}): {text}",
        "zh": "{s} 秒：短信发往 {number}（{who}）：{text}",
    },
    "demo.sms_in": {
        "en": "{s} s: SMS reply from {number} ({who}): {text}",
        "zh": "{s} 秒：{number}（{who}）回复短信：{text}",
    },
    "demo.acknowledged": {
        "en": "{s} s: SOS acknowledged by {number} ({who}); the rounds stop",
        "zh": "{s} 秒：SOS 已由 {number}（{who}）确认，不再升级",
    },
    "demo.who.son": {"en": "son", "zh": "儿子"},
    "demo.who.daughter": {"en": "daughter", "zh": "女儿"},
    "demo.who.clinic": {"en": "township clinic", "zh": "卫生院"},
    "demo.who.doctor": {"en": "village doctor", "zh": "村医"},
    "demo.who.other": {"en": "other", "zh": "其他"},
    "demo.stopped": {"en": "demo stopped", "zh": "演示已停止"},
    "demo.started": {
        "en": "hut-gateway demo: kiosk/API {api}, broker {broker} (Ctrl-C stops)",
        "zh": "hut-gateway 演示：自助终端/API {api}，MQTT 服务器 {broker}（按 Ctrl-C 停止）",
    },
    "demo.progress": {
        "en": "{s} s: {made} readings made, {stored} stored by the county, {garbage} garbage lines rejected",
        "zh": "{s} 秒：产生 {made} 条测量数据，县里已保存 {stored} 条，拒收乱码 {garbage} 行",
    },
    # geofence
    "geofence.circle": {"en": "circle r={radius} m", "zh": "圆形 半径 {radius} 米"},
    "geofence.polygon": {"en": "polygon {n} vertices", "zh": "多边形 {n} 个顶点"},
    "geofence.holes": {"en": ", {n} hole(s)", "zh": "，{n} 个镂空"},
    "geofence.always": {"en": "always", "zh": "全天"},
    "geofence.daily": {"en": "daily", "zh": "每天"},
    "geofence.kind.safe": {"en": "safe", "zh": "安全区"},
    "geofence.kind.danger": {"en": "danger", "zh": "危险区"},
    "geofence.drawn_in": {"en": "(drawn in {datum})", "zh": "（坐标系 {datum}）"},
    "geofence.imported": {
        "en": "imported {n} zone(s) for {id}: {names}",
        "zh": "已为 {id} 导入 {n} 个区域：{names}",
    },
    "geofence.removed": {"en": "removed {n} zone(s) of {id}", "zh": "已移除 {id} 的 {n} 个区域"},
    "geofence.none": {"en": "no zones stored", "zh": "尚未保存任何区域"},
    "geofence.no_zones_of": {"en": "resident {id!r} has no zones", "zh": "居民 {id!r} 没有任何区域"},
    "geofence.no_zones_of_hint": {
        "en": "import some with `hutgw geofence import`",
        "zh": "请用 `hutgw geofence import` 导入",
    },
    "geofence.no_zone": {
        "en": "no zone {name!r} of resident {id!r}",
        "zh": "居民 {id!r} 没有名为 {name!r} 的区域",
    },
    "geofence.see_list": {"en": "see `hutgw geofence list`", "zh": "请查看 `hutgw geofence list`"},
    "hint.see_residents": {"en": "see `hutgw residents list`", "zh": "请查看 `hutgw residents list`"},
    "hint.see_devices": {"en": "see `hutgw devices list`", "zh": "请查看 `hutgw devices list`"},
    "hint.check_card": {"en": "check the card number", "zh": "请检查卡号"},
    "hint.create_config": {"en": "create it or run `hutgw init`", "zh": "请创建该文件或运行 `hutgw init`"},
    "hint.fix_config": {
        "en": "fix the listed fields and run `hutgw config validate FILE`",
        "zh": "请修正所列字段后运行 `hutgw config validate FILE`",
    },
    "hint.correct_fields": {"en": "correct the named field(s) and try again", "zh": "请修正所列字段后重试"},
    "hint.add_residents_first": {"en": "add the resident(s) first", "zh": "请先登记居民"},
    "hint.fix_rows": {
        "en": "fix the listed rows, or use --skip-bad to import the good ones",
        "zh": "请修正所列各行，或用 --skip-bad 只导入正确的行",
    },
    "hint.unbind_devices": {"en": "unbind or remove those devices first", "zh": "请先解绑或移除这些设备"},
    "hint.check_file_name": {"en": "check the file name", "zh": "请检查文件名"},
    "hint.save_utf8": {
        "en": "save it as 'CSV UTF-8' (Excel and WPS save GBK by default)",
        "zh": "请另存为“CSV UTF-8”格式（Excel 和 WPS 默认保存为 GBK）",
    },
    "hint.outbox_state_dir": {
        "en": "check --state-dir (the daemon creates the outbox)",
        "zh": "请检查 --state-dir（发件箱由守护进程创建）",
    },
    "hint.registry_state_dir": {
        "en": "check --state-dir; `hutgw residents add` or `hutgw residents import` creates it",
        "zh": "请检查 --state-dir；`hutgw residents add` 或 `hutgw residents import` 会创建它",
    },
    "hint.known_profiles": {"en": "known profiles: {names}", "zh": "已知的设备型号：{names}"},
    # common words
    "word.yes": {"en": "yes", "zh": "是"},
    "word.no": {"en": "no", "zh": "否"},
    "word.none": {"en": "-", "zh": "-"},
    "word.shared": {"en": "(shared)", "zh": "（共用）"},
    "word.unknown": {"en": "unknown", "zh": "未知"},
    # init / enroll
    "init.exists": {"en": "{path} already exists", "zh": "{path} 已存在"},
    "init.exists_hint": {
        "en": "this gateway is already set up; add --force to replace it (the old key stops working)",
        "zh": "本网关已经初始化；如需替换请加 --force（旧密钥将失效）",
    },
    "init.bad_gateway_id": {
        "en": "gateway id {id!r} may only hold letters, digits, '.', '_' and '-' (1 to 64)",
        "zh": "网关编号 {id!r} 只能包含字母、数字、'.'、'_' 和 '-'（1 到 64 个字符）",
    },
    "init.bad_gateway_id_hint": {"en": "e.g. --gateway-id hut-0412", "zh": "例如 --gateway-id hut-0412"},
    "init.bad_broker": {"en": "broker {url!r}: {reason}", "zh": "MQTT 服务器地址 {url!r}：{reason}"},
    "init.bad_broker_hint": {
        "en": "give it as mqtts://HOST:PORT, e.g. mqtts://county.example.cn:8883",
        "zh": "格式为 mqtts://主机:端口，例如 mqtts://county.example.cn:8883",
    },
    "init.ca_missing": {"en": "county CA file {path} does not exist", "zh": "县级 CA 证书文件 {path} 不存在"},
    "init.ca_missing_hint": {
        "en": "copy the county CA certificate (PEM) to this machine and give its path",
        "zh": "请把县级 CA 证书（PEM）复制到本机并给出其路径",
    },
    "init.ca_bad": {"en": "{path} is not a PEM certificate", "zh": "{path} 不是 PEM 格式的证书"},
    "init.ca_bad_hint": {
        "en": "the county sends the CA as a .pem/.crt file starting with -----BEGIN CERTIFICATE-----",
        "zh": "县里提供的 CA 证书应为以 -----BEGIN CERTIFICATE----- 开头的 .pem/.crt 文件",
    },
    "init.cannot_write": {"en": "cannot write {path}: {reason}", "zh": "无法写入 {path}：{reason}"},
    "init.cannot_write_hint": {
        "en": "run as root (sudo) or choose folders you may write with --config and --state-dir",
        "zh": "请以 root（sudo）运行，或用 --config 和 --state-dir 指定可写的目录",
    },
    "init.progress": {"en": "generating the gateway key", "zh": "正在生成网关密钥"},
    "init.done": {"en": "gateway {id} initialised", "zh": "网关 {id} 已初始化"},
    "init.heading_file": {"en": "file", "zh": "文件"},
    "init.heading_path": {"en": "path", "zh": "路径"},
    "init.file_config": {"en": "config", "zh": "配置"},
    "init.file_state": {"en": "state folder", "zh": "状态目录"},
    "init.file_key": {"en": "private key (keep secret)", "zh": "私钥（须保密）"},
    "init.file_csr": {"en": "certificate request", "zh": "证书签名请求"},
    "init.file_ca": {"en": "county CA", "zh": "县级 CA"},
    "init.next": {
        "en": "next: send {csr} to the county, then run `hutgw enroll --cert FILE` with the signed "
        "certificate; set [api] doctor_pin (the village doctor's PIN on the kiosk) and [notify] modem "
        "and clinic (SMS for SOS, docs/alerts.md) in the config",
        "zh": "下一步：把 {csr} 发给县里，收到签名证书后运行 `hutgw enroll --cert 文件`；"
        "在配置文件中设置 [api] doctor_pin（村医在自助机上用的密码）和 [notify] modem、clinic"
        "（SOS 短信通知，见 docs/alerts.md）",
    },
    "enroll.cert_missing": {"en": "certificate file {path} does not exist", "zh": "证书文件 {path} 不存在"},
    "enroll.cert_missing_hint": {
        "en": "give the path of the signed certificate the county sent back",
        "zh": "请给出县里签发回来的证书文件路径",
    },
    "enroll.cert_bad": {"en": "{path} is not a PEM certificate", "zh": "{path} 不是 PEM 格式的证书"},
    "enroll.cert_bad_hint": {
        "en": "the county's file starts with -----BEGIN CERTIFICATE-----; do not send the .csr back",
        "zh": "县里签发的文件以 -----BEGIN CERTIFICATE----- 开头；请不要用 .csr 文件",
    },
    "enroll.key_missing": {"en": "the gateway key {path} does not exist", "zh": "网关私钥 {path} 不存在"},
    "enroll.key_missing_hint": {
        "en": "run `hutgw init` first (with the same --config and --state-dir)",
        "zh": "请先运行 `hutgw init`（使用相同的 --config 和 --state-dir）",
    },
    "enroll.key_bad": {
        "en": "the gateway key {path} cannot be read",
        "zh": "无法读取网关私钥 {path}",
    },
    "enroll.key_bad_hint": {
        "en": "run `hutgw init --force` to make a new key, then send the new request to the county",
        "zh": "请运行 `hutgw init --force` 生成新密钥，再把新的证书请求发给县里",
    },
    "enroll.cn_differs": {
        "en": "the certificate's name {cn!r} differs from gateway_id {id!r}",
        "zh": "证书中的名称 {cn!r} 与 gateway_id {id!r} 不同",
    },
    "enroll.key_mismatch": {
        "en": "the certificate {path} was not issued for this gateway's key",
        "zh": "证书 {path} 不是为本网关的密钥签发的",
    },
    "enroll.key_mismatch_hint": {
        "en": "send this gateway's {csr} to the county and install the certificate issued for it",
        "zh": "请把本网关的 {csr} 发给县里，并安装为它签发的证书",
    },
    "enroll.no_ca": {"en": "no county CA is configured", "zh": "尚未配置县级 CA"},
    "enroll.no_ca_hint": {
        "en": "give it with --county-ca FILE (or run `hutgw init --county-ca FILE`)",
        "zh": "请用 --county-ca 文件 指定（或运行 `hutgw init --county-ca 文件`）",
    },
    "enroll.not_signed": {
        "en": "the certificate {path} is not signed by the county CA {ca}",
        "zh": "证书 {path} 不是由县级 CA {ca} 签发的",
    },
    "enroll.not_signed_hint": {
        "en": "ask the county for a certificate signed by their CA, or check that --county-ca is theirs",
        "zh": "请向县里索取由其 CA 签发的证书，或检查 --county-ca 是否正确",
    },
    "enroll.not_yet_valid": {
        "en": "the certificate {path} is not valid before {when}",
        "zh": "证书 {path} 在 {when} 之前无效",
    },
    "enroll.expired": {
        "en": "the certificate {path} expired on {when}",
        "zh": "证书 {path} 已于 {when} 过期",
    },
    "enroll.validity_hint": {
        "en": "check the gateway clock (`date`), or ask the county for a new certificate",
        "zh": "请检查网关时钟（`date`），或向县里申请新证书",
    },
    "enroll.done": {
        "en": "certificate installed for {subject}, valid until {until}",
        "zh": "已为 {subject} 安装证书，有效期至 {until}",
    },
    "enroll.restart": {
        "en": "restart the daemon to use it: systemctl restart hutgw",
        "zh": "请重启守护进程以启用：systemctl restart hutgw",
    },
    # devices
    "devices.bad_ble": {
        "en": "{address!r} is not a Bluetooth address",
        "zh": "{address!r} 不是蓝牙地址",
    },
    "devices.bad_ble_hint": {
        "en": "give six hex pairs like C0:FF:EE:00:00:01 (see `hutgw devices scan`)",
        "zh": "格式为六组十六进制数，如 C0:FF:EE:00:00:01（可用 `hutgw devices scan` 查看）",
    },
    "devices.no_serial": {"en": "serial port {path} does not exist", "zh": "串口 {path} 不存在"},
    "devices.no_serial_hint": {
        "en": "plug the cable in and use its /dev/serial/by-id/... path (ls /dev/serial/by-id)",
        "zh": "请插好数据线，并使用 /dev/serial/by-id/... 路径（ls /dev/serial/by-id）",
    },
    "devices.not_a_port": {"en": "{path} is not a serial port", "zh": "{path} 不是串口设备"},
    "devices.bad_watch": {"en": "watch id {id!r} is not a number", "zh": "手表编号 {id!r} 不是数字"},
    "devices.bad_watch_hint": {
        "en": "give the id printed on the watch or its box: 5 to 20 digits",
        "zh": "请填写手表或包装盒上的编号：5 到 20 位数字",
    },
    "devices.unknown_profile": {"en": "unknown profile {name!r}", "zh": "未知的设备型号 {name!r}"},
    "devices.profile_hint": {
        "en": "profiles for {transport}: {names} (see `hutgw profiles list`)",
        "zh": "适用于{transport}的设备型号：{names}（见 `hutgw profiles list`）",
    },
    "devices.wrong_transport": {
        "en": "profile {name!r} is for {actual} devices, not {wanted}",
        "zh": "设备型号 {name!r} 用于{actual}设备，而不是{wanted}",
    },
    "devices.transport.ble": {"en": "Bluetooth", "zh": "蓝牙"},
    "devices.transport.serial": {"en": "serial", "zh": "串口"},
    "devices.transport.watch": {"en": "4G watch", "zh": "4G 手表"},
    "devices.no_resident": {"en": "no resident {id!r} in the registry", "zh": "登记册中没有居民 {id!r}"},
    "devices.no_resident_hint": {
        "en": "add the resident first (`hutgw residents add`), or use --shared for a hut device",
        "zh": "请先登记居民（`hutgw residents add`），或用 --shared 登记为卫生室共用设备",
    },
    "devices.bad_id": {
        "en": "device id {id!r} is not usable: {reason}",
        "zh": "设备编号 {id!r} 不可用：{reason}",
    },
    "devices.bad_id_hint": {
        "en": "use letters, digits, '.', '_' and '-', e.g. --id cuff-1",
        "zh": "请使用字母、数字、'.'、'_' 和 '-'，例如 --id cuff-1",
    },
    "devices.exists": {"en": "device {id} is already registered", "zh": "设备 {id} 已经登记"},
    "devices.exists_hint": {
        "en": "choose another --id, or remove it first with `hutgw devices remove {id}`",
        "zh": "请换一个 --id，或先用 `hutgw devices remove {id}` 移除",
    },
    "devices.address_taken": {
        "en": "{address} already belongs to device {device}",
        "zh": "{address} 已属于设备 {device}",
    },
    "devices.address_taken_hint": {
        "en": "remove device {device} first (`hutgw devices remove {device}`)",
        "zh": "请先移除设备 {device}（`hutgw devices remove {device}`）",
    },
    "devices.unknown": {"en": "no device {id!r} in the registry", "zh": "登记册中没有设备 {id!r}"},
    "devices.unknown_hint": {"en": "see `hutgw devices list`", "zh": "请查看 `hutgw devices list`"},
    "devices.added": {
        "en": "added device {id} ({profile} at {address}) for {owner}",
        "zh": "已添加设备 {id}（{profile}，地址 {address}），归属：{owner}",
    },
    "devices.added_live": {
        "en": "a running daemon picks it up within a few seconds",
        "zh": "正在运行的守护进程会在几秒内启用它",
    },
    "devices.ble_off": {
        "en": "Bluetooth is off in the config ([ble] enabled = false): the daemon will not reach this "
        "device until you set it to true and restart the daemon",
        "zh": "配置中蓝牙已关闭（[ble] enabled = false）：设为 true 并重启守护进程后才能连接此设备",
    },
    "devices.watch_off": {
        "en": "the 4G watch listener is off in the config ([watch] listen): set it to this gateway's "
        'address and a port (e.g. "192.168.8.1:5093") and restart the daemon, or the watch cannot connect',
        "zh": '配置中未开启 4G 手表监听（[watch] listen）：请设为本网关的地址和端口（如 "192.168.8.1:5093"）'
        "并重启守护进程，否则手表无法连接",
    },
    "devices.owner_shared": {"en": "the whole hut (shared)", "zh": "卫生室共用"},
    "devices.owner_resident": {"en": "resident {id}", "zh": "居民 {id}"},
    "devices.removed": {"en": "removed device {id}", "zh": "已移除设备 {id}"},
    "devices.none": {"en": "no devices registered", "zh": "尚未登记任何设备"},
    "devices.title": {"en": "Devices", "zh": "设备"},
    "devices.col.id": {"en": "ID", "zh": "编号"},
    "devices.col.profile": {"en": "PROFILE", "zh": "设备型号"},
    "devices.col.address": {"en": "ADDRESS", "zh": "地址"},
    "devices.col.owner": {"en": "RESIDENT", "zh": "居民"},
    "devices.col.added": {"en": "ADDED", "zh": "添加时间"},
    "devices.col.name": {"en": "NAME", "zh": "名称"},
    "devices.col.rssi": {"en": "RSSI", "zh": "信号"},
    "devices.col.registered": {"en": "REGISTERED", "zh": "已登记"},
    "devices.col.state": {"en": "STATE", "zh": "状态"},
    "devices.col.last_seen": {"en": "LAST SEEN", "zh": "最近通信"},
    "devices.col.battery": {"en": "BATTERY", "zh": "电量"},
    "devices.col.value_name": {"en": "VALUE", "zh": "项目"},
    "devices.col.value": {"en": "READING", "zh": "数值"},
    "devices.col.unit": {"en": "UNIT", "zh": "单位"},
    "devices.bad_user": {
        "en": "--user {value!r} is not INDEX=RESIDENT with INDEX 0 to 254",
        "zh": "--user {value!r} 的格式应为 序号=居民编号（序号 0 到 254）",
    },
    "devices.bad_user_hint": {"en": "e.g. --user 1=R001", "zh": "例如 --user 1=R001"},
    "devices.scan.progress": {"en": "listening for Bluetooth devices", "zh": "正在搜索蓝牙设备"},
    "devices.scan.title": {"en": "Bluetooth devices nearby", "zh": "附近的蓝牙设备"},
    "devices.scan.none": {
        "en": "no Bluetooth device heard in {seconds:g} s; wake the device (take a measurement) and "
        "scan again",
        "zh": "{seconds:g} 秒内未发现蓝牙设备；请唤醒设备（测量一次）后重新搜索",
    },
    "devices.scan.unsupported": {"en": "(no profile)", "zh": "（无对应设备型号）"},
    "devices.ble_failed": {"en": "Bluetooth: {detail}", "zh": "蓝牙：{detail}"},
    "devices.ble_failed_hint": {
        "en": "check the adapter: bluetoothctl show, rfkill list, systemctl status bluetooth",
        "zh": "请检查蓝牙适配器：bluetoothctl show、rfkill list、systemctl status bluetooth",
    },
    "devices.bad_backend": {"en": "BLE backend {spec!r}: {reason}", "zh": "蓝牙后端 {spec!r}：{reason}"},
    "devices.bad_backend_hint": {"en": "give it as module:factory", "zh": "格式为 模块:工厂函数"},
    "devices.pair.progress": {"en": "pairing with {address}", "zh": "正在与 {address} 配对"},
    "devices.pair.done": {
        "en": "paired with {address} ({name}); services: {services}",
        "zh": "已与 {address}（{name}）配对；服务：{services}",
    },
    "devices.test.progress": {"en": "waiting for a reading from {id}", "zh": "正在等待 {id} 的测量数据"},
    "devices.test.prompt": {
        "en": "take a measurement with {id} now (waiting up to {seconds:g} s)",
        "zh": "请现在用 {id} 测量一次（最多等待 {seconds:g} 秒）",
    },
    "devices.test.via_daemon": {
        "en": "the daemon is running: watching its event stream at {url}",
        "zh": "守护进程正在运行：通过 {url} 的事件流接收数据",
    },
    "devices.test.timeout": {
        "en": "no reading from {id} within {seconds:g} s",
        "zh": "{seconds:g} 秒内没有收到 {id} 的测量数据",
    },
    "devices.test.timeout_hint": {
        "en": "check the cable/power and that the device sends (its manual: PC output), then retry",
        "zh": "请检查数据线和电源，并确认设备已开启数据输出（见说明书：PC 输出），然后重试",
    },
    "devices.test.ble_off_hint": {
        "en": "Bluetooth is off in the config ([ble] enabled = false), so the daemon does not listen to "
        "Bluetooth devices: set it to true and restart the daemon (systemctl restart hutgw)",
        "zh": "配置中蓝牙已关闭（[ble] enabled = false），守护进程不接收蓝牙设备的数据："
        "请设为 true 并重启守护进程（systemctl restart hutgw）",
    },
    "devices.test.ble_hint": {
        "en": "measure within a few metres of the gateway; if it still sends nothing, pair it "
        "(`hutgw devices pair ADDRESS`) and check its battery",
        "zh": "请在网关几米范围内测量；若仍无数据，请先配对（`hutgw devices pair 地址`）并检查电池",
    },
    "devices.test.watch_off_hint": {
        "en": "the 4G watch listener is off in the config ([watch] listen): set it to this gateway's "
        'address and a port (e.g. "192.168.8.1:5093") and restart the daemon; the watch connects to it',
        "zh": '配置中未开启 4G 手表监听（[watch] listen）：请设为本网关的地址和端口（如 "192.168.8.1:5093"）'
        "并重启守护进程；手表会主动连接该地址",
    },
    "devices.test.watch_hint": {
        "en": "the watch must connect to {listen}: set that as its server address (the SMS command in its "
        "manual), check its SIM has data, then take a reading on the watch",
        "zh": "手表必须连接到 {listen}：请把它设为手表的服务器地址（见说明书中的短信指令），"
        "确认 SIM 卡有流量，然后在手表上测量一次",
    },
    "devices.test.port_failed": {"en": "cannot open {path}: {detail}", "zh": "无法打开 {path}：{detail}"},
    "devices.test.port_failed_hint": {
        "en": "check the cable, that you may use the port (group dialout), and that no other program "
        "holds it",
        "zh": "请检查数据线、当前用户是否有串口权限（dialout 组），以及是否有其他程序占用该串口",
    },
    "devices.test.rejected": {
        "en": "a frame came in but could not be decoded: {error}",
        "zh": "收到一帧数据但无法解码：{error}",
    },
    "devices.test.rejected_hint": {
        "en": "check the profile ({profile}) and the device's baud rate and output format",
        "zh": "请检查设备型号（{profile}）以及设备的波特率和输出格式",
    },
    "devices.test.got": {"en": "reading from {id}: {kind}", "zh": "来自 {id} 的测量：{kind}"},
    "devices.test.needs_daemon": {
        "en": "testing a {transport} device needs the running daemon, which does not answer at {url}",
        "zh": "测试{transport}设备需要守护进程运行，但 {url} 无响应",
    },
    "devices.test.needs_daemon_hint": {
        "en": "start it (systemctl start hutgw) and retry",
        "zh": "请先启动它（systemctl start hutgw）再重试",
    },
    # daemon API
    "api.unreachable": {
        "en": "the daemon does not answer at {url}: {reason}",
        "zh": "守护进程在 {url} 无响应：{reason}",
    },
    "api.unreachable_hint": {
        "en": "check that it runs (systemctl status hutgw) and that --config names its config",
        "zh": "请确认它在运行（systemctl status hutgw），并且 --config 指向它的配置文件",
    },
    "api.refused": {
        "en": "the daemon refused the request: HTTP {status}",
        "zh": "守护进程拒绝了请求：HTTP {status}",
    },
    "api.refused_hint": {
        "en": "check api.token in the config matches the daemon's",
        "zh": "请检查配置中的 api.token 与守护进程一致",
    },
    # status
    "status.from_daemon": {"en": "from the running daemon at {url}", "zh": "来自正在运行的守护进程 {url}"},
    "status.from_files": {
        "en": "the daemon is not running (no answer at {url}); from the state files in {state_dir}",
        "zh": "守护进程未运行（{url} 无响应）；以下来自 {state_dir} 中的状态文件",
    },
    "status.gateway": {"en": "Gateway", "zh": "网关"},
    "status.uplink": {"en": "Uplink", "zh": "上传"},
    "status.buffer": {"en": "Buffer", "zh": "缓存"},
    "status.clock": {"en": "Clock", "zh": "时钟"},
    "status.alerts": {"en": "Recent alerts", "zh": "最近的告警"},
    "status.key.id": {"en": "gateway id", "zh": "网关编号"},
    "status.key.started": {"en": "running since", "zh": "运行起始"},
    "status.key.state_dir": {"en": "state folder", "zh": "状态目录"},
    "status.key.broker": {"en": "broker", "zh": "MQTT 服务器"},
    "status.key.connected": {"en": "connected", "zh": "已连接"},
    "status.key.last_error": {"en": "last error", "zh": "最近错误"},
    "status.key.pending": {"en": "readings waiting", "zh": "待上传数据"},
    "status.key.oldest": {"en": "oldest waiting", "zh": "最早待上传"},
    "status.key.disk": {"en": "disk used / quota", "zh": "磁盘占用 / 配额"},
    "status.key.synced": {"en": "synchronised", "zh": "已同步"},
    "status.key.decode_errors": {"en": "rejected frames", "zh": "无法解码的帧"},
    "status.uplink_off": {"en": "off (no broker configured)", "zh": "关闭（未配置 MQTT 服务器）"},
    "status.no_outbox": {"en": "no outbox yet (the daemon creates it)", "zh": "尚无发件箱（由守护进程创建）"},
    "status.not_running": {"en": "(daemon not running)", "zh": "（守护进程未运行）"},
    "status.no_alerts": {"en": "no alerts", "zh": "没有告警"},
    "status.col.time": {"en": "TIME", "zh": "时间"},
    "status.col.kind": {"en": "KIND", "zh": "类型"},
    "status.col.severity": {"en": "SEVERITY", "zh": "级别"},
    "status.col.resident": {"en": "RESIDENT", "zh": "居民"},
    "status.col.message": {"en": "MESSAGE", "zh": "内容"},
    "status.ago": {"en": "{age} ago", "zh": "{age}前"},
    # diag
    "diag.progress": {"en": "collecting the support bundle", "zh": "正在收集诊断包"},
    "diag.written": {
        "en": "wrote {path} ({size} bytes); it holds no health data and no secrets",
        "zh": "已写入 {path}（{size} 字节）；其中不含健康数据和密钥",
    },
    "diag.no_journal": {
        "en": "journalctl is not available here; no logs included",
        "zh": "本机没有 journalctl；未包含日志",
    },
    "diag.out_exists": {"en": "{path} already exists", "zh": "{path} 已存在"},
    "diag.out_exists_hint": {
        "en": "choose another --out, or add --force",
        "zh": "请换一个 --out，或加 --force",
    },
    "diag.no_folder": {"en": "folder {path} does not exist", "zh": "目录 {path} 不存在"},
    "diag.out_bad": {"en": "--out {path} must end in .tar.gz", "zh": "--out {path} 必须以 .tar.gz 结尾"},
    "diag.out_bad_hint": {
        "en": "e.g. --out /tmp/hut-support.tar.gz",
        "zh": "例如 --out /tmp/hut-support.tar.gz",
    },
    # ---- alerts and notification (hutgw alerts, hutgw notify; docs/alerts.md)
    "alerts.help": {
        "en": "urgent alerts: who was told, who acknowledged",
        "zh": "紧急提醒：通知了谁、谁已确认",
    },
    "alerts.list.help": {
        "en": "open urgent alerts (and those acknowledged in the last hour)",
        "zh": "未处理的紧急提醒（含一小时内已确认的）",
    },
    "alerts.list.all": {"en": "every alert kept, not only the open ones", "zh": "列出保存的全部提醒"},
    "alerts.list.state": {"en": "only alerts in this state", "zh": "只列出此状态的提醒"},
    "alerts.ack.help": {
        "en": "acknowledge an alert: its rounds stop, the others are told",
        "zh": "确认一条提醒：停止继续通知，并告知其他人",
    },
    "alerts.ack.by": {"en": "who acknowledges (shown to the others)", "zh": "确认人（会告知其他人）"},
    "alerts.none": {"en": "no open urgent alerts", "zh": "没有未处理的紧急提醒"},
    "alerts.col.id": {"en": "id", "zh": "编号"},
    "alerts.col.kind": {"en": "kind", "zh": "类型"},
    "alerts.col.resident": {"en": "resident", "zh": "居民"},
    "alerts.col.raised": {"en": "raised", "zh": "时间"},
    "alerts.col.state": {"en": "state", "zh": "状态"},
    "alerts.col.round": {"en": "round", "zh": "轮次"},
    "alerts.col.told": {"en": "told", "zh": "已通知"},
    "alerts.col.by": {"en": "acknowledged by", "zh": "确认人"},
    "alerts.state.notifying": {"en": "notifying", "zh": "正在通知"},
    "alerts.state.acknowledged": {"en": "acknowledged", "zh": "已确认"},
    "alerts.state.unanswered": {"en": "UNANSWERED", "zh": "无人应答"},
    "alerts.state.digest": {"en": "for the digest", "zh": "待每日汇总"},
    "alerts.state.digested": {"en": "in a digest", "zh": "已汇总"},
    "alerts.unknown": {"en": "no alert {id} on this gateway", "zh": "本网关没有编号为 {id} 的提醒"},
    "alerts.unknown_hint": {"en": "see `hutgw alerts list --all`", "zh": "用 `hutgw alerts list --all` 查看"},
    "alerts.already": {
        "en": "alert {id} is {state} (by {by}); nothing changed",
        "zh": "提醒 {id} 已是“{state}”（{by}），未作改动",
    },
    "alerts.acked": {"en": "alert {id} acknowledged: rounds stopped", "zh": "提醒 {id} 已确认，停止继续通知"},
    "notify.help": {
        "en": "SMS through the hut's 4G modem: test, status",
        "zh": "通过小屋的4G模块发短信：测试、状态",
    },
    "notify.test.help": {
        "en": "send one test SMS and show the modem's state",
        "zh": "发送一条测试短信并显示4G模块状态",
    },
    "notify.status.help": {
        "en": "the modem's state: SIM, operator, registration, signal",
        "zh": "4G模块状态：SIM卡、运营商、注册、信号",
    },
    "notify.port": {
        "en": "the modem's AT port (default: [notify] modem)",
        "zh": "4G模块的AT串口（默认 [notify] modem）",
    },
    "notify.timeout": {"en": "give up after this many seconds", "zh": "超过这么多秒则放弃"},
    "notify.bad_phone": {
        "en": "{phone!r} is not a phone number (digits, optionally a leading +)",
        "zh": "{phone!r} 不是电话号码（数字，可带 +）",
    },
    "notify.off": {
        "en": "SMS is off: [notify] modem is not set",
        "zh": "短信通知未开启：未设置 [notify] modem",
    },
    "notify.off_hint": {
        "en": "set [notify] modem to the modem's /dev/serial/by-id/... path, then restart",
        "zh": "把 [notify] modem 设为4G模块的 /dev/serial/by-id/... 路径，然后重启",
    },
    "notify.modem": {"en": "4G modem", "zh": "4G模块"},
    "status.notify": {"en": "SMS and urgent alerts", "zh": "短信与紧急提醒"},
    "notify.key.port": {"en": "port", "zh": "串口"},
    "notify.key.connected": {"en": "connected", "zh": "已连接"},
    "notify.key.sim": {"en": "SIM", "zh": "SIM卡"},
    "notify.key.operator": {"en": "operator", "zh": "运营商"},
    "notify.key.registration": {"en": "network", "zh": "网络注册"},
    "notify.key.signal": {"en": "signal", "zh": "信号"},
    "notify.key.last_error": {"en": "last problem", "zh": "最近的问题"},
    "notify.sent": {"en": "test SMS sent to {phone}", "zh": "测试短信已发送到 {phone}"},
    "notify.not_sent": {"en": "test SMS NOT sent: {error}", "zh": "测试短信未发出：{error}"},
}
