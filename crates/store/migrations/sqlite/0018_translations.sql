-- Machine translations of tickets written in a language the agents do not read, beside the
-- original (which is never changed), from the configured provider (translation.url).
CREATE TABLE translations (
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    -- title or description
    field TEXT NOT NULL,
    -- the language translated into
    lang TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, field, lang)
);
