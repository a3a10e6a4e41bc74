"""4G elderly watches ("watch" protocol, Beesure/SeTracker family): frame codec, stream framer,
position/alarm decoding, and the TCP listener (:mod:`drivers.watch.server`)."""
