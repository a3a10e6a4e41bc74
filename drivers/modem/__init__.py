"""The hut's 4G modem as an SMS channel (3GPP TS 27.005 / 27.007 over the modem's AT port).

Layers, bottom up; each imports only the ones below it (and ``drivers.errors``):

* :mod:`drivers.modem.gsm7` — the GSM 7-bit default alphabet, its escape table, septet packing.
* :mod:`drivers.modem.pdu` — pure codec: ``encode_submit`` (SMS-SUBMIT, 7-bit or UCS-2,
  concatenated parts with an 8-bit reference) and ``decode_deliver`` (SMS-DELIVER, 7-bit with fill
  bits after a header, 8-bit, UCS-2; alphanumeric senders; the SCTS with its time zone).
  No I/O, no clock; faults raise :class:`~drivers.modem.errors.PduError`.
* :mod:`drivers.modem.at` — :class:`~drivers.modem.at.AtChannel`: lines in, one command at a time
  with a timeout, final result codes (``OK``/``ERROR``/``+CME ERROR``/``+CMS ERROR``), echo
  tolerated, unsolicited result codes routed to a handler at any moment, the ``> `` PDU prompt.
  It is fed bytes and writes through a callable: no port of its own.
* :mod:`drivers.modem.modem` — :class:`~drivers.modem.modem.Modem`: the port (pyserial-asyncio-fast
  by default, injectable), reopening with jittered backoff, initialisation, status polling
  (SIM, registration, signal, operator) into :class:`~drivers.modem.modem.ModemState`, receiving
  (``+CMTI`` -> ``AT+CMGR``; ``AT+CMGL=4`` at start and on every status pass; concatenated parts
  held until complete; ``on_sms`` before ``AT+CMGD``) and sending (``AT+CMGS`` in PDU mode, one
  message at a time).
* :mod:`drivers.modem.errors` — ``ModemError`` (a ``DriverError``) and its family.

The simulator the tests and the bench run against is ``devtools/modemsim.py``: a pty
answering as a modem does, with its own PDU codec written from the standards.
"""

from drivers.modem.errors import ModemError, ModemUnavailable, PduError, SmsSendError
from drivers.modem.modem import IncomingSms, Modem, ModemState
from drivers.modem.pdu import DeliverPdu, SubmitPdu, decode_deliver, encode_submit, parts_needed

__all__ = [
    "DeliverPdu",
    "IncomingSms",
    "Modem",
    "ModemError",
    "ModemState",
    "ModemUnavailable",
    "PduError",
    "SmsSendError",
    "SubmitPdu",
    "decode_deliver",
    "encode_submit",
    "parts_needed",
]
