-- A one-time password (set by an admin or the operator) must be replaced at
-- the next login.
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;

-- The management API filters an account's audit log by action.
CREATE INDEX audit_events_by_action ON audit_events (account_id, action, id);
