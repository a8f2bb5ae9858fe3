-- Requests refused for security reasons (MISSION §7): failed sign-ins, locked accounts, missing
-- CSRF tokens, read-only tokens used to write, and tickets or other records asked for outside the
-- caller's scope. Append-only like the access log.
CREATE TABLE security_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    -- the caller when known (a failed sign-in has none)
    actor_id BIGINT REFERENCES users(id),
    -- the error code answered: forbidden, not_found, token_scope, invalid_credentials, ...
    code TEXT NOT NULL,
    status BIGINT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL
);
CREATE INDEX security_events_actor ON security_events (actor_id, id);
CREATE TRIGGER security_events_no_update BEFORE UPDATE ON security_events
BEGIN SELECT RAISE(ABORT, 'security_events is append-only'); END;
CREATE TRIGGER security_events_no_delete BEFORE DELETE ON security_events
BEGIN SELECT RAISE(ABORT, 'security_events is append-only'); END;

-- Optional second factor for staff (RFC 6238 TOTP): the secret once confirmed, the one being
-- set up, and the last time step used (a code is accepted once).
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
