"""The ``hutgw`` argument parser: global options anywhere, messages in the user's language.

* The global options (``--config``, ``--state-dir``, ``--json``, ``--lang``, ``-v``) are
  accepted before or after the sub-command, at every level (``hutgw --lang zh residents list``,
  ``hutgw residents list --lang zh``): the top parser holds their defaults and every sub-parser
  accepts them without a default of its own (so a sub-parser never resets what was given
  before it).
* Usage errors name the option meant when one is misspelt (``--stat-dir`` -> ``--state-dir``)
  and are printed in the chosen language, as are every ``--help`` text and the argparse
  headings (:data:`provisioning.helptext.HELP_ZH`).
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from provisioning import i18n
from provisioning.helptext import HELP_ZH
from provisioning.i18n import t

GLOBAL_OPTIONS = ("--config", "--state-dir", "--json", "--lang", "--verbose")


def add_global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The options every command takes; ``defaults=False`` for sub-parsers (``SUPPRESS``)."""

    def d(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    group = parser.add_argument_group(t("argparse.global_options"))
    taken = set(parser._option_string_actions)

    def add(*names: str, **kwargs: Any) -> None:
        if not taken.intersection(names):  # a command may define one itself
            group.add_argument(*names, **kwargs)

    add("--config", type=Path, default=d(None), help="config file (default /etc/hutgw/hutgw.toml)")
    add("--state-dir", type=Path, default=d(None), help="state folder (default /var/lib/hutgw)")
    add("--json", action="store_true", default=d(False), help="machine-readable output")
    add("--lang", choices=["en", "zh"], default=d(None), help="message language (default from LANG)")
    add("-v", "--verbose", action="count", default=d(0), help="more log output")


def scan_lang(argv: Sequence[str]) -> str | None:
    """``--lang X`` / ``--lang=X`` anywhere in ``argv`` (before parsing: the help and the usage
    errors are already in that language)."""
    found = None  # the last one wins, as in argparse
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith("--lang="):
            found = arg.partition("=")[2]
    return found


class HelpFormatter(argparse.HelpFormatter):
    def add_usage(
        self,
        usage: str | None,
        actions: Any,
        groups: Any,
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, t("argparse.usage") if prefix is None else prefix)

    def format_help(self) -> str:
        text = super().format_help()
        if i18n.current() == "zh":  # argparse puts an ASCII colon after each heading
            text = re.sub(r"(?m)^(\s*\S[^\n]*?[\u4e00-\u9fff）]):$", r"\1：", text)
        return text


#: argparse's own messages (Python 3.11) -> catalog key; the named groups become parameters.
_ARGPARSE_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.S), k)
    for p, k in (
        (r"^the following arguments are required: (?P<args>.+)$", "argparse.required"),
        (r"^unrecognized arguments: (?P<args>.+)$", "argparse.unrecognized"),
        (r"^one of the arguments (?P<args>.+) is required$", "argparse.one_of"),
        (r"^argument (?P<arg>.+?): not allowed with argument (?P<other>.+)$", "argparse.not_allowed"),
        (
            r"^argument (?P<arg>.+?): invalid choice: (?P<value>.+?) \(choose from (?P<choices>.+)\)$",
            "argparse.invalid_choice",
        ),
        (r"^argument (?P<arg>.+?): expected one argument$", "argparse.expected_one"),
        (r"^argument (?P<arg>.+?): expected at least one argument$", "argparse.expected_some"),
        (r"^argument (?P<arg>.+?): invalid (?P<type>\S+) value: (?P<value>.+)$", "argparse.invalid_value"),
        (r"^ambiguous option: (?P<option>\S+) could match (?P<matches>.+)$", "argparse.ambiguous"),
        (r"^argument (?P<arg>.+?): ignored explicit argument (?P<value>.+)$", "argparse.ignored"),
    )
)


def translate_usage_error(message: str) -> str:
    for pattern, key in _ARGPARSE_MESSAGES:
        m = pattern.match(message)
        if m:
            return t(key, **m.groupdict())
    return message


def _walk(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sp in dict.fromkeys(action.choices.values()):
                yield from _walk(sp)


def _options(parser: argparse.ArgumentParser) -> list[str]:
    out: dict[str, None] = {}
    for p in _walk(parser):
        for action in p._actions:
            for s in action.option_strings:
                if s.startswith("--"):
                    out[s] = None
    return list(out)


class HutParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with localised headings and errors and "did you mean"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self._positionals.title = t("argparse.positionals")
        self._optionals.title = t("argparse.options")
        for action in self._actions:
            if isinstance(action, argparse._HelpAction):
                action.help = t("argparse.help")

    def suggestion(self, message: str) -> str | None:
        """The option or command meant, for an unknown one in ``message``."""
        m = re.match(r"^unrecognized arguments: (.+)$", message)
        if m:
            known = _options(self)
            for token in str(m.group(1)).split():
                if token.startswith("--"):
                    close = difflib.get_close_matches(token.partition("=")[0], known, n=1, cutoff=0.6)
                    if close:
                        return close[0]
            return None
        m = re.match(
            r"^argument .+?: invalid choice: '(?P<value>[^']*)' \(choose from (?P<choices>.+)\)$",
            message,
        )
        if m:
            choices = [c.strip().strip("'") for c in m.group("choices").split(",")]
            close = difflib.get_close_matches(m.group("value"), choices, n=1, cutoff=0.6)
            return close[0] if close else None
        return None

    def error(self, message: str) -> NoReturn:
        meant = self.suggestion(message)
        text = translate_usage_error(message)
        if meant is not None:
            text += t("argparse.did_you_mean", meant=meant)
        self.print_usage(sys.stderr)
        self.exit(2, t("argparse.error", prog=self.prog, message=text) + "\n")


def everywhere(parser: argparse.ArgumentParser) -> None:
    """Give the global options to the intermediate parsers too (``hutgw residents --lang zh list``)
    and each command its summary as the description of its ``--help``."""
    for p in _walk(parser):
        if "--lang" not in p._option_string_actions:
            add_global_options(p, defaults=False)
        for action in p._actions:  # `hutgw X --help` says what X does (its summary)
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    sp = action.choices.get(choice.dest)
                    if sp is not None and sp.description is None and choice.help:
                        sp.description = choice.help


def localize(parser: argparse.ArgumentParser) -> None:
    """Every help text, description and command summary in the current language (after all
    commands registered: their modules give the English text)."""
    if i18n.current() == "en":
        return
    for p in _walk(parser):
        if p.description:
            p.description = HELP_ZH.get(p.description, p.description)
        for action in p._actions:
            if isinstance(action.help, str) and action.help != argparse.SUPPRESS:
                action.help = HELP_ZH.get(action.help, action.help)
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    if choice.help:
                        choice.help = HELP_ZH.get(choice.help, choice.help)


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def untranslated(parser: argparse.ArgumentParser) -> list[str]:
    """Help texts with no Chinese in them (for the tests, on a parser built with ``zh``)."""
    out: dict[str, None] = {}
    for p in _walk(parser):
        texts = [p.description] + [a.help for a in p._actions]
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                texts += [c.help for c in action._choices_actions]
        for text in texts:
            if isinstance(text, str) and text != argparse.SUPPRESS and not _has_cjk(text):
                out[text] = None
    return list(out)
