-- Requests to erase a person's data (MISSION §7): recorded with their deadline and completion,
-- worked by whichever instance claims them first (claimed_until is the lease).
CREATE TABLE erasure_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users(id),
    requested_by BIGINT NOT NULL REFERENCES users(id),
    requested_at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    claimed_until BIGINT,
    completed_at BIGINT,
    alerted_at BIGINT,
    -- JSON counts of what was erased
    summary TEXT
);
-- One open request per person: asking again returns it.
CREATE UNIQUE INDEX erasure_requests_open ON erasure_requests (user_id) WHERE completed_at IS NULL;
CREATE INDEX erasure_requests_due ON erasure_requests (due_at) WHERE completed_at IS NULL;

-- Retention (privacy.retention_months): when a closed ticket was anonymised.
ALTER TABLE tickets ADD COLUMN anonymised_at BIGINT;
CREATE INDEX tickets_retention ON tickets (closed_at) WHERE anonymised_at IS NULL AND closed_at IS NOT NULL;
