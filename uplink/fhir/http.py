"""The HTTP uplink option: POST each outbox batch as a FHIR transaction Bundle to a FHIR server.

For counties without MQTT. Same outbox semantics as the MQTT :class:`uplink.client.Uplink`:

* a transaction-response Bundle whose entries are all 2xx is the county's ack for every record
  in the batch (delivered);
* an entry answered 4xx (or a whole-transaction 4xx whose OperationOutcome names entries) rejects
  the records of those entries, with the OperationOutcome text as the reason: they are kept aside
  in the outbox (``hutgw buffer list --state rejected``) and never re-sent blindly; a 4xx that
  names no entry rejects the whole batch;
* 5xx, 408, 429, timeouts and network errors: the same batch (same ``batch_id``, same Bundle
  identifiers and conditional requests) is sent again after a jittered exponential backoff;
* 401/403: the credentials are wrong; retried after ``auth_failure_backoff_s``.

Claiming, tracking and settling batches is the shared :class:`uplink.drainer.Drainer`'s (as for
MQTT); this module is its HTTP sender, one batch at a time.

Use as ``async with FhirHttpUplink(settings, outbox, gateway_id=...) as up:``; ``up.wake()`` after
new records, ``up.state`` for the local API. :func:`from_settings` builds one from ``[uplink]``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import re
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
import orjson

from uplink.backoff import Backoff
from uplink.drainer import Batch, ClaimLike, Drainer, Encoded, OutboxPort, UplinkState
from uplink.errors import UplinkError
from uplink.fhir.bundle import Converted, FhirSettings, convert
from uplink.fhir.encoder import records
from uplink.settings import TlsSettings
from uplink.tls import client_context

__all__ = ["FhirHttpSettings", "FhirHttpUplink", "Outcome", "from_settings", "interpret"]

FHIR_JSON: Final = "application/fhir+json"
MAX_RESPONSE_BYTES: Final = 8 * 1024 * 1024
_ENTRY_RE: Final = re.compile(r"entry\[(\d+)\]")
_RETRY_STATUS: Final = frozenset({408, 425, 429})
_AUTH_STATUS: Final = frozenset({401, 403})
_ENDPOINT_STATUS: Final = frozenset({404, 405, 406, 415})


@dataclass(frozen=True, slots=True)
class FhirHttpSettings:
    endpoint: str
    fhir: FhirSettings = field(default_factory=FhirSettings)
    auth_header: str | None = None
    tls: TlsSettings = field(default_factory=TlsSettings)
    batch_max_count: int = 100
    batch_max_bytes: int = 256_000
    request_timeout_s: float = 30.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 300.0
    auth_failure_backoff_s: float = 600.0
    poll_interval_s: float = 1.0
    io_timeout_s: float = 15.0
    lease_s: float | None = None  # default: 2 x request_timeout_s, at least 10 s

    def __post_init__(self) -> None:
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UplinkError(
                f"FHIR endpoint {self.endpoint!r} is not an http:// or https:// URL",
                hint='set [uplink] fhir_endpoint = "https://county.example/fhir"',
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> FhirHttpSettings:
        """From ``UplinkConfig.model_dump()``: ``fhir_*`` keys, ``tls``, timeouts and backoff."""
        endpoint = data.get("fhir_endpoint")
        if not endpoint:
            raise UplinkError(
                "uplink transport is http but no FHIR endpoint is set", hint="set [uplink] fhir_endpoint"
            )
        tls = data.get("tls") or {}
        tls_names = {f.name for f in dataclasses.fields(TlsSettings)}
        tls_kwargs: dict[str, Any] = {
            k: (Path(v) if k.endswith("_file") and v is not None else v)
            for k, v in tls.items()
            if k in tls_names
        }
        kwargs: dict[str, Any] = {
            "endpoint": str(endpoint).rstrip("/"),
            "fhir": FhirSettings.from_mapping(data),
            "auth_header": data.get("fhir_auth_header"),
            "tls": TlsSettings(**tls_kwargs),
        }
        renames = {
            "fhir_batch_max_count": "batch_max_count",
            "batch_max_bytes": "batch_max_bytes",
            "ack_timeout_s": "request_timeout_s",
            "backoff_initial_s": "backoff_initial_s",
            "backoff_max_s": "backoff_max_s",
            "auth_failure_backoff_s": "auth_failure_backoff_s",
            "poll_interval_s": "poll_interval_s",
            "io_timeout_s": "io_timeout_s",
        }
        for src, dst in renames.items():
            if data.get(src) is not None:
                kwargs[dst] = data[src]
        return cls(**kwargs)


# -- interpreting the server's answer (pure) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one POST means for the batch."""

    accepted: tuple[str, ...] = ()
    rejected: Mapping[str, str] = field(default_factory=dict)
    retry: bool = False  # some or all records must go again (server trouble)
    auth_failed: bool = False
    error: str | None = None  # for the state / log when something went wrong


def _status_code(text: object) -> int | None:
    if not isinstance(text, str):
        return None
    head = text.strip().split(" ", 1)[0]
    return int(head) if head.isdigit() else None


def outcome_text(outcome: object) -> str:
    """The OperationOutcome's issues as one line (diagnostics, details, where)."""
    if not isinstance(outcome, dict) or outcome.get("resourceType") != "OperationOutcome":
        return "no OperationOutcome"
    parts = []
    for issue in outcome.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        text = (
            issue.get("diagnostics") or (issue.get("details") or {}).get("text") or issue.get("code") or "?"
        )
        where = issue.get("expression") or issue.get("location") or []
        parts.append(f"{text} ({', '.join(map(str, where))})" if where else str(text))
    return "; ".join(parts) or "no issue given"


def _entries_named(outcome: object) -> set[int]:
    found: set[int] = set()
    if isinstance(outcome, dict):
        for issue in outcome.get("issue") or []:
            if isinstance(issue, dict):
                for where in [*(issue.get("expression") or []), *(issue.get("location") or [])]:
                    found.update(int(m) for m in _ENTRY_RE.findall(str(where)))
    return found


def interpret(status: int, body: bytes, conv: Converted) -> Outcome:
    """Map an HTTP answer to a transaction onto the batch's records (see the module docstring)."""
    try:
        doc: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        doc = None
    owners = conv.owners
    if 200 <= status < 300:
        entries = doc.get("entry") if isinstance(doc, dict) and doc.get("resourceType") == "Bundle" else None
        if not isinstance(entries, list) or len(entries) != len(owners):
            return Outcome(
                retry=True, error=f"HTTP {status} without a transaction-response Bundle for every entry"
            )
        reasons: dict[str, str] = {}
        again: set[str] = set()
        for owner, entry in zip(owners, entries, strict=True):
            resp = entry.get("response") if isinstance(entry, dict) else None
            resp = resp if isinstance(resp, dict) else {}
            code = _status_code(resp.get("status"))
            if code is not None and 200 <= code < 300:
                continue
            if code is not None and 400 <= code < 500 and code not in _RETRY_STATUS:
                reason = f"FHIR server {code}: {outcome_text(resp.get('outcome'))}"
                if owner is None:  # a Device was refused: every record of the batch needs it
                    return Outcome(rejected={rid: reason for rid in conv.ids}, error=reason)
                reasons.setdefault(owner, reason)
            elif owner is None:
                return Outcome(retry=True, error=f"FHIR server answered {code} for a Device entry")
            else:
                again.add(owner)
        accepted = tuple(rid for rid in conv.ids if rid not in reasons and rid not in again)
        retry = bool(again - reasons.keys())
        error = "some entries failed on the server; they go again" if retry else None
        return Outcome(accepted, reasons, retry=retry, error=error or next(iter(reasons.values()), None))
    text = outcome_text(doc)
    if status in _AUTH_STATUS:
        return Outcome(
            retry=True, auth_failed=True, error=f"FHIR server refused our credentials (HTTP {status}: {text})"
        )
    if status >= 500 or status in _RETRY_STATUS:
        return Outcome(retry=True, error=f"FHIR server HTTP {status}: {text}")
    if status in _ENDPOINT_STATUS:
        return Outcome(
            retry=True, error=f"FHIR endpoint HTTP {status} (check [uplink] fhir_endpoint): {text}"
        )
    # Any other 4xx: the transaction was refused as a whole (nothing was stored).
    reason = f"FHIR server {status}: {text}"
    named = {owners[i] for i in _entries_named(doc) if i < len(owners)}
    if None in named or not named:
        return Outcome(rejected={rid: reason for rid in conv.ids}, error=reason)
    # The others were rolled back with the transaction: pending again, sent in a later batch.
    return Outcome(rejected={rid: reason for rid in named if rid is not None}, error=reason)


# -- the component ---------------------------------------------------------------------------


class FhirHttpUplink:
    """Drains an outbox to a FHIR server over HTTP(S). ``async with FhirHttpUplink(...) as up:``."""

    def __init__(
        self,
        settings: FhirHttpSettings,
        outbox: OutboxPort,
        *,
        gateway_id: str,
        clock: Callable[[], datetime] | None = None,
        logger: logging.Logger | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._s = settings
        self._outbox = outbox
        self._gateway_id = gateway_id
        self._clock = clock or (lambda: datetime.now(UTC))
        self._log = logger or logging.getLogger("hutgw.uplink.fhir")
        self._rng = rng or random.Random()
        self._state = UplinkState()
        self._drainer = Drainer(
            outbox,
            self._state,
            who="fhir uplink",
            log=self._log,
            clock=self._clock,
            batch_max_count=settings.batch_max_count,
            batch_max_bytes=settings.batch_max_bytes,
            lease_s=settings.lease_s or max(settings.request_timeout_s * 2, 10.0),
            io_timeout_s=settings.io_timeout_s,
            poll_interval_s=settings.poll_interval_s,
        )
        self._backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s, 0.0, rng=self._rng)
        self._main: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ssl = client_context(settings.tls) if urlsplit(settings.endpoint).scheme == "https" else None

    @property
    def state(self) -> UplinkState:
        return dataclasses.replace(self._state)

    def wake(self) -> None:
        """New records were put: drain now instead of waiting for the poll interval."""
        self._drainer.wake()

    @property
    def running(self) -> bool:
        """True while the uplink's supervising task runs (it stops only on close or a crash)."""
        return self._main is not None and not self._main.done()

    def status_json(self) -> bytes:
        """The state as JSON (for the local API), like :meth:`uplink.client.Uplink.status_json`."""
        return orjson.dumps(dataclasses.asdict(self._state), default=str)

    async def __aenter__(self) -> FhirHttpUplink:
        connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else False, limit=2)
        self._session = aiohttp.ClientSession(connector=connector)
        self._main = asyncio.create_task(self._run(), name="fhir-uplink")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._main is not None:
            self._main.cancel()
            with suppress(asyncio.CancelledError):
                await self._main
            self._main = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._drainer.run(self, outbox_backoff=self._backoff), name="fhir-uplink-drain")
            tg.create_task(self._drainer.expire_leases_forever(), name="fhir-uplink-lease-expiry")

    # -- the drainer's sender ------------------------------------------------------------

    def refuses(self, stream: str) -> str | None:
        if stream not in ("readings", "alerts"):
            return f"no FHIR mapping for stream {stream!r}"
        return None

    async def encode(self, claim: ClaimLike) -> Encoded:
        objs, bad = records(claim.items)
        # Converting is CPU work (~0.3 ms per reading here): keep it off the event loop.
        conv = await asyncio.to_thread(
            convert,
            claim.stream,
            objs,
            gateway_id=self._gateway_id,
            batch_id=claim.batch_id,
            sent_at=self._clock(),
            settings=self._s.fhir,
        )
        bad.update(conv.skipped)
        return Encoded(tuple(conv.ids), bad, conv)

    async def hand_over(self, batch: Batch) -> float | None:
        """POST one batch; the delay before the next attempt when it must go again."""
        s = self._s
        backoff = self._backoff
        conv: Converted = batch.payload
        batch.attempts += 1
        self._drainer.sent(batch)
        try:
            status, body, retry_after = await self._post(conv.bundle)
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            text = "timed out" if isinstance(e, TimeoutError) else f"{type(e).__name__}: {e}"
            return await self._retry_later(batch.batch_id, f"cannot reach {s.endpoint} ({text})", None)
        self._state.connected = True
        result = interpret(status, body, conv)
        if result.auth_failed:
            self._state.auth_failed = True
            delay = s.auth_failure_backoff_s * self._rng.uniform(0.5, 1.0)
            return await self._retry_later(batch.batch_id, result.error or "auth", delay)
        self._state.auth_failed = False
        if result.accepted or result.rejected:
            await self._drainer.settle(batch.batch_id, result.accepted, result.rejected)
            if result.retry:  # the unanswered records are pending again (new batch later)
                self._state.last_error = result.error
                return backoff.next_delay()
            backoff.reset()
            self._state.last_error = result.error if result.rejected else None
            return None
        return await self._retry_later(batch.batch_id, result.error or f"HTTP {status}", retry_after)

    async def _retry_later(self, batch_id: str, error: str, delay: float | None) -> float:
        if delay is None:
            delay = self._backoff.next_delay()
        delay = min(delay, max(self._s.backoff_max_s, self._s.auth_failure_backoff_s))
        self._state.last_error = error
        if "cannot reach" in error:
            self._state.connected = False
            self._state.since = self._clock()
        self._log.warning("fhir uplink: %s; batch %s goes again in %.1f s", error, batch_id, delay)
        await self._drainer.release(batch_id)
        return delay

    async def _post(self, bundle: Mapping[str, Any]) -> tuple[int, bytes, float | None]:
        assert self._session is not None
        headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
        if self._s.auth_header:
            headers["Authorization"] = self._s.auth_header
        timeout = aiohttp.ClientTimeout(total=self._s.request_timeout_s)
        async with self._session.post(
            self._s.endpoint, data=orjson.dumps(bundle), headers=headers, timeout=timeout
        ) as resp:
            body = await resp.content.read(MAX_RESPONSE_BYTES)
            retry_after: float | None = None
            with suppress(ValueError, TypeError):
                retry_after = float(resp.headers.get("Retry-After", ""))
            return resp.status, body, retry_after


def from_settings(
    uplink: Mapping[str, Any],
    outbox: OutboxPort,
    *,
    gateway_id: str,
    clock: Callable[[], datetime] | None = None,
    logger: logging.Logger | None = None,
) -> FhirHttpUplink:
    """``from_settings(cfg.uplink.model_dump(), outbox, gateway_id=cfg.gateway_id)``."""
    return FhirHttpUplink(
        FhirHttpSettings.from_mapping(uplink), outbox, gateway_id=gateway_id, clock=clock, logger=logger
    )
