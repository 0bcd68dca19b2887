-- hubgate's schema. Times are Unix seconds (UTC); ids are the prefixed text
-- form (acc_…, usr_…); JSON documents are TEXT. The PostgreSQL schema mirrors
-- this one column for column.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,     -- normalised to lowercase on the way in
    password_hash TEXT NOT NULL,            -- Argon2id PHC string
    created_at    INTEGER NOT NULL
);

CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE memberships (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at INTEGER NOT NULL,
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
    access_token_ttl              INTEGER,
    refresh_token_ttl             INTEGER,
    created_by                    TEXT NOT NULL REFERENCES users (id),
    created_at                    INTEGER NOT NULL,
    updated_at                    INTEGER NOT NULL,
    -- Client secrets are sealed with the master key (XChaCha20-Poly1305),
    -- never stored in plain text; the guide lets admins view them again.
    sealed_secret                 BLOB NOT NULL,
    sealed_previous_secret        BLOB,
    previous_secret_expires_at    INTEGER,
    -- Bumped to cut off every token issued before (see hubgate_core::integration).
    token_epoch                   INTEGER NOT NULL DEFAULT 0
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
    last_seen  INTEGER,
    state      TEXT NOT NULL,            -- JSON object: what the hub last reported
    desired    TEXT NOT NULL,            -- JSON object: what integrations asked for
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX hubs_by_account ON hubs (account_id, id);

CREATE TABLE signing_keys (
    id                 TEXT PRIMARY KEY,   -- the JWT kid
    public_key         BLOB NOT NULL,      -- raw Ed25519, 32 bytes
    sealed_private_key BLOB NOT NULL,      -- sealed with the master key
    created_at         INTEGER NOT NULL
);

-- One row per refresh-token family, written only when the family is first
-- refreshed or revoked: issuing a refresh token writes nothing (the token is
-- a sealed record). `generation` is the generation currently valid.
CREATE TABLE refresh_families (
    id             TEXT PRIMARY KEY,
    integration_id TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    generation     INTEGER NOT NULL,
    revoked        BOOLEAN NOT NULL,
    expires_at     INTEGER NOT NULL,   -- after this the row only takes space
    updated_at     INTEGER NOT NULL
);

-- Access tokens revoked one by one (RFC 7009), kept until they expire.
CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

-- Every change that affects token validity, in order. Nodes poll it (SQLite)
-- or are notified (PostgreSQL) and apply it to their in-memory view.
CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL CHECK (kind IN ('integration', 'family', 'access_token', 'signing_key')),
    subject     TEXT NOT NULL,
    valid_until INTEGER,               -- for revocations: when the entry stops mattering
    at          INTEGER NOT NULL
);
