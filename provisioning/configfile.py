"""Reading and rewriting the config file (TOML) for ``hutgw init`` and ``hutgw enroll``.

Every write is validated first (the same model the daemon loads) and atomic (temporary file,
fsync, rename), so a failed command leaves the old file as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

from gateway.config import DEFAULT_CONFIG, parse, read_file
from provisioning.atomicfile import write_atomic

CONFIG_MODE = 0o640  # may hold api.token / uplink.password


def config_path(flag: Path | None) -> Path:
    return Path(flag) if flag is not None else DEFAULT_CONFIG


def read_raw(path: Path) -> dict[str, Any]:
    """The file as a plain dict (raises ``ConfigError`` when missing or not TOML)."""
    return read_file(path)


def write(path: Path, data: dict[str, Any]) -> None:
    """Validate ``data`` and write it to ``path`` atomically (mode 0640, or the old file's)."""
    parse(data, source=str(path))
    text = tomli_w.dumps(data).encode()
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = CONFIG_MODE
    write_atomic(path, text, mode)
