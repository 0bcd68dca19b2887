-- The authorization-code flow: codes, consents, browser sessions.

-- Codes are stored only as SHA-256 hashes; a code is single use (used_at),
-- and a replay revokes the refresh-token family its first use issued.
CREATE TABLE authorization_codes (
    hash           BYTEA PRIMARY KEY,
    integration_id TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    code_challenge TEXT,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    family_id      TEXT
);

-- What a user approved for an integration in one account; asked again only
-- for scopes beyond it. Withdrawn from the console.
CREATE TABLE consents (
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    integration_id TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    scope          TEXT NOT NULL,
    granted_at     BIGINT NOT NULL,
    PRIMARY KEY (user_id, account_id, integration_id)
);

-- Browser sessions (login pages, console); the cookie holds a random value,
-- the table only its hash.
CREATE TABLE sessions (
    hash       BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
