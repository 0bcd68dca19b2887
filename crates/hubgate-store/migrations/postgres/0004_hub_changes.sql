-- Hub changes join the change log, so every node can cache hubs and drop a
-- cached hub when another node changes it.
ALTER TABLE changes DROP CONSTRAINT changes_kind_check;
ALTER TABLE changes ADD CONSTRAINT changes_kind_check
    CHECK (kind IN ('integration', 'family', 'access_token', 'signing_key', 'hub'));
