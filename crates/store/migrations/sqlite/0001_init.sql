-- Times are milliseconds since the Unix epoch (UTC) on both backends, so every query is shared.
CREATE TABLE departments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_zh TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('customer', 'agent', 'supervisor', 'admin')),
    password_hash TEXT,
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

CREATE TABLE user_departments (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    department_id BIGINT NOT NULL REFERENCES departments(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, department_id)
);
CREATE INDEX user_departments_department ON user_departments (department_id);

CREATE TABLE categories (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_zh TEXT NOT NULL DEFAULT '',
    nature TEXT NOT NULL,
    handling_department_id BIGINT NOT NULL REFERENCES departments(id)
);

CREATE TABLE category_coordinators (
    category TEXT NOT NULL REFERENCES categories(code) ON DELETE CASCADE,
    department_id BIGINT NOT NULL REFERENCES departments(id),
    PRIMARY KEY (category, department_id)
);

CREATE TABLE ticket_counters (
    day TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    requester_id BIGINT REFERENCES users(id),
    -- Who registered it (the requester, or the agent who logged a call): staff keep seeing what they logged.
    created_by BIGINT REFERENCES users(id),
    requester_ip TEXT,
    requester_user_agent TEXT,
    title TEXT NOT NULL,
    title_generated BIGINT NOT NULL DEFAULT 0,
    description TEXT NOT NULL,
    evidence TEXT NOT NULL DEFAULT '[]',
    order_number TEXT,
    expected_resolution TEXT,
    region TEXT,
    category TEXT,
    nature TEXT,
    priority TEXT NOT NULL,
    severity TEXT NOT NULL,
    impact_scope TEXT NOT NULL,
    department_id BIGINT REFERENCES departments(id),
    assignee_id BIGINT REFERENCES users(id),
    status TEXT NOT NULL,
    duplicate_of BIGINT REFERENCES tickets(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    first_response_at BIGINT,
    accepted_at BIGINT,
    resolved_at BIGINT,
    closed_at BIGINT,
    version BIGINT NOT NULL DEFAULT 1
);
-- Listing is always newest first with id as tie-breaker; each filter has an index in that order.
CREATE INDEX tickets_created ON tickets (created_at DESC, id DESC);
CREATE INDEX tickets_status ON tickets (status, created_at DESC, id DESC);
CREATE INDEX tickets_department ON tickets (department_id, created_at DESC, id DESC);
CREATE INDEX tickets_assignee ON tickets (assignee_id, created_at DESC, id DESC);
CREATE INDEX tickets_requester ON tickets (requester_id, created_at DESC, id DESC);
CREATE INDEX tickets_category ON tickets (category, created_at DESC, id DESC);
CREATE INDEX tickets_priority ON tickets (priority, created_at DESC, id DESC);

CREATE TABLE ticket_coordinators (
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    department_id BIGINT NOT NULL REFERENCES departments(id),
    PRIMARY KEY (ticket_id, department_id)
);
CREATE INDEX ticket_coordinators_department ON ticket_coordinators (department_id, ticket_id);

-- Append-only: no code path updates or deletes rows here. It is also the audit log.
CREATE TABLE timeline (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    public BIGINT NOT NULL,
    actor_id BIGINT REFERENCES users(id),
    body TEXT,
    field TEXT,
    old_value TEXT,
    new_value TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX timeline_ticket ON timeline (ticket_id, id);

CREATE TABLE idempotency_keys (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
