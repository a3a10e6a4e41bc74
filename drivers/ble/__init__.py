"""BLE transport: the only package that imports bleak.

* ``transport.BleTransport`` scans, matches adverts to profiles, connects (bleak-retry-connector)
  by per-profile policy and emits ``RawFrame``s and ``LinkEvent``s to a ``FrameSink``.
* ``scan.scan_once`` and ``pair.pair`` serve ``hutgw devices scan|pair``.
* Pure helpers (no bleak): ``matcher``, ``adverts``, ``dedup``, ``merge``, ``silence``,
  ``backoff``, ``devices``.

Wiring in the gateway (the sink): decode each frame with
``registry.for_frame(frame.transport, frame.channel, device_profile)``; pass the measurements
through ``merge.MeasurementMerger.push(device, measurements, monotonic,
merge=merge.merge_rule(device_profile))`` (the definition's ``Profile.merge``), call
``flush(device)`` on a ``disconnected`` link event and ``due(monotonic)`` every second or so; then drop what
``dedup.Deduplicator.seen(device, measurement, monotonic)`` reports as already passed on.
"""
