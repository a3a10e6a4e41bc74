"""Serial devices: line framer, checksum rules, the data-declared line-format engine.

The pyserial transport lives in :mod:`drivers.serial.transport` and is the only module here that
imports pyserial; everything else is pure and usable by decoders.
"""
