-- What the service reports read of each ticket (MISSION §6), one row per ticket, so a report
-- scans one table by time instead of probing the timeline, SLA clocks, appeals, solutions and
-- surveys of every ticket in the period. Kept by a background pass (store `refresh_facts`)
-- from the marks below; a ticket with a mark is read live by the reports, so they are exact
-- whatever the pass's progress.
CREATE TABLE ticket_facts (
    id BIGINT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    requester_id BIGINT,
    created_by BIGINT,
    assignee_id BIGINT,
    department_id BIGINT,
    channel TEXT NOT NULL,
    category TEXT,
    region TEXT,
    status TEXT NOT NULL,
    first_response_at BIGINT,
    first_response_breached BIGINT NOT NULL,
    resolved_at BIGINT,
    resolution_breached BIGINT NOT NULL,
    stars BIGINT,
    appeals BIGINT NOT NULL,
    appeals_upheld BIGINT NOT NULL,
    appeals_revised BIGINT NOT NULL,
    customer_replies BIGINT NOT NULL,
    reopened BIGINT NOT NULL,
    assigned_at BIGINT,
    accepted_at BIGINT,
    proposed_at BIGINT,
    needs_approval BIGINT NOT NULL,
    decided_at BIGINT,
    resolution_due_at BIGINT
);
CREATE INDEX ticket_facts_created ON ticket_facts (created_at);

-- Tickets whose facts are missing or stale. Every write to a ticket appends to its timeline in
-- the same transaction, so the trigger cannot be forgotten by a new write path; `mark` counts
-- the writes, and the pass removes a ticket only if no write came after it read the ticket.
CREATE TABLE facts_pending (
    ticket_id BIGINT PRIMARY KEY,
    mark BIGINT NOT NULL
);

-- Once per statement: intake and imports append many entries in one INSERT.
CREATE FUNCTION timeline_marks_facts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO facts_pending (ticket_id, mark)
    SELECT DISTINCT ticket_id, 0 FROM appended ORDER BY ticket_id
    ON CONFLICT (ticket_id) DO UPDATE SET mark = facts_pending.mark + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER timeline_marks_facts AFTER INSERT ON timeline
REFERENCING NEW TABLE AS appended
FOR EACH STATEMENT EXECUTE FUNCTION timeline_marks_facts();

-- A ticket's own columns the reports read: a few writes change them with no entry (an SLA
-- re-plan moves the due time). Row-level, as PostgreSQL allows no transition table with a
-- column list.
CREATE FUNCTION ticket_marks_facts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO facts_pending (ticket_id, mark) VALUES (NEW.id, 0)
    ON CONFLICT (ticket_id) DO UPDATE SET mark = facts_pending.mark + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER ticket_marks_facts AFTER UPDATE OF channel, category, region, status, first_response_at, resolved_at, accepted_at, resolution_due_at, requester_id, created_by, assignee_id, department_id ON tickets
FOR EACH ROW EXECUTE FUNCTION ticket_marks_facts();

INSERT INTO facts_pending (ticket_id, mark) SELECT id, 0 FROM tickets;
