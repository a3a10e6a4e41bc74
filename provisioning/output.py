"""How commands print: rich tables for people, one JSON document for scripts, progress bars.

A handler builds one :class:`Output` from its arguments (``Output.of(args)``) and calls
:meth:`Output.result` with the data (what ``--json`` prints) and a function that renders it
for people. Everything for people goes through a rich console with markup off, so that names,
paths and device data are printed as they are. Progress bars (for anything that may take
more than a second) go to stderr, only when it is a terminal and ``--json`` is off.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from provisioning.i18n import t

#: Width used when stdout is not a terminal (pipes, logs): wide enough not to wrap paths.
PIPE_WIDTH = 160


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: Chinese characters (East Asian wide/full-width)
    take two."""
    return sum(
        2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1
        for ch in text
    )


def aligned(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: frozenset[int] = frozenset()
) -> list[str]:
    """Plain-text columns that line up by display width (names in Chinese included), two
    spaces apart; the last column is not padded; columns in ``right`` are right-aligned."""
    table = [list(headers), *[list(r) for r in rows]]
    widths = [max(display_width(r[i]) for r in table) for i in range(len(headers))]
    lines = []
    for r in table:
        cells = []
        for i, cell in enumerate(r):
            gap = " " * (widths[i] - display_width(cell))
            if i == len(r) - 1 and i not in right:
                cells.append(cell)
            else:
                cells.append(gap + cell if i in right else cell + gap)
        lines.append("  ".join(cells).rstrip())
    return lines


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def _cell(value: Any) -> Text:
    if value is None or value == "":
        return Text(t("word.none"))
    if isinstance(value, bool):
        return Text(t("word.yes") if value else t("word.no"))
    if isinstance(value, float):
        return Text(f"{value:g}")
    return Text(str(value))


class Ticker:
    """What a progress block hands out: ``advance`` the bar."""

    def __init__(self, progress: Progress | None, task: TaskID | None) -> None:
        self._progress = progress
        self._task = task

    def advance(self, amount: float = 1.0) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, amount)


class Output:
    def __init__(
        self, *, json_mode: bool, stdout: IO[str] | None = None, stderr: IO[str] | None = None
    ) -> None:
        self.json_mode = json_mode
        self._stdout = stdout if stdout is not None else sys.stdout
        self._stderr = stderr if stderr is not None else sys.stderr
        self.console = Console(
            file=self._stdout,
            highlight=False,
            markup=False,
            emoji=False,
            width=None if self._stdout.isatty() else PIPE_WIDTH,
        )

    @classmethod
    def of(cls, args: argparse.Namespace) -> Output:
        return cls(json_mode=bool(getattr(args, "json", False)))

    # ------------------------------------------------------------------ results

    def result(self, data: Any, human: Callable[[Output], None]) -> None:
        """``--json``: print ``data`` as one JSON document; otherwise call ``human(self)``."""
        if self.json_mode:
            print(dumps(data), file=self._stdout, flush=True)
        else:
            human(self)

    def line(self, text: str = "") -> None:
        """A line for people (stdout); nothing in ``--json`` mode."""
        if not self.json_mode:
            self.console.print(Text(text), soft_wrap=True)

    def note(self, text: str) -> None:
        """A remark that is not the result (stderr), in both modes."""
        print(text, file=self._stderr, flush=True)

    def warn(self, text: str) -> None:
        self.note(t("warning.frame", message=text))

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        title: str | None = None,
    ) -> None:
        table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, box=None)
        for heading in columns:
            table.add_column(heading, overflow="fold")
        for row in rows:
            table.add_row(*(_cell(v) for v in row))
        self.console.print(table)

    def pairs(self, title: str, items: Sequence[tuple[str, Any]]) -> None:
        """A small key/value block with a heading."""
        table = Table(title=title, title_justify="left", show_header=False, show_edge=False, box=None)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for key, value in items:
            table.add_row(Text(key), _cell(value))
        self.console.print(table)

    # ------------------------------------------------------------------ progress

    @contextlib.contextmanager
    def progress(self, description: str, total: float | None = None) -> Iterator[Ticker]:
        """A progress bar (or spinner when ``total`` is None) on stderr while the block runs."""
        show = not self.json_mode and self._stderr.isatty()
        if not show:
            yield Ticker(None, None)
            return
        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=Console(file=self._stderr, highlight=False, markup=False),
            transient=True,
        )
        with progress:
            task = progress.add_task(description, total=total)
            yield Ticker(progress, task)
