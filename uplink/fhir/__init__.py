"""FHIR R4 output for county platforms: PHD IG Bundles over MQTT or HTTP (see docs/fhir.md)."""
