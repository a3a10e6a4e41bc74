-- hut-gateway county database, version 1: readings (every revision a row), alerts, alert-status
-- events, gateway status, receipts (with each envelope's counts), rejections, command results.

CREATE TABLE readings (
    id text NOT NULL,                 -- the reading's UUIDv7 (the same across revisions)
    revision integer NOT NULL,        -- 0 first; a higher revision is a new row
    gateway_id text NOT NULL,         -- the gateway that owns the reading
    kind text NOT NULL,
    resident_id text,
    effective_at timestamptz,
    batch_id text NOT NULL,
    payload jsonb NOT NULL,           -- the WireReading as the gateway sent it (or FHIR Observations)
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, revision)
);
CREATE INDEX readings_resident ON readings (resident_id, effective_at);

-- The latest revision of every reading.
CREATE VIEW readings_current AS
    SELECT DISTINCT ON (id) * FROM readings ORDER BY id, revision DESC;

CREATE TABLE alerts (
    id text PRIMARY KEY,
    gateway_id text NOT NULL,
    kind text NOT NULL,
    severity text NOT NULL,
    resident_id text,
    raised_at timestamptz,
    batch_id text NOT NULL,
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert_status (
    id text PRIMARY KEY,
    alert_id text NOT NULL,
    gateway_id text NOT NULL,
    event text NOT NULL,
    state text NOT NULL,
    at timestamptz NOT NULL,
    batch_id text NOT NULL,
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_status_alert ON alert_status (alert_id, at);
CREATE INDEX alert_status_gateway ON alert_status (gateway_id);

CREATE TABLE gateways (
    gateway_id text PRIMARY KEY,
    state text,
    status bytea,                     -- the last hut.status/1 message, as received
    updated_at timestamptz NOT NULL
);

CREATE TABLE receipts (              -- one row per envelope stored: what its ack said, what it did
    gateway_id text NOT NULL,
    stream text NOT NULL,
    batch_id text NOT NULL,
    accepted integer NOT NULL,
    rejected integer NOT NULL,
    new integer NOT NULL,             -- rows inserted for ids not stored before
    revised integer NOT NULL,         -- rows inserted as new revisions
    duplicates integer NOT NULL,      -- items already stored (a batch sent again)
    instance text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX receipts_gateway ON receipts (gateway_id, received_at);

CREATE TABLE rejections (
    gateway_id text NOT NULL,
    batch_id text,
    id text,
    reason text NOT NULL,
    payload bytea,
    received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE command_results (
    command_id text,
    gateway_id text NOT NULL,
    payload bytea NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
