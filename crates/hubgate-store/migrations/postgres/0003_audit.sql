-- The audit log: who did what to an account's integrations and tokens.
-- Token events are written in batches (see the server's auditor).
CREATE TABLE audit_events (
    id         BIGSERIAL PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,   -- usr_…, client hgc_…, or "admin tool"
    action     TEXT NOT NULL,   -- integration.created, token.issued, …
    subject    TEXT NOT NULL,   -- usually a client_id
    detail     TEXT NOT NULL
);
CREATE INDEX audit_events_by_account ON audit_events (account_id, id);

ALTER TABLE integrations ADD COLUMN last_used_at BIGINT;
