"""Errors of the technician CLI. Exit codes are documented in docs/cli.md."""

from __future__ import annotations

from hutgw_errors import HutError

EXIT_OK = 0
EXIT_FAILURE = 1  # the command ran and failed (a rejected frame, a failed test)
EXIT_CONFIG = 2  # invalid configuration or usage
EXIT_INPUT = 3  # bad input: a file (CSV, GeoJSON, certificate) or a value (address, id)
EXIT_CONFLICT = 4  # duplicate id, already exists
EXIT_NOT_FOUND = 5  # unknown resident, device, profile or missing file
EXIT_UNREACHABLE = 6  # the daemon (or broker) could not be reached
EXIT_PERMISSION = 7  # this user may not read or write a file or folder the command needs


class ProvisioningError(HutError):
    """Family root for CLI errors."""


class BadInputError(ProvisioningError):
    exit_code = EXIT_INPUT


class ConflictError(ProvisioningError):
    exit_code = EXIT_CONFLICT


class NotFoundError(ProvisioningError):
    exit_code = EXIT_NOT_FOUND


class UnreachableError(ProvisioningError):
    exit_code = EXIT_UNREACHABLE


class FailureError(ProvisioningError):
    exit_code = EXIT_FAILURE


class PermissionDeniedError(ProvisioningError):
    exit_code = EXIT_PERMISSION
