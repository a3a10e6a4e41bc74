"""What every command needs: the validated config and the state folder."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.config import Config, load


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
