-- Every mail message in or out, by Message-ID (or `sha256:<digest>` of the raw bytes when it has
-- none): threading follows it, a re-delivered message is answered from it, and the intake log
-- and its counts are read from it.
CREATE TABLE mail_messages (
    message_id TEXT PRIMARY KEY,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    -- The sender of an inbound message, the recipient of an outbound one (lower case).
    address TEXT NOT NULL,
    ticket_id BIGINT REFERENCES tickets(id) ON DELETE CASCADE,
    outcome TEXT NOT NULL CHECK (outcome IN ('created', 'threaded', 'ignored', 'quarantined', 'sent')),
    reason TEXT,
    path TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX mail_messages_ticket ON mail_messages (ticket_id);
CREATE INDEX mail_messages_outcome ON mail_messages (outcome, created_at);

-- Addresses that may add to a ticket by mail: its requester and whoever was copied.
CREATE TABLE ticket_participants (
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    PRIMARY KEY (ticket_id, address)
);
