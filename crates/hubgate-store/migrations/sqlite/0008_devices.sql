-- Live hubs: a device credential (the SHA-256 digest of a random secret,
-- shown once), and a version for each of the two documents, so a device can
-- tell a newer desired state and a client a newer report.
ALTER TABLE hubs ADD COLUMN device_secret_digest BLOB;
ALTER TABLE hubs ADD COLUMN reported_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hubs ADD COLUMN desired_version INTEGER NOT NULL DEFAULT 0;
