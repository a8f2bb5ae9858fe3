-- The knowledge base (MISSION §6): FAQ articles the public help centre shows before anyone
-- files feedback, and SOPs for staff, in Chinese or English.
CREATE TABLE kb_articles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- zh or en
    lang TEXT NOT NULL,
    -- faq (public once published) or sop (staff only)
    kind TEXT NOT NULL,
    -- draft or published
    status TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    category TEXT,
    -- The resolved ticket it was drafted from, if any.
    source_ticket_id BIGINT REFERENCES tickets(id),
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    published_at BIGINT
);
CREATE INDEX kb_articles_status ON kb_articles (status, lang, id);

-- Every saved version, append-only: the article's history, and the feed that keeps each
-- instance's search index in step with the articles.
CREATE TABLE kb_revisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id BIGINT NOT NULL REFERENCES kb_articles(id),
    actor_id BIGINT REFERENCES users(id),
    status TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX kb_revisions_article ON kb_revisions (article_id, id);

-- Self-service on the feedback form: a visit (a random id the page makes) was shown articles,
-- one of them answered the question, or the form was sent anyway. Once of each per visit.
CREATE TABLE kb_deflections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    visit TEXT NOT NULL,
    event TEXT NOT NULL CHECK (event IN ('shown', 'answered', 'submitted')),
    article_id BIGINT REFERENCES kb_articles(id),
    created_at BIGINT NOT NULL,
    UNIQUE (visit, event)
);
CREATE INDEX kb_deflections_time ON kb_deflections (created_at);
