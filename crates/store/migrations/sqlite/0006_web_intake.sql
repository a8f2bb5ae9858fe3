-- The public web form: private follow links and uploaded evidence.

-- A follow link /t/{token} by the SHA-256 digest (hex) of its token; the token itself is shown
-- once, on the acknowledgement page, and never stored.
CREATE TABLE ticket_links (
    token_hash TEXT PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX ticket_links_ticket ON ticket_links (ticket_id);

-- Files are kept on disk by content hash (<attachments_dir>/ab/cd/<sha256>); the type is the one
-- sniffed from the bytes, never the one the client claimed.
CREATE TABLE attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    filename TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX attachments_ticket ON attachments (ticket_id);

-- The service account that registers anonymous web-form tickets: an agent without departments
-- or password, so it cannot log in and sees nothing.
INSERT INTO users (email, name, role, password_hash, active, created_at)
VALUES ('web-form@closedloop.local', 'Web form', 'agent', NULL, 1, 0)
ON CONFLICT (email) DO NOTHING;
