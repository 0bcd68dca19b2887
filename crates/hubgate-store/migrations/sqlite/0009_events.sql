-- Events for integrations (a transactional outbox): written in the same
-- transaction as the hub change that causes them, kept for a retention
-- window. `seq` orders them and is the `evt_` id.
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hub_id     TEXT NOT NULL,
    kind       TEXT NOT NULL,      -- hub.online, hub.state.reported, …
    at_ms      INTEGER NOT NULL,   -- unix milliseconds
    data       TEXT NOT NULL       -- JSON
);
CREATE INDEX events_by_account ON events (account_id, seq);
CREATE INDEX events_by_time ON events (at_ms);

-- An integration's webhook endpoints. The signing secret must be read back
-- to sign, so it is sealed with the master key, never hashed.
CREATE TABLE webhook_endpoints (
    id                     TEXT PRIMARY KEY,
    account_id             TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    integration_id         TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    url                    TEXT NOT NULL,
    event_types            TEXT NOT NULL,   -- ',hub.online,hub.offline,'; '' for all
    enabled                BOOLEAN NOT NULL,
    disabled_reason        TEXT,
    sealed_secret          BLOB NOT NULL,
    sealed_previous_secret BLOB,
    previous_until         INTEGER,
    failing_since          INTEGER,         -- the first failure since the last success
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_by_account ON webhook_endpoints (account_id);
CREATE INDEX webhook_endpoints_by_integration ON webhook_endpoints (integration_id);

-- One event to one endpoint: pending until delivered or given up. A node
-- takes a due delivery by setting `lease_until`; when it dies the lease
-- runs out and another takes it (at least once).
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_seq       INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    hub_id          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    lease_until_ms  INTEGER,
    response_status INTEGER,
    error           TEXT,
    latency_ms      INTEGER,
    created_at_ms   INTEGER NOT NULL,
    UNIQUE (endpoint_id, event_seq)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_ms) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_in_order ON webhook_deliveries (endpoint_id, hub_id, event_seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_seq);
