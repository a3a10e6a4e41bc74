"""Bluetooth SIG GATT value formats: IEEE-11073 numbers, Date Time, and the one flag-table walker.

Pure code only (no bleak, no I/O): the characteristic profiles under ``drivers/profiles/gatt_*.py``
declare field tables here and present the walked values in the protocol brief's conventions.
"""
