"""``<state_dir>/runtime.json``: where the running daemon listens.

The daemon writes it once it is ready and removes it when it stops; ``hutgw status`` (and any
other command that talks to the daemon) reads it, so that a daemon started with ``--api`` or
``--broker`` is found where it really is. Light on purpose: the CLI reads it without importing
the daemon.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RUNTIME_FILE = "runtime.json"


def read_runtime(state_dir: Path) -> dict[str, Any] | None:
    """The file's content when the daemon that wrote it is still running (its pid alive), else None."""
    try:
        data = json.loads((Path(state_dir) / RUNTIME_FILE).read_text(encoding="utf-8"))
        pid = int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except PermissionError:
        pass  # alive: another user's process (the service user's)
    except OSError:
        return None
    return data if isinstance(data, dict) else None


def write_runtime(state_dir: Path, data: dict[str, Any]) -> Path:
    """Replace the file atomically; returns its path (the caller removes it when it stops)."""
    path = Path(state_dir) / RUNTIME_FILE
    tmp = path.with_name(f".{RUNTIME_FILE}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
