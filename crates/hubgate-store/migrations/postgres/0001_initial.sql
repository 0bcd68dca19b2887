-- hubgate's schema on PostgreSQL, column for column the SQLite one (see
-- migrations/sqlite): times are Unix seconds, ids the prefixed text form, JSON
-- documents TEXT (the store reads and writes them whole). Integers are BIGINT
-- because the store reads every integer as i64.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,     -- normalised to lowercase on the way in
    password_hash TEXT NOT NULL,            -- Argon2id PHC string
    created_at    BIGINT NOT NULL
);

CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE integrations (
    id                            TEXT PRIMARY KEY,
    account_id                    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name                          TEXT NOT NULL,
    client_id                     TEXT NOT NULL UNIQUE,
    redirect_uris                 TEXT NOT NULL,   -- JSON array of exact strings
    scopes                        TEXT NOT NULL,   -- space-separated
    enabled                       BOOLEAN NOT NULL,
    refresh_on_client_credentials BOOLEAN NOT NULL,
    require_pkce                  BOOLEAN NOT NULL,
    access_token_ttl              BIGINT,
    refresh_token_ttl             BIGINT,
    created_by                    TEXT NOT NULL REFERENCES users (id),
    created_at                    BIGINT NOT NULL,
    updated_at                    BIGINT NOT NULL,
    -- Client secrets are sealed with the master key (XChaCha20-Poly1305),
    -- never stored in plain text; the guide lets admins view them again.
    sealed_secret                 BYTEA NOT NULL,
    sealed_previous_secret        BYTEA,
    previous_secret_expires_at    BIGINT,
    -- Bumped to cut off every token issued before (see hubgate_core::integration).
    token_epoch                   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX integrations_by_account ON integrations (account_id);

CREATE TABLE hubs (
    id         TEXT PRIMARY KEY,         -- UUIDv7 text: sorts by creation, the list cursor
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    serial     TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('hub', 'switch')),
    model      TEXT NOT NULL,
    firmware   TEXT NOT NULL,
    name       TEXT NOT NULL,
    room       TEXT,
    online     BOOLEAN NOT NULL,
    last_seen  BIGINT,
    state      TEXT NOT NULL,            -- JSON object: what the hub last reported
    desired    TEXT NOT NULL,            -- JSON object: what integrations asked for
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX hubs_by_account ON hubs (account_id, id);

CREATE TABLE signing_keys (
    id                 TEXT PRIMARY KEY,   -- the JWT kid
    public_key         BYTEA NOT NULL,      -- raw Ed25519, 32 bytes
    sealed_private_key BYTEA NOT NULL,      -- sealed with the master key
    created_at         BIGINT NOT NULL
);

-- One row per refresh-token family, written only when the family is first
-- refreshed or revoked: issuing a refresh token writes nothing (the token is
-- a sealed record). `generation` is the generation currently valid.
CREATE TABLE refresh_families (
    id             TEXT PRIMARY KEY,
    integration_id TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    generation     BIGINT NOT NULL,
    revoked        BOOLEAN NOT NULL,
    expires_at     BIGINT NOT NULL,   -- after this the row only takes space
    updated_at     BIGINT NOT NULL
);

-- Access tokens revoked one by one (RFC 7009), kept until they expire.
CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

-- Every change that affects token validity, in order. Nodes are notified of
-- new entries (LISTEN hubgate_changes) and also poll, to re-sync after a lost
-- connection.
CREATE TABLE changes (
    seq         BIGSERIAL PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('integration', 'family', 'access_token', 'signing_key')),
    subject     TEXT NOT NULL,
    valid_until BIGINT,               -- for revocations: when the entry stops mattering
    at          BIGINT NOT NULL
);

CREATE FUNCTION hubgate_notify_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('hubgate_changes', NEW.seq::text);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER changes_notify AFTER INSERT ON changes
    FOR EACH ROW EXECUTE FUNCTION hubgate_notify_change();
