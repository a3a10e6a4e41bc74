"""The kiosk page residents use (static files served by ``gateway.api.page``)."""
