"""Tanita body-composition analysers over RS-232C / USB serial (``tanita.serial``).

Declared as data in ``drivers/serial/formats/tanita.toml`` (header table, checksum rule,
measurement mapping); this module only registers it.
"""

from __future__ import annotations

from drivers.serial.formats import builtin

PROFILE = builtin("tanita")
