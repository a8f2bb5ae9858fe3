-- Signed webhook intake: chat bots, social-monitoring tools, hotline/CRM systems.
CREATE TABLE webhook_sources (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The slug in /api/v1/intake/webhook/{name}.
    name TEXT NOT NULL UNIQUE,
    -- Channel of the tickets it opens (chat, social, phone, ...).
    channel TEXT NOT NULL,
    -- The HMAC key itself. Unlike API tokens it cannot be stored as a digest: verifying an
    -- HMAC-SHA256 signature means computing it again, which needs the key, not a hash of it.
    secret TEXT NOT NULL,
    -- The service account (an agent without departments) that is created_by of its tickets.
    user_id BIGINT NOT NULL REFERENCES users(id),
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

-- A conversation in the source system and the ticket its messages go to. generation counts the
-- tickets the thread has had: a message to a closed ticket opens the next one.
CREATE TABLE webhook_threads (
    source_id BIGINT NOT NULL REFERENCES webhook_sources(id) ON DELETE CASCADE,
    thread TEXT NOT NULL,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    generation BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (source_id, thread)
);
CREATE INDEX webhook_threads_ticket ON webhook_threads (ticket_id);

-- Every accepted message by the source's own id, so a redelivery is answered, not written again.
-- Keyed within its thread: some systems number messages per conversation, and a redelivery
-- always names the same thread, so this loses nothing and never mistakes one message for another.
CREATE TABLE webhook_messages (
    source_id BIGINT NOT NULL REFERENCES webhook_sources(id) ON DELETE CASCADE,
    thread TEXT NOT NULL,
    message_id TEXT NOT NULL,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    threaded BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (source_id, thread, message_id)
);
