"""Down-link commands that change this hut's registry (signature, expiry and replay are
checked by :mod:`uplink.commands` before anything here runs)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

from gateway.geofence.store import ZoneStore
from gateway.geofence.zones import parse_feature_collection
from gateway.registry import InUseError, InvalidEntryError, Registry, ResidentEntry, validate_resident
from hutgw_errors import HutError
from uplink.codec import CommandResult, CommandStatus
from uplink.commands import AlertAckArgs, GeofencesArgs, ResidentsArgs
from uplink.contract import Command

log = logging.getLogger("hutgw.commands")


class AlertAcker(Protocol):
    """What ``alert.ack`` needs of the escalation engine (:class:`gateway.notify.engine.Escalation`)."""

    def acknowledge(self, alert_id: str, *, by: str, via: str) -> Any: ...


class CommandHandler:
    def __init__(
        self,
        registry: Registry,
        zones: ZoneStore,
        *,
        gateway_id: str,
        clock: Any,
        alerts: AlertAcker | None = None,
    ) -> None:
        self._registry = registry
        self._zones = zones
        self._alerts = alerts
        self._gateway_id = gateway_id
        self._clock = clock

    def _result(
        self, cmd: Command, status: CommandStatus, *, reason: str | None = None, **result: Any
    ) -> CommandResult:
        now: datetime = self._clock.now()
        return CommandResult(
            command_id=cmd.id,
            gateway_id=self._gateway_id,
            name=cmd.name,
            status=status,
            reason=reason,
            result=result,
            at=now,
        )

    async def __call__(self, cmd: Command) -> CommandResult:
        try:
            if cmd.name == "residents":
                return self._residents(cmd, ResidentsArgs.model_validate(cmd.args))
            if cmd.name == "geofences":
                return self._geofences(cmd, GeofencesArgs.model_validate(cmd.args))
            if cmd.name == "alert.ack":
                return self._alert_ack(cmd, AlertAckArgs.model_validate(cmd.args))
        except HutError as e:
            return self._result(cmd, "failed", reason=str(e))
        return self._result(cmd, "refused", reason=f"{cmd.name} is not handled by the registry")

    def _residents(self, cmd: Command, args: ResidentsArgs) -> CommandResult:
        # Validate every entry first: a list with any bad entry changes nothing.
        entries: list[ResidentEntry] = []
        errors: dict[str, str] = {}
        for i, raw in enumerate(args.residents):
            try:
                entries.append(
                    validate_resident(
                        **{
                            "id": raw.get("resident_id", raw.get("id")),
                            **{k: v for k, v in raw.items() if k not in ("id", "resident_id")},
                        }
                    )
                )
            except InvalidEntryError as e:
                errors.update({f"residents[{i}].{k}": v for k, v in e.errors.items()})
            except TypeError as e:
                errors[f"residents[{i}]"] = str(e)
        if errors:
            return self._result(cmd, "failed", reason="; ".join(f"{k}: {v}" for k, v in errors.items()))
        existing = {r.id for r in self._registry.list_residents()}
        added = updated = removed = 0
        for r in entries:
            if r.id in existing:
                fields = {k: getattr(r, k) for k in ResidentEntry.__slots__ if k != "id"}
                self._registry.update_resident(r.id, **fields)
                updated += 1
            else:
                self._registry.add_resident(r)
                added += 1
        kept: list[str] = []
        if args.replace:
            wanted = {r.id for r in entries}
            for rid in sorted(existing - wanted):
                try:
                    self._registry.remove_resident(rid)
                    removed += 1
                except InUseError:
                    kept.append(rid)
        log.info("residents command: %d added, %d updated, %d removed", added, updated, removed)
        return self._result(cmd, "done", added=added, updated=updated, removed=removed, kept_in_use=kept)

    def _alert_ack(self, cmd: Command, args: AlertAckArgs) -> CommandResult:
        if self._alerts is None:
            return self._result(cmd, "refused", reason="alert notification is not running on this gateway")
        res = self._alerts.acknowledge(args.alert_id, by=args.by or "county", via="county")
        if res.outcome == "unknown":
            return self._result(cmd, "failed", reason=f"no alert {args.alert_id!r} on this gateway")
        alert = res.alert
        return self._result(
            cmd,
            "done",
            outcome=res.outcome,
            alert_id=alert.id if alert is not None else args.alert_id,
            state=alert.state if alert is not None else None,
            acknowledged_by=alert.acked_by if alert is not None else None,
            ack_via=alert.ack_via if alert is not None else None,
        )

    def _geofences(self, cmd: Command, args: GeofencesArgs) -> CommandResult:
        if self._registry.get_resident(args.resident_id) is None:
            return self._result(cmd, "failed", reason=f"no resident {args.resident_id!r} in this hut")
        zones = (
            parse_feature_collection(
                {"type": "FeatureCollection", "features": args.geofences}, resident_id=args.resident_id
            )
            if args.geofences
            else []
        )
        self._zones.save(zones, replace_resident=args.resident_id)
        return self._result(cmd, "done", zones=len(zones))
