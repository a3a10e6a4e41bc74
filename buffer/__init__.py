"""The durable outbox: opaque records in priority lanes, persisted before acknowledgement.

A leaf package: it knows nothing of readings, MQTT or devices; it stores bytes.
"""
