"""Tests use the same private-Mosquitto launcher as the demo and the benchmarks."""

from devtools.mosquitto import Broker, free_port, mosquitto_binary, running_broker

__all__ = ["Broker", "free_port", "mosquitto_binary", "running_broker"]
