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
    UNIQUE (title, lang)
);
