"""Omron HBP-9030/9031 "format 5" over serial (``omron.hbp9030``), PROVISIONAL.

The layout is not publicly confirmed (protocol brief, section 11); it is declared as data in
``drivers/serial/formats/omron_hbp9030.toml`` and marked ``provisional``.
"""

from __future__ import annotations

from drivers.serial.formats import builtin

PROFILE = builtin("omron_hbp9030")
