-- Sites that embed the in-app feedback widget (/widget.js). The key is public (it is in the
-- page's HTML); what binds posts to a site is the list of origins its pages are served from,
-- checked on every request (CORS), and a rate limit per key.
CREATE TABLE widget_sites (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    site_key TEXT NOT NULL UNIQUE,
    -- JSON array of origins, e.g. ["https://shop.example", "https://m.shop.example"].
    origins TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);
