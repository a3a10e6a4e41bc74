"""What runs at the county: the receiver (MQTT, shared subscriptions), its stores (SQLite, PostgreSQL),
the fleet view and the service's HTTP API (docs/county.md). Imports the wire contract from uplink/."""
