"""The local HTTP API (aiohttp): readings intake, health, kiosk sessions and events."""
