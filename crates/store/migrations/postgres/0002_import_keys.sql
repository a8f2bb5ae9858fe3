-- One row per imported record, keyed by the record's own id (or a digest of its content), so
-- running the same import again creates nothing twice.
CREATE TABLE import_keys (
    key TEXT PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
