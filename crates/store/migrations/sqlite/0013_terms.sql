-- What hot-issue analysis reads of each ticket (MISSION §6): triage's keywords (folded, best
-- first, space-separated) and sentiment score (thousandths, -1000 … 1000). A background pass
-- fills them in rather than intake, so creating a ticket costs what it did; NULL = not read
-- yet (new, imported, or its title changed since).
ALTER TABLE tickets ADD COLUMN keywords TEXT;
ALTER TABLE tickets ADD COLUMN sentiment BIGINT;
CREATE INDEX tickets_terms_pending ON tickets (id) WHERE keywords IS NULL;
