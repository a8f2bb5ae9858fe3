-- Every correction an agent makes to what triage decided, as a labelled example to learn from.
CREATE TABLE triage_examples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('category', 'priority', 'duplicate')),
    label TEXT NOT NULL,
    text TEXT NOT NULL,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX triage_examples_kind ON triage_examples (kind, id);

-- Trained models, newest last; every instance switches to the newest without a restart.
CREATE TABLE triage_models (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- base64 of the engine's own serialisation (closedloop_triage::Models::to_bytes)
    model TEXT NOT NULL,
    -- what retraining measured on its held-out split (JSON)
    report TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
