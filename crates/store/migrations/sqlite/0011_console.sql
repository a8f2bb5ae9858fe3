-- The web console: each user's time zone (dates on pages are shown in it; unset: the
-- installation's default), and canned responses agents pick from when replying.
ALTER TABLE users ADD COLUMN time_zone TEXT;

CREATE TABLE canned_responses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    -- zh or en: the console offers the ones in the ticket's language first.
    lang TEXT NOT NULL,
    body TEXT NOT NULL,
    -- Null: every department may use it.
    department_id BIGINT REFERENCES departments(id),
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    -- One title per language in a department (shared ones: null department).
    UNIQUE (department_id, title, lang)
);

-- The console lists open tickets newest first, or by deadline, under every view: partial
-- indexes over the open ones make that a short index walk at a million tickets instead of
-- reading and sorting half a million rows (BENCHMARKS.md, console pages). Queries name the
-- condition exactly as written here (`status NOT IN (...)` with these literals), which is
-- what lets the planner use a partial index.
CREATE INDEX tickets_open ON tickets (created_at DESC, id DESC)
    WHERE status NOT IN ('resolved', 'closed', 'duplicate');
CREATE INDEX tickets_open_due ON tickets (
    CASE WHEN first_response_due_at IS NULL AND resolution_due_at IS NULL THEN 1 ELSE 0 END,
    COALESCE(first_response_due_at, resolution_due_at), id)
    WHERE status NOT IN ('resolved', 'closed', 'duplicate');
-- The tickets merged into one (the workspace, the cluster filter of the API).
CREATE INDEX tickets_duplicate_of ON tickets (duplicate_of, created_at DESC, id DESC)
    WHERE duplicate_of IS NOT NULL;
