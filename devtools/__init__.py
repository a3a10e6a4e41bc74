"""Development tools the demo and the tests share; never used by the daemon.

``hutgw demo`` itself (:mod:`devtools.demo`), simulated devices (:mod:`devtools.simulate`, the 4G
modem on a pty in :mod:`devtools.modemsim`) and the development brokers: a private Mosquitto
(:mod:`devtools.mosquitto`) and an embedded one where Mosquitto is missing
(:mod:`devtools.minibroker`). May import every package, like ``provisioning/``."""
