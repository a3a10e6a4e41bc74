"""Serial test data: device lines as the devices send them."""

from __future__ import annotations

from drivers.serial.checksums import sum8_hex


def tanita_line(weight: float) -> bytes:
    """A short Tanita SC-240 style line with a correct ``CS``, terminated CR LF."""
    text = f'{{0,16,~0,1,~1,1,~2,1,MO,"SC-240",Wk,{weight},FW,20.0,'
    return f"{text}CS,{sum8_hex(text.encode())}\r\n".encode()
