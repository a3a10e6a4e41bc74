"""The reference receiver's storage: idempotent by id, revisions, rejections kept with reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from county.receiver import import_export
from county.sqlite import SqliteStore as ReceiverStore
from uplink import envelope
from uplink.contract import Ack, Rejection
from uplink.envelope import Item

from .helpers import alert, reading

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def env(
    objs: list[dict[str, object]], batch_id: str = "b-1", stream: str = "readings", gw: str = "hut-7"
) -> bytes:
    items = [Item(str(o["id"]), n, orjson.dumps(o)) for n, o in enumerate(objs)]
    return envelope.encode(stream, gw, batch_id, NOW, items).payload


async def test_duplicate_batch_is_stored_once_and_counted(tmp_path: Path) -> None:
    objs = [reading(i) for i in range(5)]
    async with ReceiverStore(tmp_path / "r.db") as store:
        first = await store.store("hut-7", "readings", env(objs))
        again = await store.store("hut-7", "readings", env(objs))
        assert first is not None and again is not None
        assert (
            first.ack
            == again.ack
            == Ack(batch_id="b-1", gateway_id="hut-7", accepted=[o["id"] for o in objs])
        )
        assert (first.new, again.new, again.duplicates) == (5, 0, 5)
        assert await store.count("readings") == 5
        assert (await store.counters())["duplicates"] == 5


async def test_higher_revision_replaces_lower_is_a_duplicate(tmp_path: Path) -> None:
    r0 = reading(resident=None)
    r1 = {**r0, "revision": 1, "resident_id": "r-9", "attribution": "assigned"}
    async with ReceiverStore(tmp_path / "r.db") as store:
        await store.store("hut-7", "readings", env([r0], "b-1"))
        upgraded = await store.store("hut-7", "readings", env([r1], "b-2"))
        stale = await store.store("hut-7", "readings", env([r0], "b-3"))
        assert upgraded is not None and upgraded.revised == 1 and upgraded.ack.accepted == [r0["id"]]
        assert stale is not None and stale.duplicates == 1 and stale.ack.accepted == [r0["id"]]
        async with store.db.execute("SELECT revision, resident_id FROM readings") as cur:
            assert await cur.fetchall() == [(1, "r-9")]
        assert (await store.counters())["revisions"] == 1


async def test_a_gateway_cannot_revise_or_claim_another_gateways_reading(tmp_path: Path) -> None:
    mine = reading(resident="r-1")
    forged = {**mine, "revision": 5, "resident_id": "r-666", "attribution": "assigned"}
    async with ReceiverStore(tmp_path / "r.db") as store:
        await store.store("hut-7", "readings", env([mine], "b-1"))
        other = await store.store("hut-8", "readings", env([forged], "b-9", gw="hut-8"))
        same = await store.store("hut-8", "readings", env([mine], "b-10", gw="hut-8"))
        for stored in (other, same):
            assert stored is not None and stored.ack.accepted == []
            assert [r.id for r in stored.ack.rejected] == [mine["id"]]
            assert "another gateway" in stored.ack.rejected[0].reason
            assert (stored.new, stored.revised, stored.duplicates) == (0, 0, 0)
        async with store.db.execute("SELECT gateway_id, revision, resident_id FROM readings") as cur:
            assert await cur.fetchall() == [("hut-7", 0, "r-1")]
        async with store.db.execute("SELECT gateway_id, id FROM rejections") as cur:
            assert await cur.fetchall() == [("hut-8", mine["id"])] * 2
        assert (await store.counters())["revisions"] == 0
        # its own gateway still revises it
        own = await store.store("hut-7", "readings", env([{**forged, "resident_id": "r-2"}], "b-2"))
        assert own is not None and own.revised == 1 and own.ack.accepted == [mine["id"]]


async def test_invalid_items_are_rejected_with_a_reason_and_kept(tmp_path: Path) -> None:
    good = reading()
    bad = reading(kind="cholesterol")
    async with ReceiverStore(tmp_path / "r.db") as store:
        stored = await store.store("hut-7", "readings", env([good, bad]))
        assert stored is not None
        assert stored.ack.accepted == [good["id"]]
        assert [r.id for r in stored.ack.rejected] == [bad["id"]]
        assert stored.ack.rejected[0].reason.startswith("schema: kind:")
        async with store.db.execute("SELECT id, reason, payload FROM rejections") as cur:
            rows = await cur.fetchall()
        assert rows[0][0] == bad["id"] and orjson.loads(rows[0][2])["kind"] == "cholesterol"


async def test_envelope_from_the_wrong_gateway_rejects_every_item(tmp_path: Path) -> None:
    r = reading()
    async with ReceiverStore(tmp_path / "r.db") as store:
        stored = await store.store("hut-8", "readings", env([r], gw="hut-7"))
        assert stored is not None and stored.ack.accepted == []
        assert stored.ack.rejected == [Rejection(id=r["id"], reason=stored.ack.rejected[0].reason)]
        assert "does not match the topic" in stored.ack.rejected[0].reason
        assert await store.count("readings") == 0


async def test_unparseable_envelope_is_counted_not_acked(tmp_path: Path) -> None:
    async with ReceiverStore(tmp_path / "r.db") as store:
        assert await store.store("hut-7", "readings", b"{oops") is None
        assert await store.store("hut-7", "readings", b'{"schema":"hut.readings/1"}') is None
        assert (await store.counters())["invalid"] == 2
        assert await store.count("rejections") == 2


async def test_alerts_are_stored_once(tmp_path: Path) -> None:
    a = alert()
    async with ReceiverStore(tmp_path / "r.db") as store:
        await store.store("hut-7", "alerts", env([a], stream="alerts"))
        again = await store.store("hut-7", "alerts", env([a], stream="alerts"))
        assert again is not None and again.duplicates == 1
        assert await store.count("alerts") == 1


async def test_import_of_an_offline_export_is_idempotent(tmp_path: Path) -> None:
    objs = [reading(i) for i in range(4)]
    lines = [env(objs[:2], "b-1"), env(objs[2:], "b-2"), env([alert()], "b-3", "alerts")]
    async with ReceiverStore(tmp_path / "r.db") as store:
        first = await import_export(store, lines)
        again = await import_export(store, lines)
        assert (
            len(first.accepted) == 5
            and first.rejected == []
            and sorted(again.accepted) == sorted(first.accepted)
        )
        assert first.exported_at == NOW.timestamp()
        assert await store.count("readings") == 4


_ITEM = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(max_size=5),
    st.dictionaries(
        st.sampled_from(["id", "kind", "revision", "values"]),
        st.one_of(st.text(max_size=5), st.integers(-(2**63), 2**63 - 1)),
    ),
)
_ENVELOPE = st.builds(
    lambda items: orjson.dumps(
        {
            "schema": "hut.readings/1",
            "gateway_id": "hut-7",
            "batch_id": "b",
            "sent_at": "2026-11-29T08:00:00Z",
            "readings": items,
        }
    ),
    st.lists(_ITEM, max_size=4),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=200), _ENVELOPE))
async def test_random_input_never_crashes_the_receiver(tmp_path: Path, data: bytes) -> None:
    async with ReceiverStore(tmp_path / "fuzz.db") as store:
        result = await store.store("hut-7", "readings", data)
        assert result is None or result.ack.batch_id
