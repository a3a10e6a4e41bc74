"""The uplink: the wire contract, the MQTT client that drains the outbox, the reference receiver."""
