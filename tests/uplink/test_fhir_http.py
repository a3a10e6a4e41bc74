"""The HTTP FHIR uplink against a real local FHIR endpoint stub over real HTTP(S), real outbox."""

# ruff: noqa: SIM117 - the endpoint must outlive the uplink; nesting says so

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B.bundle import Bundle

from buffer.outbox import Outbox
from buffer.record import Lane, Record, State
from uplink.errors import UplinkError
from uplink.fhir.bundle import FhirSettings
from uplink.fhir.http import FhirHttpSettings, FhirHttpUplink, from_settings, interpret
from uplink.settings import TlsSettings

from .conftest import undelivered, wait_until
from .fhir_samples import make
from .fhir_server import FhirStub, reading_id, running_stub
from .helpers import alert
from .test_tls import issue, make_ca, write_pair

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def certs(tmp_path: Path) -> dict[str, Path]:
    county = make_ca("county test CA")
    files: dict[str, Path] = {}
    files["ca"], _ = write_pair(tmp_path, "ca", county)
    files["server_crt"], files["server_key"] = write_pair(
        tmp_path, "server", issue(county, "localhost", server=True)
    )
    files["gw_crt"], files["gw_key"] = write_pair(tmp_path, "gw", issue(county, "hut-7", server=False))
    return files


def record(obj: dict[str, Any], stream: str = "readings") -> Record:
    lane = Lane.ALERTS if stream == "alerts" else Lane.CLINICAL
    return Record(obj["id"], stream, lane, obj["kind"], orjson.dumps(obj), obj.get("resident_id"))


def http_settings(url: str, **kw: Any) -> FhirHttpSettings:
    base: dict[str, Any] = dict(
        endpoint=url,
        fhir=FhirSettings(patient_system="urn:oid:1.2.156.1"),
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
        auth_failure_backoff_s=0.3,
        poll_interval_s=0.1,
        request_timeout_s=5.0,
        batch_max_count=50,
    )
    base.update(kw)
    return FhirHttpSettings(**base)


async def drained(outbox: Outbox) -> bool:
    return await undelivered(outbox) == 0


def observation_ids(bundle: dict[str, Any]) -> list[Any]:
    return [
        (e["fullUrl"], e["request"], e["resource"]["identifier"])
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
    ]


async def test_every_kind_is_delivered_once_and_acked(outbox: Outbox) -> None:
    readings = [
        make(k, offset_s=i) for i, k in enumerate(["blood_pressure", "weight", "spo2", "temperature"])
    ]
    alerts = [alert()]
    await outbox.put_many(
        [record(r) for r in readings] + [record(a | {"kind": "bp_crisis"}, "alerts") for a in alerts]
    )
    async with (
        running_stub(FhirStub()) as stub,
        FhirHttpUplink(
            http_settings(stub.url, auth_header="Bearer s3cret"), outbox, gateway_id="hut-7"
        ) as up,
    ):
        up.wake()
        await wait_until(lambda: drained(outbox), what="outbox drained")
        state = up.state
        assert up.running and orjson.loads(up.status_json())["acked"] == 5
    assert not up.running
    assert state.acked == 5 and state.published == 5 and state.resent == 0 and state.rejected == 0
    assert (
        stub.count("Observation") == 8
    )  # BP panel + pulse, weight + bmi + height, spo2 + pulse, temperature
    assert stub.count("Communication") == 1
    assert stub.count("Device") == 5  # the gateway + 4 devices
    for body in stub.requests:
        Bundle.model_validate(body)
    assert all(h["Authorization"] == "Bearer s3cret" for h in stub.headers)
    assert all(h["Content-Type"] == "application/fhir+json" for h in stub.headers)
    for r in readings:
        assert (await outbox.get(r["id"])).state == State.DELIVERED  # type: ignore[union-attr]
    # Alerts drain first (their lane comes first).
    assert stub.requests[0]["entry"][-1]["resource"]["resourceType"] == "Communication"


async def test_500_then_success_sends_the_same_batch_again(outbox: Outbox) -> None:
    readings = [make("weight", offset_s=i) for i in range(3)]
    await outbox.put_many([record(r) for r in readings])
    async with running_stub(FhirStub(script=[500, 503])) as stub:
        async with FhirHttpUplink(http_settings(stub.url), outbox, gateway_id="hut-7") as up:
            await wait_until(lambda: drained(outbox), what="outbox drained")
            state = up.state
    assert len(stub.requests) == 3
    first, _, last = stub.requests
    assert first["identifier"] == last["identifier"]  # the same batch id
    assert observation_ids(first) == observation_ids(last)  # same fullUrls, conditional requests
    assert state.published == 3 and state.resent == 6 and state.acked == 3
    assert stub.count("Observation") == 9 and stub.creates == 9 + 2


async def test_a_resend_after_a_lost_answer_creates_nothing_twice(outbox: Outbox) -> None:
    """The server stored the batch but the gateway never saw the answer (it crashed): the batch
    goes again and the conditional creates find everything."""
    readings = [make("spo2", offset_s=i) for i in range(4)]
    await outbox.put_many([record(r) for r in readings])
    async with running_stub(FhirStub()) as stub:
        claim = await outbox.claim(lease_s=60)
        assert claim is not None
        s = http_settings(stub.url)
        async with FhirHttpUplink(s, outbox, gateway_id="hut-7"):
            pass
        # Deliver it by hand the way the uplink would, then lose the answer.
        from uplink.fhir.bundle import convert
        from uplink.fhir.encoder import records

        objs, _ = records(claim.items)
        conv = convert(
            "readings",
            objs,
            gateway_id="hut-7",
            batch_id=claim.batch_id,
            sent_at=make_time(),
            settings=s.fhir,
        )
        import aiohttp

        async with aiohttp.ClientSession() as session:
            async with session.post(stub.url, data=orjson.dumps(conv.bundle)) as resp:
                assert resp.status == 200
        await outbox.release(claim.batch_id)
        creates = stub.creates
        async with FhirHttpUplink(s, outbox, gateway_id="hut-7") as up:
            await wait_until(lambda: drained(outbox), what="outbox drained")
            assert up.state.acked == 4
    assert stub.requests[0]["identifier"] == stub.requests[1]["identifier"]
    assert stub.creates == creates  # nothing created twice
    assert stub.count("Observation") == 8


def make_time() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 11, 29, 9, tzinfo=UTC)


async def test_an_entry_answered_400_rejects_that_reading_with_the_reason(outbox: Outbox) -> None:
    good = [make("temperature", offset_s=i) for i in range(2)]
    bad = make("temperature", offset_s=10)
    await outbox.put_many([record(r) for r in [*good, bad]])
    async with running_stub(FhirStub(script=[("reject", bad["id"])])) as stub:
        async with FhirHttpUplink(http_settings(stub.url), outbox, gateway_id="hut-7") as up:
            await wait_until(lambda: drained(outbox), what="outbox drained")
            state = up.state
    assert len(stub.requests) == 1  # never retried blindly
    stored = await outbox.get(bad["id"])
    assert stored is not None and stored.state == State.REJECTED
    assert stored.reason == "FHIR server 400: unknown patient"
    for r in good:
        assert (await outbox.get(r["id"])).state == State.DELIVERED  # type: ignore[union-attr]
    assert state.rejected == 1 and state.acked == 2


async def test_a_refused_transaction_rejects_the_named_entry_and_resends_the_rest(outbox: Outbox) -> None:
    good = [make("heart_rate", offset_s=i) for i in range(3)]
    bad = make("heart_rate", offset_s=10, values={"heart_rate": 999})
    await outbox.put_many([record(r) for r in [*good, bad]])
    async with running_stub(FhirStub(script=[("reject-tx", bad["id"])])) as stub:
        async with FhirHttpUplink(http_settings(stub.url), outbox, gateway_id="hut-7"):
            await wait_until(lambda: drained(outbox), what="outbox drained")
    stored = await outbox.get(bad["id"])
    assert stored is not None and stored.state == State.REJECTED
    assert stored.reason is not None and stored.reason.startswith("FHIR server 422: value out of range")
    assert len(stub.requests) == 2
    assert {reading_id(e["resource"]) for e in stub.requests[1]["entry"]} - {None} == {r["id"] for r in good}
    assert stub.count("Observation") == 3


async def test_wrong_credentials_are_retried_after_the_auth_backoff(
    outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    r = make("weight")
    await outbox.put(record(r))
    caplog.set_level(logging.WARNING, "hutgw.uplink.fhir")
    async with running_stub(FhirStub(script=[401])) as stub:
        async with FhirHttpUplink(http_settings(stub.url), outbox, gateway_id="hut-7") as up:
            await wait_until(lambda: up.state.auth_failed, what="auth failure noticed")
            await wait_until(lambda: drained(outbox), what="outbox drained")
            assert not up.state.auth_failed
    assert any("refused our credentials" in rec.getMessage() for rec in caplog.records)
    assert (await outbox.get(r["id"])).state == State.DELIVERED  # type: ignore[union-attr]


async def test_server_down_then_up(outbox: Outbox, tmp_path: Path) -> None:
    r = make("temperature")
    await outbox.put(record(r))
    stub = FhirStub()
    async with running_stub(stub):
        url = stub.url
    # The port is closed now: connection refused until a server listens there again.
    async with FhirHttpUplink(http_settings(url), outbox, gateway_id="hut-7") as up:
        await wait_until(
            lambda: up.state.last_error is not None and "cannot reach" in up.state.last_error, what="error"
        )
        assert await undelivered(outbox) == 1
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        from aiohttp import web

        app = web.Application()
        app.router.add_post("/fhir", stub.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            await wait_until(lambda: drained(outbox), what="outbox drained")
        finally:
            await runner.cleanup()
    assert stub.count("Observation") == 1


async def test_tls_with_the_pinned_county_ca_and_a_client_certificate(
    outbox: Outbox, certs: dict[str, Path]
) -> None:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(certs["ca"]))
    ctx.load_cert_chain(str(certs["server_crt"]), str(certs["server_key"]))
    ctx.verify_mode = ssl.CERT_REQUIRED  # the gateway must present its certificate
    r = make("weight")
    await outbox.put(record(r))
    tls = TlsSettings(ca_file=certs["ca"], cert_file=certs["gw_crt"], key_file=certs["gw_key"])
    async with running_stub(FhirStub(), ssl_context=ctx) as stub:
        async with FhirHttpUplink(http_settings(stub.url, tls=tls), outbox, gateway_id="hut-7"):
            await wait_until(lambda: drained(outbox), what="outbox drained")
    assert stub.count("Observation") == 3  # weight, bmi, height


async def test_a_late_resident_assignment_updates_the_observations(outbox: Outbox) -> None:
    r0 = make("weight", resident=None)
    await outbox.put(record(r0))
    async with running_stub(FhirStub()) as stub:
        async with FhirHttpUplink(http_settings(stub.url), outbox, gateway_id="hut-7") as up:
            await wait_until(lambda: drained(outbox), what="unattributed reading kept aside")
            stored = await outbox.get(r0["id"])
            assert stored is not None and stored.state == State.REJECTED
            assert stored.reason is not None and stored.reason.startswith("unattributed")
            assert stub.requests == []
            r1 = make("weight", rid=r0["id"], revision=1, resident="r-009")
            await outbox.revise(r0["id"], orjson.dumps(r1), key="r-009")
            up.wake()
            await wait_until(lambda: drained(outbox), what="revision delivered")
            r2 = make("weight", rid=r0["id"], revision=2, resident="r-010")
            await outbox.revise(r0["id"], orjson.dumps(r2), key="r-010")
            up.wake()
            await wait_until(lambda: drained(outbox), what="second revision delivered")
    assert [
        e["request"]["method"]
        for e in stub.requests[1]["entry"]
        if e["resource"]["resourceType"] == "Observation"
    ] == ["PUT"] * 3
    assert stub.count("Observation") == 3 and stub.updates == 3
    subjects = {o["subject"]["reference"] for k, o in stub.store.items() if k.startswith("Observation|")}
    assert subjects == {"Patient?identifier=urn:oid:1.2.156.1|r-010"}
    assert (await outbox.get(r0["id"])).state == State.DELIVERED  # type: ignore[union-attr]


async def test_tls_refuses_a_server_outside_the_pinned_ca(
    outbox: Outbox, certs: dict[str, Path], tmp_path: Path
) -> None:
    other_ca, _ = write_pair(tmp_path, "other", make_ca("other CA"))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(certs["server_crt"]), str(certs["server_key"]))
    await outbox.put(record(make("weight")))
    async with (
        running_stub(FhirStub(), ssl_context=ctx) as stub,
        FhirHttpUplink(
            http_settings(stub.url, tls=TlsSettings(ca_file=other_ca)), outbox, gateway_id="hut-7"
        ) as up,
    ):
        await wait_until(lambda: up.state.last_error is not None, what="TLS failure")
        assert "cannot reach" in (up.state.last_error or "")
        assert await undelivered(outbox) == 1
    assert stub.requests == []


def test_interpret_without_a_response_bundle_means_retry() -> None:
    from uplink.fhir.bundle import Converted

    conv = Converted({}, ("a",), {}, (None, "a"))
    assert interpret(200, b"{}", conv).retry
    assert interpret(503, b"", conv).retry
    out = interpret(400, b'{"resourceType":"OperationOutcome","issue":[{"diagnostics":"bad"}]}', conv)
    assert out.rejected == {"a": "FHIR server 400: bad"} and not out.retry
    assert interpret(404, b"", conv).retry


def test_settings_from_the_uplink_config_section() -> None:
    from gateway.config import UplinkConfig

    cfg = UplinkConfig(
        transport="http",
        fhir_endpoint="https://county.example/fhir/",
        fhir_patient_system="urn:oid:1.2.3",
        fhir_auth_header="Bearer x",
        fhir_batch_max_count=20,
        ack_timeout_s=12,
    )
    s = FhirHttpSettings.from_mapping(cfg.model_dump())
    assert s.endpoint == "https://county.example/fhir" and s.batch_max_count == 20
    assert s.fhir.patient_system == "urn:oid:1.2.3" and s.auth_header == "Bearer x"
    assert s.request_timeout_s == 12
    with pytest.raises(UplinkError):
        FhirHttpSettings.from_mapping(UplinkConfig().model_dump())
    with pytest.raises(ValueError, match="needs fhir_endpoint"):
        UplinkConfig(transport="http")
    with pytest.raises(ValueError, match="http:// or https://"):
        UplinkConfig(fhir_endpoint="ftp://county.example/fhir")
    up = from_settings(cfg.model_dump(), outbox=None, gateway_id="hut-7")  # type: ignore[arg-type]
    assert isinstance(up, FhirHttpUplink)
