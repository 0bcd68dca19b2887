-- One row rewritten by /readyz's write probe: readiness means writes commit.
CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL
);
