"""BLE transport: the only package that imports bleak.

``transport.BleTransport`` scans, matches adverts to profiles, connects (bleak-retry-connector)
by per-profile policy and emits ``RawFrame``s and ``LinkEvent``s to a ``FrameSink``;
``scan.scan_once`` and ``pair.pair`` serve ``hutgw devices scan|pair``. The pure helpers
(``matcher``, ``adverts``, ``dedup``, ``merge``, ``silence``, ``backoff``) import no bleak and are
usable by the gateway for other sources too.
"""
