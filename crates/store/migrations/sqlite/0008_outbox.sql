-- Mail we owe (acknowledgements now; notifications later). A row is queued in the transaction
-- that decided to send it and sent by whichever instance claims it (a lease on
-- next_attempt_at), so an accepted message is never left unacknowledged by a crash. The
-- Message-ID is fixed when queued: a resend after a crash between the relay's "accepted" and
-- our "sent" carries the same id, which receivers' duplicate filters recognise.
CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('acknowledgement')),
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    -- Recipient, lower case.
    address TEXT NOT NULL,
    -- Ours, without angle brackets.
    message_id TEXT NOT NULL UNIQUE,
    -- The message this answers (without brackets), to thread it in the recipient's mailbox.
    in_reply_to TEXT,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    sent_at BIGINT,
    -- Given up after repeated failures; error says why.
    failed_at BIGINT,
    error TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
-- The per-address limit counts an address's recent rows.
CREATE INDEX mail_outbox_address ON mail_outbox (address, created_at);
