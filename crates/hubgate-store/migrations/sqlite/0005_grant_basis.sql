-- Grants die with their basis (see hubgate_core::grant::GrantRevocation).
--
-- Each integration has an acting user: the member its client_credentials
-- tokens act through. It starts as the creator and an owner may change it;
-- that user cannot leave the account, nor lose the role its scopes need,
-- while it acts for an integration.
ALTER TABLE integrations ADD COLUMN acting_user_id TEXT REFERENCES users (id);
UPDATE integrations SET acting_user_id = created_by;

-- Tokens acting for a user in an account, issued at or before `issued_before`,
-- are revoked: the user left the account or lost a role (integration_id '*'),
-- or withdrew their consent to one integration. Kept until the latest expiry
-- such a token can have.
CREATE TABLE grant_revocations (
    account_id     TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    issued_before  INTEGER NOT NULL,
    valid_until    INTEGER NOT NULL,
    PRIMARY KEY (account_id, user_id, integration_id)
);

-- Grant revocations join the change log: rebuilt, as SQLite cannot alter a CHECK.
CREATE TABLE changes_v3 (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL CHECK (kind IN ('integration', 'family', 'access_token', 'signing_key', 'hub', 'grant')),
    subject     TEXT NOT NULL,
    valid_until INTEGER,
    at          INTEGER NOT NULL
);
INSERT INTO changes_v3 (seq, kind, subject, valid_until, at) SELECT seq, kind, subject, valid_until, at FROM changes;
DROP TABLE changes;
ALTER TABLE changes_v3 RENAME TO changes;
