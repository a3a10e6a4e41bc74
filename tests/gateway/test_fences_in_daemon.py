"""Positions entering the running gateway raise fence alerts with the fixes attached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.config import parse
from gateway.daemon import Daemon
from gateway.geofence.store import ZoneStore
from gateway.geofence.zones import parse_feature_collection
from gateway.registry import Registry, ResidentEntry
from tests.support.broker import free_port
from uplink.codec import wire_dict

HOME = (30.2741, 120.1551)  # a village centre (WGS-84)


def zones() -> dict[str, object]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [HOME[1], HOME[0]]},
                "properties": {"resident_id": "R0001", "name": "village", "kind": "safe", "radius_m": 300},
            }
        ],
    }


async def test_walk_out_raises_one_fence_exit_alert(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    with Registry(state / "registry.db") as reg:
        reg.add_resident(ResidentEntry(id="R0001", name="Wang", guardians=("13900000000",)))
    ZoneStore.in_state_dir(state).save(parse_feature_collection(zones()))
    config = parse(
        {
            "gateway_id": "hut-f",
            "state_dir": str(state),
            "api": {"listen": f"127.0.0.1:{free_port()}"},
            "clock": {"sync_source": "trust"},  # this test machine's kernel clock reports unsynchronised
        }
    )
    start = datetime.now(UTC) - timedelta(minutes=10)
    async with Daemon(config) as daemon:
        gw = daemon.gateway
        # 4 fixes at home, then 5 fixes ~1 km north, 30 s apart.
        track = [HOME] * 4 + [(HOME[0] + 0.01, HOME[1])] * 5
        for i, (lat, lon) in enumerate(track):
            p = gw.pipeline.from_manual(
                "position",
                {"latitude": lat, "longitude": lon, "accuracy_m": 15},
                resident_id="R0001",
                measured_at=start + timedelta(seconds=30 * i),
            )
            await gw.submit(p)
        alerts = [wire_dict(r.payload) for r in await daemon.outbox.list(stream="alerts", limit=50)]
        exits = [a for a in alerts if a["kind"] == "fence_exit"]
        assert len(exits) == 1, alerts
        exit_alert = exits[0]
        assert exit_alert["resident_id"] == "R0001" and exit_alert["severity"] == "critical"
        assert exit_alert["notify"] == ["13900000000"]
        assert exit_alert["detail"]["zone"] == "village"
        assert len(exit_alert["detail"]["last_fixes"]) >= 3
        assert not [a for a in alerts if a["kind"] == "fence_enter"]
