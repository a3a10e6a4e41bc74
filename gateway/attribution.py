"""To whom a reading belongs.

In order:

1. a multi-user device (BLE User ID) whose ``user_map`` maps the reported user index ->
   that resident (``device_user``); index 255 means "unknown user" and never maps;
2. a personal device (bound to a resident) -> its owner (``personal``);
3. a shared hut device with a resident signed in at the kiosk -> that resident (``session``);
4. otherwise nobody (``unattributed``): the reading is kept and can be assigned later.

A device the registry does not know is never attributed to the signed-in resident: a
neighbour's scale in radio range must not write into someone's record.
"""

from __future__ import annotations

from gateway.registry import DeviceEntry
from gateway.sessions import Session
from uplink.codec import Attribution

UNKNOWN_USER = 0xFF


def attribute(
    device: DeviceEntry | None, user_index: int | None, session: Session | None
) -> tuple[str | None, Attribution]:
    if device is None:
        return None, "unattributed"
    if user_index is not None and user_index != UNKNOWN_USER:
        mapped = device.user_map.get(user_index)
        if mapped is not None:
            return mapped, "device_user"
    if device.resident_id is not None:
        return device.resident_id, "personal"
    if session is not None:
        return session.resident_id, "session"
    return None, "unattributed"
