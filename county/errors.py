"""The county service's error family."""

from __future__ import annotations

from hutgw_errors import HutError


class CountyError(HutError):
    """Something the county receiver or its store could not do."""


class StoreUnavailable(CountyError):
    """The database did not answer (restarting, unreachable); the envelope is retried, not acked."""
