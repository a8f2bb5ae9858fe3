-- Personal data found in text that came in through a public channel (MISSION §7): the ticket
-- keeps the masked text everyone reads, search indexes and mails quote; the original of each
-- masked field stays here, read only through a logged reveal.
CREATE TABLE personal_data (
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    -- title, description or expected_resolution
    field TEXT NOT NULL,
    original TEXT NOT NULL,
    -- what was found, comma-separated (cn_mobile,email,...)
    kinds TEXT NOT NULL,
    PRIMARY KEY (ticket_id, field)
);

-- Who looked at which ticket and which personal data. Append-only: no API edits it and the
-- database refuses updates and deletes.
CREATE TABLE access_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor_id BIGINT NOT NULL REFERENCES users(id),
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    -- view or reveal
    action TEXT NOT NULL,
    -- for a reveal: the kinds of personal data shown
    kinds TEXT NOT NULL DEFAULT ''
);
CREATE INDEX access_log_ticket ON access_log (ticket_id, id);
CREATE INDEX access_log_actor ON access_log (actor_id, id);
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END;
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END;

-- Failed sign-ins in a row, and until when they locked the account: counted in the database so
-- that guesses spread over many addresses and instances add up.
ALTER TABLE users ADD COLUMN failed_logins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until BIGINT;

-- What an API token may do: all (what its user may) or read (GET requests only).
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'all';
