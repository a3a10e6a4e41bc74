"""Device profiles and transports.

A leaf package: decoders turn one :class:`drivers.frames.RawFrame` into decoded
measurements and never do I/O; transports (bleak, pyserial, TCP) emit ``RawFrame``s.
Nothing here stores or sends anything.
"""
