"""Errors of the uplink layer."""

from __future__ import annotations

from hutgw_errors import HutError


class UplinkError(HutError):
    """Family root for the MQTT client, the contract and the receiver."""


class ContractError(UplinkError):
    """A message does not follow the uplink contract."""


class BrokerAuthError(UplinkError):
    """The broker refused our credentials or certificate."""
