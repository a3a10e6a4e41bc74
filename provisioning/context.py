"""What every command needs: the validated config and the state folder."""

from __future__ import annotations

import argparse
import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.config import Config, load

if TYPE_CHECKING:
    from gateway.registry import Registry


@dataclass(frozen=True, slots=True)
class Context:
    config: Config
    state_dir: Path


def load_context(args: argparse.Namespace, **overrides: Any) -> Context:
    """Config from ``--config`` (or the default file), with ``--state-dir`` and extra overrides."""
    values: dict[str, Any] = {"state_dir": str(args.state_dir) if getattr(args, "state_dir", None) else None}
    values.update(overrides)
    config = load(getattr(args, "config", None), overrides=values)
    return Context(config=config, state_dir=Path(config.state_dir))


def require_writable(*paths: Path) -> None:
    """Raise ``PermissionError`` (one sentence and exit 7 from ``hutgw``) for the first existing
    path this user may not write: SQLite would otherwise fail later as "readonly database", which
    reads like a damaged file."""
    for p in paths:
        if p.exists() and not os.access(p, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(p))


def open_registry_file(path: Path) -> Registry:
    """The registry at ``path`` (``<state_dir>/registry.db``), checked writable first."""
    from gateway.registry import Registry

    require_writable(path.parent, path)
    return Registry(path)
