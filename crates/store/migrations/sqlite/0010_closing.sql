-- Closing the loop (MISSION §4-5): solutions and their approval, what the user is told
-- (notices, which take over from mail_outbox), appeals, satisfaction surveys, templates.

-- A solution offered on a ticket. The newest one is the ticket's answer; one that needs
-- approval keeps the ticket in solution_proposed until a supervisor (never its proposer)
-- decides.
CREATE TABLE solutions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    summary TEXT NOT NULL,
    compensation_kind TEXT,
    -- Cents, or days for a service extension.
    compensation_amount BIGINT,
    instructions TEXT,
    cause TEXT,
    improvement TEXT,
    apology BIGINT NOT NULL DEFAULT 0,
    -- Codes of the other departments the solution involves, comma-separated.
    departments TEXT NOT NULL DEFAULT '',
    expected_by BIGINT,
    proposed_by BIGINT NOT NULL REFERENCES users(id),
    proposed_at BIGINT NOT NULL,
    approval TEXT NOT NULL CHECK (approval IN ('not_required', 'pending', 'approved', 'rejected')),
    -- Why approval is needed, for the approver.
    approval_reasons TEXT NOT NULL DEFAULT '',
    decided_by BIGINT REFERENCES users(id),
    decided_at BIGINT,
    decision_note TEXT
);
CREATE INDEX solutions_ticket ON solutions (ticket_id, id);
CREATE INDEX solutions_pending ON solutions (proposed_at) WHERE approval = 'pending';

-- Everything the user is told, on every channel: queued in the transaction of the change that
-- calls for it, rendered from its event's template and delivered by whichever instance
-- claims it (a lease on next_attempt_at). Parameters captured when queued (the solution, the
-- checklist) are rendered as they were then; subject and body keep what was sent. The
-- Message-ID is fixed when queued: a resend after a crash carries the same id.
CREATE TABLE notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    -- The recipient when it is a known user (the in-app list is theirs).
    user_id BIGINT REFERENCES users(id),
    event TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'in_app', 'sms')),
    -- E-mail address (lower case) or phone number; empty for in-app notices.
    address TEXT NOT NULL,
    lang TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    -- Set for what is sent once per ticket and channel (the survey).
    once_key TEXT UNIQUE,
    -- Ours, without angle brackets (e-mail only).
    message_id TEXT UNIQUE,
    in_reply_to TEXT,
    subject TEXT,
    body TEXT,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    sent_at BIGINT,
    failed_at BIGINT,
    error TEXT,
    read_at BIGINT
);
INSERT INTO notices (id, ticket_id, event, channel, address, lang, message_id, in_reply_to,
                     created_at, attempts, next_attempt_at, sent_at, failed_at, error)
SELECT id, ticket_id, 'received', 'email', address, 'zh', message_id, in_reply_to,
       created_at, attempts, next_attempt_at, sent_at, failed_at, error FROM mail_outbox;
DROP TABLE mail_outbox;
CREATE INDEX notices_due ON notices (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
-- The per-address acknowledgement limit counts an address's recent rows.
CREATE INDEX notices_address ON notices (address, created_at);
CREATE INDEX notices_user ON notices (user_id, id);
CREATE INDEX notices_ticket ON notices (ticket_id, id);

-- Administrators' versions of the built-in templates.
CREATE TABLE notice_templates (
    event TEXT NOT NULL,
    lang TEXT NOT NULL,
    channel TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_by BIGINT REFERENCES users(id),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (event, lang, channel)
);

-- A user's objection to a result, and its review by a supervisor not involved before.
CREATE TABLE appeals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    -- NULL when made through the result link.
    opened_by BIGINT REFERENCES users(id),
    opened_at BIGINT NOT NULL,
    reviewer_id BIGINT REFERENCES users(id),
    outcome TEXT CHECK (outcome IN ('upheld', 'revised', 'escalated')),
    note TEXT,
    decided_by BIGINT REFERENCES users(id),
    decided_at BIGINT
);
CREATE INDEX appeals_ticket ON appeals (ticket_id, id);

-- One satisfaction answer per ticket.
CREATE TABLE surveys (
    ticket_id BIGINT PRIMARY KEY REFERENCES tickets(id) ON DELETE CASCADE,
    stars BIGINT NOT NULL CHECK (stars BETWEEN 1 AND 5),
    comment TEXT,
    answered_at BIGINT NOT NULL
);

-- Net Promoter questions (0-10), asked periodically of a sample of users; one row per question.
CREATE TABLE nps_surveys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The user's latest closed ticket, which the message names.
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    asked_at BIGINT NOT NULL,
    score BIGINT CHECK (score BETWEEN 0 AND 10),
    comment TEXT,
    answered_at BIGINT
);
CREATE INDEX nps_surveys_user ON nps_surveys (user_id, asked_at);
CREATE INDEX nps_surveys_answered ON nps_surveys (answered_at);

-- Installation-wide values every instance shares (the key that signs users' links).
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- How a user wants to hear from us. SMS only with consent.
ALTER TABLE users ADD COLUMN phone TEXT;
ALTER TABLE users ADD COLUMN lang TEXT;
ALTER TABLE users ADD COLUMN notify_email BIGINT NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN notify_sms BIGINT NOT NULL DEFAULT 0;
