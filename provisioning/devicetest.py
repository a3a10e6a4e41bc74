"""``hutgw devices test``: wait for one live reading from a device and decode it.

With the daemon running, its event stream (``/api/v1/events``) is watched for a reading from
the device (the daemon holds the serial port and the radio). Otherwise the CLI opens the link
itself: a serial port through :class:`SerialTransport` with the profile's framer, a BLE device
through :class:`BleTransport` (with the backend given, or BlueZ). 4G watches connect to the
daemon's listener, so they need the daemon.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers import registry as builtin_profiles
from drivers.ble.transport import BleBackend
from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.measurement import Measurement
from drivers.profile import Profile
from drivers.source import LinkEvent
from gateway.clock import Clock
from gateway.registry import DeviceEntry
from provisioning.daemon_api import DaemonApi
from provisioning.errors import ProvisioningError, UnreachableError
from provisioning.i18n import t

log = logging.getLogger("hutgw.cli.test")


class TestFailedError(ProvisioningError):
    """The device gave no usable reading (exit code 1)."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class LiveReading:
    device: str
    via: str
    kind: str
    values: dict[str, dict[str, Any]]
    measured_at: str | None = None
    raw_hex: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "via": self.via,
            "kind": self.kind,
            "values": self.values,
            "measured_at": self.measured_at,
        }


def _values(m: Measurement) -> dict[str, dict[str, Any]]:
    return {k: {"value": v.value, "unit": v.unit} for k, v in m.values.items()}


@dataclass
class FirstReading:
    """A :class:`FrameSink` that decodes what arrives and keeps the first measurement."""

    device: DeviceEntry
    profile: Profile
    via: str
    result: asyncio.Future[LiveReading] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    last_error: str | None = None
    open_failure: str | None = None
    adapter_failure: str | None = None
    on_link: Callable[[LinkEvent], None] | None = None

    async def frame(self, raw: RawFrame) -> bytes | None:
        if raw.transport in ("ble_gatt", "ble_adv"):
            profile = builtin_profiles.for_frame(raw.transport, raw.channel, self.profile.name)
        else:
            profile = self.profile
        if profile is None or self.result.done():
            return None
        try:
            decoded = profile.decode(raw)
        except DecodeError as e:
            self.last_error = str(e)
            log.info("[%s] frame rejected: %s", self.device.id, e)
            return None
        except Exception as e:  # a decoder bug: report it as a rejected frame
            self.last_error = f"decoder failed: {type(e).__name__}"
            return None
        for m in decoded.measurements:
            self.result.set_result(
                LiveReading(
                    device=self.device.id,
                    via=self.via,
                    kind=m.kind,
                    values=_values(m),
                    measured_at=m.device_time.isoformat() if m.device_time else None,
                    raw_hex=raw.data.hex(),
                )
            )
            break
        return decoded.reply

    def link(self, event: LinkEvent) -> None:
        if event.state == "error" and self.adapter_failure is None:
            self.adapter_failure = event.detail
        if (
            event.state == "disconnected"
            and event.detail.startswith("cannot open")
            and self.open_failure is None
        ):
            self.open_failure = event.detail
        if self.on_link is not None:
            self.on_link(event)


def timeout_hint(link: str | None, ble_enabled: bool, watch_listen: str | None) -> str:
    """What to check when a device of this link sent nothing: serial advice only for serial."""
    if link == "ble":
        return t("devices.test.ble_hint") if ble_enabled else t("devices.test.ble_off_hint")
    if link == "watch":
        if watch_listen is None:
            return t("devices.test.watch_off_hint")
        return t("devices.test.watch_hint", listen=watch_listen)
    return t("devices.test.timeout_hint")


async def via_daemon(
    api: DaemonApi, device: DeviceEntry, timeout_s: float, *, hint: str | None = None
) -> LiveReading:
    hint = hint or t("devices.test.timeout_hint")

    async def first() -> LiveReading:
        async for ev in api.events():
            if ev.type == "reading" and ev.data.get("device") == device.id:
                values = ev.data.get("values") or {}
                return LiveReading(
                    device=device.id,
                    via="daemon",
                    kind=str(ev.data.get("kind")),
                    values={k: dict(v) for k, v in values.items() if isinstance(v, dict)},
                    measured_at=ev.data.get("effective_at"),
                )
        raise TestFailedError(  # the daemon closed the stream
            t("devices.test.timeout", id=device.id, seconds=timeout_s), hint=hint
        )

    try:
        return await asyncio.wait_for(first(), timeout_s)
    except TimeoutError:
        raise TestFailedError(t("devices.test.timeout", id=device.id, seconds=timeout_s), hint=hint) from None


async def _wait(
    sink: FirstReading,
    device: DeviceEntry,
    timeout_s: float,
    *,
    serial_path: str | None,
    hint: str | None = None,
) -> LiveReading | ProvisioningError:
    """The first reading, or the error to raise once the transport is closed (a transport's
    task group would wrap an exception raised inside its block)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if sink.result.done():
            return sink.result.result()
        if serial_path is None and sink.adapter_failure is not None:
            return UnreachableError(
                t("devices.ble_failed", detail=sink.adapter_failure), hint=t("devices.ble_failed_hint")
            )
        if serial_path is not None and sink.open_failure is not None:
            return TestFailedError(
                t("devices.test.port_failed", path=serial_path, detail=sink.open_failure),
                hint=t("devices.test.port_failed_hint"),
            )
        await asyncio.wait([sink.result], timeout=min(0.1, max(0.0, deadline - loop.time())))
    if sink.result.done():
        return sink.result.result()
    if sink.last_error is not None:
        return TestFailedError(
            t("devices.test.rejected", error=sink.last_error),
            hint=t("devices.test.rejected_hint", profile=sink.profile.name),
        )
    return TestFailedError(
        t("devices.test.timeout", id=device.id, seconds=timeout_s),
        hint=hint or t("devices.test.timeout_hint"),
    )


def _outcome(result: LiveReading | ProvisioningError) -> LiveReading:
    if isinstance(result, ProvisioningError):
        raise result
    return result


async def via_serial(device: DeviceEntry, profile: Profile, timeout_s: float, clock: Clock) -> LiveReading:
    from drivers.serial.transport import SerialTransport

    assert device.address is not None
    sink = FirstReading(device, profile, "serial")
    async with SerialTransport(
        device.id,
        device.address,
        profile,
        sink,
        clock=lambda: clock.now().timestamp(),
        logger=logging.getLogger(f"hutgw.cli.serial.{device.id}"),
        backoff_initial_s=0.2,
        backoff_max_s=1.0,
    ):
        result = await _wait(sink, device, timeout_s, serial_path=device.address)
    return _outcome(result)


async def via_ble(
    device: DeviceEntry,
    profile: Profile,
    timeout_s: float,
    clock: Clock,
    backend: BleBackend | None,
    *,
    hint: str | None = None,
) -> LiveReading:
    from drivers.ble.transport import BleTransport

    assert device.address is not None
    sink = FirstReading(device, profile, "ble")
    async with BleTransport(
        [(device.address, profile.name)],
        sink,
        clock=clock,
        backend=backend,
        max_connections=1,
        logger=logging.getLogger("hutgw.cli.ble"),
    ):
        result = await _wait(
            sink, device, timeout_s, serial_path=None, hint=hint or t("devices.test.ble_hint")
        )
    return _outcome(result)
