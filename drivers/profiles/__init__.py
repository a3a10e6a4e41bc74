"""Built-in device profiles: one module per device or protocol, each declaring ``PROFILE`` or ``PROFILES``."""
