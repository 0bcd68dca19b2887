-- Hub changes join the change log, so every node can cache hubs and drop a
-- cached hub when another process changes it. SQLite cannot alter a CHECK
-- constraint: the table is rebuilt with the same rows.
CREATE TABLE changes_v2 (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL CHECK (kind IN ('integration', 'family', 'access_token', 'signing_key', 'hub')),
    subject     TEXT NOT NULL,
    valid_until INTEGER,
    at          INTEGER NOT NULL
);
INSERT INTO changes_v2 (seq, kind, subject, valid_until, at) SELECT seq, kind, subject, valid_until, at FROM changes;
DROP TABLE changes;
ALTER TABLE changes_v2 RENAME TO changes;
