"""Chinese for every ``--help`` text of ``hutgw`` (English text as the command modules give it ->
Simplified Chinese). :func:`provisioning.argv.localize` applies it; a test checks that no help
text is left in English with ``--lang zh``.

Wording: the MQTT broker is the "MQTT 服务器" (not a 代理服务器); a device profile is a
"设备型号（profile）" (not a 配置文件, which is the config file).
"""

from __future__ import annotations

from collections.abc import Mapping

HELP_ZH: Mapping[str, str] = {
    # top level and global options
    "hut-gateway: village health-hut edge gateway": "hut-gateway：村卫生室健康小屋边缘网关",
    "show this help message and exit": "显示此帮助信息并退出",
    "config file (default /etc/hutgw/hutgw.toml)": "配置文件（默认 /etc/hutgw/hutgw.toml）",
    "state folder (default /var/lib/hutgw)": "状态目录（默认 /var/lib/hutgw）",
    "machine-readable output": "输出 JSON（供脚本使用）",
    "message language (default from LANG)": "提示语言（默认按 LANG 环境变量）",
    "more log output": "输出更多日志",
    # command summaries
    "outbox: offline export and receipts, rejected readings": "发件箱：离线导出与回执、被拒收的数据",
    "validate, show or describe the configuration": "检查、显示或说明配置",
    "decode a frame and print it as JSON": "解码一帧数据并以 JSON 输出",
    "run the whole path on simulated devices": "用模拟设备演示完整流程",
    "the hut's health devices: scan, add, list, remove, test, pair": (
        "卫生室的健康设备：搜索、添加、列出、移除、测试、配对"
    ),
    "diagnostics for remote support": "远程支持用的诊断",
    "install the certificate the county signed for this gateway": "安装县里为本网关签发的证书",
    "FHIR R4 output: convert uplink envelopes to transaction Bundles": (
        "FHIR R4 输出：把上传数据包转换为事务 Bundle"
    ),
    "residents' electronic fences (safe and danger zones)": "居民的电子围栏（安全区和危险区）",
    "set up this gateway: config, state folder, key pair and certificate request": (
        "初始化本网关：配置文件、状态目录、密钥对和证书签名请求"
    ),
    "list device profiles, check a serial format file": "列出设备型号（profile），检查串口格式文件",
    "stored readings: unattributed ones and late assignment": "已保存的测量数据：无人认领的数据及补登归属",
    "reference county receiver: store uplinks, ack, import exports, send signed commands": (
        "县级参考接收端：保存上传数据、确认、导入离线导出、发送签名指令"
    ),
    "residents of the village (county health-record numbers)": "本村居民（县居民健康档案编号）",
    "run the gateway daemon": "运行网关守护进程",
    "gateway, uplink, buffer, devices, clock and recent alerts": "网关、上传、缓存、设备、时钟和最近告警",
    # buffer
    "write undelivered records as uplink envelopes": "把未送达的记录写成上传数据包",
    "mark the ids of an import receipt delivered": "把导入回执中的记录标记为已送达",
    "list records (e.g. --state rejected, with reasons)": "列出记录（如 --state rejected，附原因）",
    "FILE.jsonl.gz": "导出文件（FILE.jsonl.gz）",
    "only records created at/after TIME (ISO 8601 or epoch s)": (
        "只导出该时间及以后产生的记录（ISO 8601 或 Unix 秒）"
    ),
    "records per envelope (default 500)": "每个数据包的记录数（默认 500）",
    # config
    "check a config file; print every error with its field": "检查配置文件；逐项列出有错误的字段",
    "print the effective configuration (secrets redacted)": "显示实际生效的配置（密码等已隐去）",
    "print the JSON Schema of the config file": "输出配置文件的 JSON Schema",
    "the file (default: --config or /etc/hutgw/hutgw.toml)": (
        "要检查的文件（默认：--config 或 /etc/hutgw/hutgw.toml）"
    ),
    # decode
    "profile (protocol) name, e.g. tanita.serial": "设备型号（协议）名称，如 tanita.serial",
    "raw bytes as hex": "原始字节（十六进制）",
    "raw text (use $'..\\r\\n' in bash for control characters)": "原始文本（bash 中控制字符用 $'..\\r\\n'）",
    'JSON lines {"protocol":..., "input_hex"|"input_text":...}': (
        'JSON 行文件 {"protocol":..., "input_hex"|"input_text":...}'
    ),
    # demo
    "stop after this many seconds (default: Ctrl-C)": "运行这么多秒后停止（默认：按 Ctrl-C 停止）",
    "no live view; print a summary at the end": "不显示实时表格；结束时输出汇总",
    # devices
    "list Bluetooth devices nearby": "列出附近的蓝牙设备",
    "register a device": "登记一台设备",
    "list registered devices": "列出已登记的设备",
    "remove a device": "移除一台设备",
    "wait for one live reading and print it": "等待一次实时测量并显示",
    "bond with a BLE device that needs it": "与需要配对的蓝牙设备配对",
    "listen this long (default 8 s)": "搜索时长（默认 8 秒）",
    "Bluetooth address, e.g. C0:FF:EE:00:00:01": "蓝牙地址，如 C0:FF:EE:00:00:01",
    "serial port, e.g. /dev/serial/by-id/usb-...": "串口，如 /dev/serial/by-id/usb-...",
    "4G watch id (digits)": "4G 手表编号（数字）",
    "device profile (`hutgw profiles list`)": "设备型号（见 `hutgw profiles list`）",
    "the resident this personal device belongs to": "这台个人设备归属的居民",
    "a hut device used by everyone": "卫生室共用设备",
    "device id (default from the address)": "设备编号（默认按地址生成）",
    "multi-user scale: user slot INDEX belongs to RESIDENT (repeatable)": (
        "多用户体重秤：用户位 序号 属于 居民（可重复）"
    ),
    "give up after S (default 120)": "S 秒后放弃（默认 120）",
    "connect timeout (default 30)": "连接超时（默认 30 秒）",
    # diag
    "write a support bundle (redacted config, logs, status, versions); no health data": (
        "生成诊断包（隐去密码的配置、日志、状态、版本）；不含健康数据"
    ),
    "replace an existing file": "覆盖已存在的文件",
    "last N log lines (default 2000)": "最近 N 行日志（默认 2000）",
    "last N rejected frames": "最近 N 个被拒收的数据帧",
    # enroll / init
    "the signed certificate (PEM)": "县里签发的证书（PEM）",
    "the county CA (default: [uplink.tls] ca_file)": "县级 CA 证书（默认：[uplink.tls] ca_file）",
    "this hut's gateway id, e.g. hut-0412": "本卫生室的网关编号，如 hut-0412",
    "the county CA certificate (PEM)": "县级 CA 证书（PEM）",
    "county broker, mqtts://HOST:PORT": "县级 MQTT 服务器，mqtts://主机:端口",
    "replace an existing config and key": "覆盖已有的配置文件和密钥",
    # fhir
    "envelopes (JSON, .jsonl, .jsonl.gz) -> Bundles": "上传数据包（JSON、.jsonl、.jsonl.gz）转为 Bundle",
    "envelope file (- for standard input)": "数据包文件（- 表示标准输入）",
    "write the Bundles here instead of stdout": "把 Bundle 写入此文件而不是标准输出",
    "identifier system URI of resident ids": "居民编号的标识系统 URI",
    "base URI of gateway-minted identifiers": "网关生成的标识的基础 URI",
    # geofence
    "import zones from a GeoJSON FeatureCollection": "从 GeoJSON FeatureCollection 导入区域",
    "list stored zones": "列出已保存的区域",
    "remove one zone, or all of a resident's": "移除一个区域，或某位居民的全部区域",
    "run a recorded trace through the fences and print the events": "用记录的轨迹回放电子围栏并输出事件",
    "resident id the zones belong to": "区域所属的居民编号",
    "datum of features without a datum property (gcj02: AMap/Tencent, bd09: Baidu)": (
        "未注明坐标系的要素所用坐标系（gcj02：高德/腾讯，bd09：百度）"
    ),
    "remove the resident's zones not in the file": "移除该居民不在文件中的区域",
    "only this resident": "只看这位居民",
    "zone name (default: all of the resident's zones)": "区域名称（默认：该居民的全部区域）",
    "datum of zones without a datum property": "未注明坐标系的区域所用坐标系",
    # profiles
    "built-in profiles and local format files": "内置设备型号和本地格式文件",
    "check a serial line-format file (TOML)": "检查串口行格式文件（TOML）",
    "the format file, e.g. acme-scale.toml": "格式文件，如 acme-scale.toml",
    "a sample line to decode with it (use $'...\\r\\n' in bash)": (
        "用它解码的示例行（bash 中用 $'...\\r\\n'）"
    ),
    # readings
    "list readings that belong to nobody yet": "列出尚无归属的测量数据",
    "give a stored reading to a resident": "把一条已保存的测量数据归到某位居民",
    "look at N readings per state at most": "每种状态最多查看 N 条",
    "re-assign a reading that already belongs to a resident (a correction)": "重新指定已有归属的数据（更正）",
    # receiver
    "mqtt://HOST:PORT or mqtts://HOST:PORT": "mqtt://主机:端口 或 mqtts://主机:端口",
    "topic prefix": "主题前缀",
    "CA to trust for mqtts://": "mqtts:// 信任的 CA 证书",
    "client certificate for mqtts://": "mqtts:// 的客户端证书",
    "client key for mqtts://": "mqtts:// 的客户端私钥",
    "receiver SQLite database": "接收端 SQLite 数据库",
    "load an offline export (FILE.jsonl.gz)": "导入离线导出文件（FILE.jsonl.gz）",
    "publish a signed command to a gateway": "向网关发布签名指令",
    "make the county command-signing key": "生成县级指令签名密钥",
    "receipt file (default FILE.receipt.json)": "回执文件（默认 FILE.receipt.json）",
    "county Ed25519 private key (PEM)": "县级 Ed25519 私钥（PEM）",
    "command arguments as JSON, or @FILE": "指令参数（JSON，或 @文件）",
    "seconds until the command expires": "指令的有效秒数",
    "seconds to wait for the result (0 = do not wait)": "等待结果的秒数（0 = 不等待）",
    "county Ed25519 private key (`keygen`): signs every ack": (
        "县级 Ed25519 私钥（`keygen` 生成）：为每个确认签名"
    ),
    # county (the county service)
    "county service: receivers on PostgreSQL, shared subscriptions, fleet": (
        "县级服务：基于 PostgreSQL 的接收端、共享订阅、网关总览"
    ),
    "run one receiver instance": "运行一个接收端实例",
    "every hut at a glance (the fleet view)": "所有卫生室一览（网关总览）",
    "postgresql://USER@HOST/DB, or a SQLite FILE": "postgresql://用户@主机/数据库，或一个 SQLite 文件",
    "shared-subscription group: instances with the same group share the load": (
        "共享订阅组：同组的实例分担负载"
    ),
    "county Ed25519 private key: signs every ack": "县级 Ed25519 私钥：为每个确认签名",
    "HOST:PORT for /api/v1/fleet, /metrics and /health": "/api/v1/fleet、/metrics 和 /health 的 主机:端口",
    "this instance's name in the counters (default host-pid)": "本实例在计数器中的名称（默认 主机名-进程号）",
    "the gateways' heartbeat_s": "网关的 heartbeat_s（心跳间隔秒数）",
    # residents
    "register one resident": "登记一位居民",
    "change some fields of a resident": "修改居民的部分信息",
    "import residents from CSV: resident_id,name,sex,birth_year,height_cm "
    "[,guardian_phone,card_number,consent]": (
        "从 CSV 导入居民：resident_id,name,sex,birth_year,height_cm[,guardian_phone,card_number,consent]"
    ),
    "list registered residents": "列出已登记的居民",
    "remove a resident (their devices first)": "移除一位居民（须先移除其设备）",
    "county health-record number (never the national ID)": "县居民健康档案编号（不能用身份证号）",
    "display name": "姓名",
    "male, female, other, unknown (男/女)": "性别：男、女（或 male、female、other、unknown）",
    "e.g. 1950": "例如 1950",
    "height for BMI, e.g. 158": "身高（用于计算 BMI），例如 158",
    "guardian or volunteer to notify (repeatable)": "需通知的监护人或志愿者（可重复）",
    "health card / NFC tag number for kiosk sign-in": "自助终端签到用的健康卡/NFC 卡号",
    "the resident agreed that readings are sent to the county": "居民同意把测量数据上传到县里",
    "the resident did not agree: readings stay in the hut": "居民不同意：测量数据只留在卫生室",
    "import the good rows even when some are bad": "即使有错误行也导入正确的行",
    "replace residents already registered": "覆盖已登记的居民",
    # run / status
    "this hut's gateway id (overrides the file)": "本卫生室的网关编号（优先于配置文件）",
    "mqtt://HOST:PORT or mqtts://HOST:PORT (overrides the file)": (
        "mqtt://主机:端口 或 mqtts://主机:端口（优先于配置文件）"
    ),
    "local API address (overrides the file)": "本地 API 地址（优先于配置文件）",
    "only from the running daemon: exit 6 when it does not answer": (
        "只向正在运行的守护进程查询：无响应时以 6 退出"
    ),
    "show the last N alerts (default 10)": "显示最近 N 条告警（默认 10）",
    "the daemon's local API, HOST:PORT (default: where the running daemon listens, else [api] listen)": (
        "守护进程本地 API 地址 主机:端口（默认：正在运行的守护进程的监听地址，否则 [api] listen）"
    ),
}
