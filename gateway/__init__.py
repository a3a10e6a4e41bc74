"""The daemon: wiring, core rules (attribution, checks, alerts, time, fences) and the kiosk API."""
