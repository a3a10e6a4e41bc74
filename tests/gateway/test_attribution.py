from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

from gateway.attribution import attribute
from gateway.registry import DeviceEntry
from gateway.sessions import Session

SESSION = Session("s1", "R009", "card", datetime(2026, 1, 1, tzinfo=UTC), 0.0)
SHARED = DeviceEntry("hut-cuff", "gatt.blood_pressure", "AA:BB:CC:DD:EE:FF")
MULTI = DeviceEntry(
    "hut-scale", "gatt.weight", "AA:BB:CC:DD:EE:00", user_map=MappingProxyType({1: "R001", 2: "R002"})
)
PERSONAL = DeviceEntry("band", "watch.tcp", "8800000015", resident_id="R005")


def test_shared_device_with_and_without_session() -> None:
    assert attribute(SHARED, None, SESSION) == ("R009", "session")
    assert attribute(SHARED, None, None) == (None, "unattributed")


def test_personal_device_ignores_the_kiosk() -> None:
    assert attribute(PERSONAL, None, SESSION) == ("R005", "personal")
    assert attribute(PERSONAL, None, None) == ("R005", "personal")


def test_multi_user_device() -> None:
    assert attribute(MULTI, 2, SESSION) == ("R002", "device_user")
    assert attribute(MULTI, 1, None) == ("R001", "device_user")
    assert attribute(MULTI, 3, SESSION) == ("R009", "session")  # unmapped slot: the signed-in resident
    assert attribute(MULTI, 3, None) == (None, "unattributed")
    assert attribute(MULTI, 0xFF, None) == (None, "unattributed")  # 255 = unknown user


def test_unknown_device_is_never_given_to_the_signed_in_resident() -> None:
    assert attribute(None, None, SESSION) == (None, "unattributed")
    assert attribute(None, 1, None) == (None, "unattributed")
