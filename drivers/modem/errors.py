"""Errors of the 4G modem SMS channel (:mod:`drivers.modem`)."""

from __future__ import annotations

from drivers.errors import DriverError


class ModemError(DriverError):
    """Family root of the modem channel: the PDU codec, the AT layer and the modem."""


class PduError(ModemError):
    """A PDU could not be encoded or decoded.

    ``category`` says what kind of fault it is: ``truncated``, ``bad_length``, ``malformed``,
    ``unsupported`` or ``out_of_range``.
    """

    def __init__(self, category: str, detail: str) -> None:
        super().__init__(
            f"{category}: {detail}", hint="the PDU hex is logged for inspection / PDU 十六进制已记入日志"
        )
        self.category = category
        self.detail = detail


class SmsSendError(ModemError):
    """An SMS could not be sent.

    ``temporary`` is True when trying again later may work (network trouble, ``+CMS ERROR: 500``,
    a timeout), False when it will not (an invalid or barred number, a message the network refuses).
    """

    def __init__(self, message: str, *, temporary: bool, code: int | None = None) -> None:
        super().__init__(
            message,
            hint=(
                "retry later; check the modem's signal and SIM credit / 稍后重试，检查信号和话费"
                if temporary
                else "check the phone number / 请检查电话号码"
            ),
        )
        self.temporary = temporary
        self.code = code


class ModemUnavailable(ModemError):
    """The modem cannot send now: port missing, not initialised, no SIM or not registered.

    Always temporary: the channel keeps retrying in the background.
    """

    temporary = True

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            hint=(
                "check the modem's USB cable, the SIM card and the antenna / "
                "检查 4G 模块的 USB 线、SIM 卡和天线"
            ),
        )


class AtError(ModemError):
    """A command ended in ``ERROR``, ``+CME ERROR: <n>`` or ``+CMS ERROR: <n>``.

    ``kind`` is ``"ERROR"``, ``"CME"`` or ``"CMS"`` (or another final code such as ``"NO CARRIER"``);
    ``code`` the numeric code when there is one (``AT+CMEE=1``), else None.
    """

    def __init__(self, command: str, kind: str, code: int | None, text: str) -> None:
        super().__init__(f"{command}: {text}", hint="see 3GPP TS 27.007 / 27.005 for the code")
        self.command = command
        self.kind = kind
        self.code = code
        self.text = text


class AtTimeout(ModemError):
    """A command got no final result code in time."""

    def __init__(self, command: str, timeout_s: float) -> None:
        super().__init__(
            f"{command}: no answer within {timeout_s:g} s", hint="the modem may be resetting or stuck"
        )
        self.command = command


class PortClosed(ModemError):
    """The AT port closed (USB re-plug, modem reset) while a command was pending."""

    def __init__(self, detail: str = "the AT port closed") -> None:
        super().__init__(detail, hint="the channel reopens the port by itself")
