"""A small FHIR transaction endpoint over real HTTP (aiohttp) for the uplink tests.

It keeps resources by identifier and honours the conditional requests the gateway sends
(``ifNoneExist`` create, ``PUT Resource?identifier=`` update), so a resend that would create a
second Observation shows up as one. ``script`` lists what to do with the next requests: "ok",
an HTTP status (whole-request failure), ("reject", reading_id) to answer 400 for that reading's
entries, or ("reject-tx", reading_id) to refuse the transaction naming that entry.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web

from uplink.fhir.bundle import EXT_READING


def reading_id(resource: dict[str, Any]) -> str | None:
    for ext in resource.get("extension") or []:
        if ext.get("url") == EXT_READING:
            for sub in ext["extension"]:
                if sub["url"] == "id":
                    return str(sub["valueString"])
    for ident in resource.get("identifier") or []:
        if str(ident.get("system", "")).endswith("alert"):
            return str(ident["value"])
    return None


def _outcome(text: str, where: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error", "code": "invalid", "diagnostics": text}
    if where:
        issue["expression"] = [where]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


@dataclass
class FhirStub:
    script: list[Any] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)  # every Bundle received
    headers: list[dict[str, str]] = field(default_factory=list)
    store: dict[str, dict[str, Any]] = field(default_factory=dict)  # "Type|ident" -> resource
    creates: int = 0
    updates: int = 0
    url: str = ""

    def count(self, resource_type: str) -> int:
        return len({id(r) for k, r in self.store.items() if k.startswith(resource_type + "|")})

    def _keys(self, res: dict[str, Any]) -> list[str]:
        return [
            f"{res['resourceType']}|{i.get('system', '')}|{i['value']}" for i in res.get("identifier") or []
        ]

    def _find(self, resource_type: str, query: str) -> dict[str, Any] | None:
        value = unquote(query.split("identifier=", 1)[1])
        system, _, val = value.rpartition("|") if "|" in value else ("", "", value)
        system, val = system.replace("\\", ""), val.replace("\\", "")
        for key, res in self.store.items():
            t, s, v = key.split("|", 2)
            if t == resource_type and v == val and (not system or s == system):
                return res
        return None

    def _put(self, res: dict[str, Any]) -> None:
        for k in [k for k, r in self.store.items() if r is res]:
            del self.store[k]
        for k in self._keys(res):
            self.store[k] = res

    async def handle(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        step = self.script.pop(0) if self.script else "ok"
        if isinstance(step, int):
            return web.json_response(_outcome(f"scripted {step}"), status=step)
        entries = body["entry"]
        if isinstance(step, tuple) and step[0] == "reject-tx":
            idx = next(i for i, e in enumerate(entries) if reading_id(e["resource"]) == step[1])
            out = _outcome("value out of range", f"Bundle.entry[{idx}].resource.valueQuantity")
            return web.json_response(out, status=422)
        responses = []
        for e in entries:
            res, req = e["resource"], e["request"]
            if isinstance(step, tuple) and step[0] == "reject" and reading_id(res) == step[1]:
                responses.append(
                    {"response": {"status": "400 Bad Request", "outcome": _outcome("unknown patient")}}
                )
                continue
            if req["method"] == "POST":
                found = self._find(res["resourceType"], req["ifNoneExist"]) if "ifNoneExist" in req else None
                if found is None:
                    self._put(res)
                    self.creates += 1
                    responses.append({"response": {"status": "201 Created"}})
                else:
                    responses.append({"response": {"status": "200 OK"}})
            else:
                rtype, query = req["url"].split("?", 1)
                found = self._find(rtype, query)
                if found is not None:
                    found.clear()
                    found.update(res)
                    self._put(found)
                    self.updates += 1
                    responses.append({"response": {"status": "200 OK"}})
                else:
                    self._put(res)
                    self.creates += 1
                    responses.append({"response": {"status": "201 Created"}})
        if any(r["response"]["status"].startswith("4") for r in responses) and isinstance(step, tuple):
            pass  # batch-style partial answer, as some servers give
        return web.json_response(
            {"resourceType": "Bundle", "type": "transaction-response", "entry": responses}
        )


@contextlib.asynccontextmanager
async def running_stub(stub: FhirStub, *, ssl_context: Any = None) -> AsyncIterator[FhirStub]:
    app = web.Application()
    app.router.add_post("/fhir", stub.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    stub.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}/fhir"
    try:
        yield stub
    finally:
        await runner.cleanup()
