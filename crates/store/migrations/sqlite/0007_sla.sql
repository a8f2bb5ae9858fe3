-- SLA clocks (issue 5). The due times a ticket shows are kept on it for listing; the work the
-- scheduler must do is one row per moment, replaced whenever the ticket changes (in the same
-- transaction) and marked done in the transaction that applies it: each moment acts once.
ALTER TABLE tickets ADD COLUMN first_response_due_at BIGINT;
ALTER TABLE tickets ADD COLUMN resolution_due_at BIGINT;

CREATE TABLE sla_due (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    clock TEXT NOT NULL,
    -- warning, breach, or escalation:N (the N-th step of the chain after a breach)
    stage TEXT NOT NULL,
    cycle_start BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    -- The clock's priority: its escalation chain applies even after a raise.
    priority TEXT NOT NULL,
    done_at BIGINT
);
CREATE UNIQUE INDEX sla_due_once ON sla_due (ticket_id, clock, stage, cycle_start);
CREATE INDEX sla_due_pending ON sla_due (due_at) WHERE done_at IS NULL;

-- What people are told (escalations now; approvals and surveys later).
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ticket_id BIGINT REFERENCES tickets(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT
);
CREATE INDEX notifications_user ON notifications (user_id, id);
